"""AES-GCM encryption of everything flexhook hands to Temporal: workflow inputs (the event
bodies), results, signals and activity arguments reach Temporal's histories as ciphertext.

Keys come from `FLEXHOOK_PAYLOAD_KEYS` (`app.settings`), each with an id: the first encrypts,
every one decrypts, so a key is rotated by putting the new one first and dropping the old one
once no open run or kept history needs it. Each encrypted payload names its key id in its
metadata. A payload without this codec's encoding passes through untouched on decode, so the
histories written before encryption was turned on still replay and run.

`app.temporal_client.connect` gives every client this codec; `app.web.codec` serves it to the
Temporal UI and CLI (`--codec-endpoint`) for people with the operator role, and
`app.dashboard.codec` to operators signed in to the dashboard.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterable, Sequence
from dataclasses import replace
from typing import Any, Literal

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.converter import (
    DataConverter,
    DefaultFailureConverterWithEncodedAttributes,
    PayloadCodec,
)

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
NONCE_BYTES = 12
# A codec request's body: Temporal keeps payloads under 2 MB each, a history view sends a few.
MAX_CODEC_BODY = 8 * 1024 * 1024

# (key id, 32-byte key), the encrypting key first; `app.settings` parses them.
PayloadKeys = tuple[tuple[str, bytes], ...]


class PayloadDecryptError(ValueError):
    """An encrypted payload names a key this process lacks, or does not decrypt with it."""


class MalformedPayloads(ValueError):
    """A codec request's body is not Temporal's `Payloads` in proto3 JSON."""


class PayloadsTooLarge(ValueError):
    """A codec request's body is over `MAX_CODEC_BODY`."""


class EncryptionCodec(PayloadCodec):
    """AES-256-GCM over each whole serialized payload, with a random 96-bit nonce and the key
    id as associated data."""

    def __init__(self, keys: PayloadKeys) -> None:
        if not keys:
            raise ValueError("an encryption codec needs at least one key")
        self._encrypting_id = keys[0][0]
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys}

    @property
    def key_id(self) -> str:
        """The id of the key new payloads are encrypted with."""
        return self._encrypting_id

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.encrypt(payload) for payload in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.decrypt(payload) for payload in payloads]

    def encrypt(self, payload: Payload) -> Payload:
        key_id = self._encrypting_id
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[key_id].encrypt(
            nonce, payload.SerializeToString(), key_id.encode("utf-8")
        )
        return Payload(
            metadata={"encoding": ENCODING, KEY_ID: key_id.encode("utf-8")},
            data=nonce + sealed,
        )

    def decrypt(self, payload: Payload) -> Payload:
        """The plain payload; one this codec did not encrypt is returned as it is."""
        if payload.metadata.get("encoding") != ENCODING:
            return payload
        key_id = payload.metadata.get(KEY_ID, b"").decode("utf-8", "replace")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise PayloadDecryptError(
                f"payload encrypted with key id {key_id!r}, which FLEXHOOK_PAYLOAD_KEYS lacks"
            )
        nonce, sealed = payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:]
        try:
            plain = cipher.decrypt(nonce, sealed, key_id.encode("utf-8"))
        except InvalidTag:
            raise PayloadDecryptError(
                f"payload does not decrypt with key id {key_id!r}: altered or another key"
            ) from None
        decoded = Payload()
        decoded.ParseFromString(plain)
        return decoded


def codec(keys: PayloadKeys) -> EncryptionCodec | None:
    """The codec of `keys`; None (no encryption) without keys."""
    return EncryptionCodec(keys) if keys else None


def data_converter(keys: PayloadKeys) -> DataConverter:
    """Temporal's default converter, encrypting with `keys` when there are any: payloads, and
    failure messages and stack traces too (they can quote an event's values)."""
    encryption = codec(keys)
    if encryption is None:
        return DataConverter.default
    return replace(
        DataConverter.default,
        payload_codec=encryption,
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


async def read_limited(chunks: AsyncIterable[bytes], *, limit: int = MAX_CODEC_BODY) -> bytes:
    """A request body from its chunks; `PayloadsTooLarge` past `limit` bytes."""
    body, size = [], 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise PayloadsTooLarge(f"at most {limit} bytes")
        body.append(chunk)
    return b"".join(body)


async def convert(
    codec: PayloadCodec | None, body: bytes, *, direction: Literal["encode", "decode"]
) -> dict[str, Any]:
    """One request of Temporal's codec server protocol: `{"payloads": [...]}` in proto3 JSON
    (bytes as base64) in and out, encoded or decoded by `codec` (None: as given). Raises
    `MalformedPayloads` for a body of another shape, `PayloadDecryptError` for one that does not
    decrypt."""
    try:
        given = json_format.Parse(body, Payloads())
    except (json_format.ParseError, ValueError, TypeError, RecursionError) as exc:
        raise MalformedPayloads(
            f"not Temporal Payloads in proto3 JSON ({type(exc).__name__})"
        ) from None
    payloads: Sequence[Payload] = list(given.payloads)
    if codec is not None:
        converted = codec.encode if direction == "encode" else codec.decode
        payloads = await converted(payloads)
    return {"payloads": [json_format.MessageToDict(payload) for payload in payloads]}
