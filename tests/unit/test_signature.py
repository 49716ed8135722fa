"""Webhook signatures: the shared test vector, header forms, secret rotation and SHA1 opt-in."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.signature import SHA1_HEADER, SHA256_HEADER, SignatureError, sign, verify

# The test vector from shared/flexport/README.md ("Delivery").
SECRET = "test_flexport_secret"
BODY = b'{"_object":"/event","id":1,"type":"/shipment_leg#departed"}'
SHA256_HEX = "117c41b0a04a1ef1a1e84afd26f48e693b7d5e80a3a654734148690025238b6d"
SHA1_HEX = "4a5dba05a7669773bb72c64044f4918bc696ab3b"


def test_sign_reproduces_the_sha256_test_vector() -> None:
    assert sign(BODY, SECRET) == f"sha256={SHA256_HEX}"


def test_sign_reproduces_the_sha1_test_vector() -> None:
    assert sign(BODY, SECRET, algorithm="sha1") == f"sha1={SHA1_HEX}"


@pytest.mark.parametrize(
    "value",
    [
        f"sha256={SHA256_HEX}",
        SHA256_HEX,
        SHA256_HEX.upper(),
        f"sha256={SHA256_HEX.upper()}",
        f"  sha256={SHA256_HEX}  ",
    ],
    ids=["prefixed", "bare", "uppercase", "prefixed-uppercase", "padded"],
)
def test_verify_accepts_every_form_of_the_sha256_header(value: str) -> None:
    assert verify(BODY, {SHA256_HEADER: value}, [SECRET]) == "sha256"


def test_verify_rejects_a_tampered_body() -> None:
    tampered = BODY.replace(b"departed", b"arrived")
    with pytest.raises(SignatureError, match="does not match"):
        verify(tampered, {SHA256_HEADER: SHA256_HEX}, [SECRET])


def test_verify_rejects_a_body_with_a_trailing_newline() -> None:
    # The exact bytes are signed: a proxy adding a newline breaks the signature.
    with pytest.raises(SignatureError):
        verify(BODY + b"\n", {SHA256_HEADER: SHA256_HEX}, [SECRET])


def test_verify_rejects_a_wrong_secret() -> None:
    with pytest.raises(SignatureError):
        verify(BODY, {SHA256_HEADER: SHA256_HEX}, ["not_the_secret"])


def test_verify_rejects_a_delivery_without_a_signature_header() -> None:
    with pytest.raises(SignatureError, match="missing"):
        verify(BODY, {"content-type": "application/json"}, [SECRET])


def test_verify_rejects_everything_when_no_secret_is_configured() -> None:
    with pytest.raises(SignatureError, match="no webhook secret"):
        verify(BODY, {SHA256_HEADER: SHA256_HEX}, [])


@pytest.mark.parametrize("value", ["", "sha256=", "sha256", "sha1=" + SHA1_HEX])
def test_verify_rejects_empty_or_misnamed_values(value: str) -> None:
    with pytest.raises(SignatureError):
        verify(BODY, {SHA256_HEADER: value}, [SECRET])


class TestRotation:
    """During a rotation both secrets are configured; afterwards only the new one."""

    OLD = "old_secret"
    NEW = "new_secret"

    @pytest.mark.parametrize("signed_with", [OLD, NEW])
    def test_either_configured_secret_verifies(self, signed_with: str) -> None:
        headers = {SHA256_HEADER: sign(BODY, signed_with)}
        assert verify(BODY, headers, (self.OLD, self.NEW)) == "sha256"

    def test_a_removed_secret_no_longer_verifies(self) -> None:
        headers = {SHA256_HEADER: sign(BODY, self.OLD)}
        with pytest.raises(SignatureError):
            verify(BODY, headers, (self.NEW,))


class TestLegacySha1:
    def test_accepted_when_enabled(self) -> None:
        headers = {SHA1_HEADER: f"sha1={SHA1_HEX}"}
        assert verify(BODY, headers, [SECRET], accept_sha1=True) == "sha1"

    def test_bare_hex_accepted_when_enabled(self) -> None:
        assert verify(BODY, {SHA1_HEADER: SHA1_HEX}, [SECRET], accept_sha1=True) == "sha1"

    def test_rejected_by_default_even_when_correct(self) -> None:
        with pytest.raises(SignatureError, match="SHA1"):
            verify(BODY, {SHA1_HEADER: f"sha1={SHA1_HEX}"}, [SECRET])

    def test_rejected_when_disabled_even_when_correct(self) -> None:
        with pytest.raises(SignatureError):
            verify(BODY, {SHA1_HEADER: SHA1_HEX}, [SECRET], accept_sha1=False)

    def test_a_wrong_sha1_is_rejected_when_enabled(self) -> None:
        with pytest.raises(SignatureError):
            verify(BODY, {SHA1_HEADER: "0" * 40}, [SECRET], accept_sha1=True)

    def test_a_correct_sha1_does_not_rescue_a_wrong_sha256(self) -> None:
        headers = {SHA256_HEADER: "0" * 64, SHA1_HEADER: SHA1_HEX}
        with pytest.raises(SignatureError):
            verify(BODY, headers, [SECRET], accept_sha1=True)

    def test_sha256_is_preferred_when_both_are_sent(self) -> None:
        headers = {SHA256_HEADER: SHA256_HEX, SHA1_HEADER: SHA1_HEX}
        assert verify(BODY, headers, [SECRET], accept_sha1=True) == "sha256"


@pytest.mark.parametrize(
    "value",
    ["sha256=\u00e9\u00e8\u00ff", "\u2603" * 64, "sha256=\udcff" + "a" * 63, "\x00\x01\x02", "é"],
    ids=["latin-1", "snowman", "lone-surrogate", "control-chars", "short"],
)
def test_a_garbage_header_value_is_a_signature_error(value: str) -> None:
    with pytest.raises(SignatureError):
        verify(BODY, {SHA256_HEADER: value}, [SECRET])


@settings(database=None, deadline=None)
@given(body=st.binary(min_size=1, max_size=512), secret=st.text(max_size=64), data=st.data())
def test_any_signed_body_verifies_and_any_flipped_byte_does_not(
    body: bytes, secret: str, data: st.DataObject
) -> None:
    assert verify(body, {SHA256_HEADER: sign(body, secret)}, [secret]) == "sha256"

    index = data.draw(st.integers(min_value=0, max_value=len(body) - 1), label="index")
    flip = data.draw(st.integers(min_value=1, max_value=255), label="xor")
    tampered = bytearray(body)
    tampered[index] ^= flip
    with pytest.raises(SignatureError):
        verify(bytes(tampered), {SHA256_HEADER: sign(body, secret)}, [secret])


class TestSha256InTheLegacyHeader:
    """`X-Hub-Signature: sha256=<hex>`, as a widely copied Flexport integration guide sends it."""

    def test_verifies_without_enabling_sha1(self) -> None:
        assert verify(BODY, {SHA1_HEADER: f"sha256={SHA256_HEX}"}, [SECRET]) == "sha256"

    def test_a_wrong_sha256_there_is_rejected(self) -> None:
        with pytest.raises(SignatureError, match="X-Hub-Signature does not match"):
            verify(BODY, {SHA1_HEADER: f"sha256={'0' * 64}"}, [SECRET], accept_sha1=True)

    @pytest.mark.parametrize("value", [f"sha1={SHA1_HEX}", SHA1_HEX])
    def test_its_sha1_forms_still_need_the_opt_in(self, value: str) -> None:
        with pytest.raises(SignatureError, match="SHA1 signature"):
            verify(BODY, {SHA1_HEADER: value}, [SECRET])
        assert verify(BODY, {SHA1_HEADER: value}, [SECRET], accept_sha1=True) == "sha1"

    def test_a_bare_sha256_digest_there_is_not_taken_for_sha256(self) -> None:
        # Without a prefix the legacy header means SHA1: a bare 64-hex value never verifies.
        with pytest.raises(SignatureError):
            verify(BODY, {SHA1_HEADER: SHA256_HEX}, [SECRET], accept_sha1=True)


@pytest.mark.parametrize(
    ("headers", "received", "expected"),
    [
        ({SHA256_HEADER: "sha256=" + "0" * 64}, "received sha256=<64 hex digits>", "sha256=<64"),
        ({SHA256_HEADER: "not a signature"}, "received <15 characters>", "HMAC-SHA256"),
        ({SHA1_HEADER: SHA1_HEX}, "(<40 hex digits>)", "X-Hub-Signature-256"),
        ({}, "missing X-Hub-Signature-256", "sha256=<64 hex digits>"),
    ],
)
def test_a_refusal_says_what_was_received_and_what_is_expected(
    headers: dict[str, str], received: str, expected: str
) -> None:
    with pytest.raises(SignatureError) as refused:
        verify(BODY, headers, [SECRET])

    assert received in str(refused.value)
    assert expected in str(refused.value)
    assert SECRET not in str(refused.value)
