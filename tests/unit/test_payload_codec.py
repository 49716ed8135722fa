"""The payload codec (M6): what flexhook hands to Temporal is AES-GCM ciphertext, keys rotate
by id, malformed keys stop start-up in one line, and histories written before still replay."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.converter import DataConverter
from temporalio.worker import Replayer

from app.payload_codec import (
    ENCODING,
    KEY_ID,
    EncryptionCodec,
    PayloadDecryptError,
    data_converter,
)
from app.settings import ConfigError, load_settings
from app.temporal_client import connect_options
from tests.helpers import read_sample
from tests.unit.test_workflow_replay import REGISTERED, history_files, load_history
from workflows.types import EventInput

K1, K2 = os.urandom(32), os.urandom(32)


def _b64(key: bytes) -> str:
    return base64.b64encode(key).decode("ascii")


def _event_payload() -> Payload:
    body = read_sample("06").decode("utf-8")
    converter = DataConverter.default.payload_converter
    [payload] = converter.to_payloads([EventInput("evt-1", body, "2026-03-01T00:00:00+00:00")])
    return payload


async def test_an_event_body_leaves_as_ciphertext_naming_its_key() -> None:
    plain = _event_payload()

    [sealed] = await EncryptionCodec((("k1", K1),)).encode([plain])

    assert sealed.metadata["encoding"] == ENCODING
    assert sealed.metadata[KEY_ID] == b"k1"
    assert b"shipment" not in sealed.data and b"evt-1" not in sealed.data
    assert await EncryptionCodec((("k1", K1),)).decode([sealed]) == [plain]


async def test_the_first_key_encrypts_and_every_key_decrypts() -> None:
    plain = _event_payload()
    [old] = await EncryptionCodec((("k1", K1),)).encode([plain])
    rotated = EncryptionCodec((("k2", K2), ("k1", K1)))

    [new] = await rotated.encode([plain])

    assert new.metadata[KEY_ID] == b"k2"
    assert await rotated.decode([old, new]) == [plain, plain]


async def test_a_missing_key_or_an_altered_payload_is_refused() -> None:
    [sealed] = await EncryptionCodec((("k1", K1),)).encode([_event_payload()])
    altered = Payload()
    altered.CopyFrom(sealed)
    altered.data = sealed.data[:-1] + bytes([sealed.data[-1] ^ 1])

    with pytest.raises(PayloadDecryptError, match="'k1', which FLEXHOOK_PAYLOAD_KEYS lacks"):
        await EncryptionCodec((("k2", K2),)).decode([sealed])
    with pytest.raises(PayloadDecryptError, match="does not decrypt"):
        await EncryptionCodec((("k1", K1),)).decode([altered])


async def test_a_payload_written_before_encryption_passes_through() -> None:
    plain = _event_payload()

    assert await EncryptionCodec((("k1", K1),)).decode([plain]) == [plain]


def test_without_keys_nothing_is_encrypted() -> None:
    assert data_converter(()) is DataConverter.default
    assert "data_converter" not in connect_options(address="localhost:7233", namespace="default")
    options = connect_options(
        address="localhost:7233", namespace="default", payload_keys=(("k1", K1),)
    )
    assert isinstance(options["data_converter"].payload_codec, EncryptionCodec)


def test_keys_are_read_with_their_ids_the_first_encrypting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    urlsafe = base64.urlsafe_b64encode(K1).decode("ascii")
    monkeypatch.setenv("FLEXHOOK_PAYLOAD_KEYS", f"k2:{_b64(K2)}, k1:{urlsafe}")

    assert load_settings().payload_keys == (("k2", K2), ("k1", K1))


@pytest.mark.parametrize(
    ("value", "complaint"),
    [
        ("k1:" + _b64(os.urandom(16)), "key 'k1' is not the base64 of 32 bytes"),
        ("k1:not base64!", "key 'k1' is not the base64 of 32 bytes"),
        (_b64(K1), "entry 1 needs an id"),
        (f"k1:{_b64(K1)},k1:{_b64(K2)}", "key id 'k1' appears twice"),
    ],
    ids=["short", "not-base64", "no-id", "twice"],
)
def test_a_malformed_key_stops_start_up_in_one_line_without_the_key(
    monkeypatch: pytest.MonkeyPatch, value: str, complaint: str
) -> None:
    monkeypatch.setenv("FLEXHOOK_PAYLOAD_KEYS", value)

    with pytest.raises(ConfigError) as refused:
        load_settings()

    message = str(refused.value)
    assert message.startswith("invalid configuration: FLEXHOOK_PAYLOAD_KEYS:")
    assert complaint in message and "\n" not in message
    assert _b64(K1) not in message and _b64(K2) not in message


@pytest.mark.parametrize("path", history_files(), ids=lambda p: p.stem)
async def test_a_history_recorded_before_encryption_replays_with_the_codec_on(
    path: Path,
) -> None:
    replayer = Replayer(
        workflows=REGISTERED, data_converter=data_converter((("k2", K2), ("k1", K1)))
    )

    await replayer.replay_workflow(load_history(path))
