"""Flexport webhook signatures: HMAC of the raw body, compared in constant time.

Pure standard library. `X-Hub-Signature-256` carries HMAC-SHA256 as `sha256=<hex>` or bare hex;
the legacy `X-Hub-Signature` carries HMAC-SHA1 (honoured only when enabled) or, prefixed
`sha256=`, HMAC-SHA256. Any one of
several secrets verifies, so a secret can be rotated without dropping deliveries.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping, Sequence

SHA256_HEADER = "x-hub-signature-256"
SHA1_HEADER = "x-hub-signature"


class SignatureError(Exception):
    """The delivery is not signed by any of our secrets."""


def sign(body: bytes, secret: str, *, algorithm: str = "sha256") -> str:
    """The header value Flexport sends for `body`: `<algorithm>=<lowercase hex>`."""
    digest = hmac.new(secret.encode("utf-8"), body, algorithm).hexdigest()
    return f"{algorithm}={digest}"


_HEX_LENGTH = {"sha256": 64, "sha1": 40}


def _form(value: str) -> str:
    """How a received value looks, without repeating it: `sha256=<64 hex>`, `<40 hex>`, ..."""
    algorithm, sep, digest = value.strip().partition("=")
    shown = f"{algorithm.lower()}=" if sep else ""
    digest = digest if sep else algorithm
    is_hex = bool(digest) and all(c in "0123456789abcdefABCDEF" for c in digest)
    return f"{shown}<{len(digest)} {'hex digits' if is_hex else 'characters'}>"


def _claimed(value: str) -> tuple[str | None, bytes]:
    """The algorithm a value's prefix names (`None` for a bare value) and its digest as ASCII."""
    value = value.strip()
    algorithm: str | None = None
    for name in _HEX_LENGTH:
        prefix = f"{name}="
        if value[: len(prefix)].lower() == prefix:
            algorithm, value = name, value[len(prefix) :]
            break
    # Comparing ASCII bytes keeps compare_digest usable on any input (it rejects non-ASCII str).
    return algorithm, value.lower().encode("utf-8", errors="replace")


def _matches(body: bytes, digest: bytes, secrets: Sequence[str], algorithm: str) -> bool:
    matched = False
    # Check every secret, so the time taken does not reveal which one matched.
    for secret in secrets:
        expected = hmac.new(secret.encode("utf-8"), body, algorithm).hexdigest().encode("ascii")
        matched |= hmac.compare_digest(expected, digest)
    return matched


def verify(
    body: bytes,
    headers: Mapping[str, str],
    secrets: Sequence[str],
    *,
    accept_sha1: bool = False,
) -> str:
    """Verify `body` against the signature headers; return the algorithm that verified it.

    `X-Hub-Signature-256` takes `sha256=<hex>` or bare hex. `X-Hub-Signature` takes
    `sha256=<hex>` too (the prefix names the algorithm, so it is unambiguous; a widely copied
    integration guide sends it so), while its legacy SHA1 forms (`sha1=<hex>`, bare hex) count
    only with `accept_sha1`. `headers` must be case-insensitive or use lowercase names. Raises
    `SignatureError` saying what was received and what is expected.
    """
    if not secrets:
        raise SignatureError("no webhook secret is configured")
    sha256 = headers.get(SHA256_HEADER)
    if sha256 is not None:
        named, digest = _claimed(sha256)
        if named in (None, "sha256") and _matches(body, digest, secrets, "sha256"):
            return "sha256"
        raise SignatureError(
            f"X-Hub-Signature-256 does not match the body: received {_form(sha256)}, expected "
            "sha256=<64 hex digits>, the HMAC-SHA256 of the raw body under the endpoint's secret"
        )
    legacy = headers.get(SHA1_HEADER)
    if legacy is None:
        raise SignatureError(
            "missing X-Hub-Signature-256 header: expected sha256=<64 hex digits>, the "
            "HMAC-SHA256 of the raw body under the endpoint's secret"
        )
    named, digest = _claimed(legacy)
    if named == "sha256":
        if _matches(body, digest, secrets, "sha256"):
            return "sha256"
        raise SignatureError(
            f"X-Hub-Signature does not match the body: received {_form(legacy)}, expected "
            "sha256=<64 hex digits>, the HMAC-SHA256 of the raw body under the endpoint's secret"
        )
    if not accept_sha1:
        raise SignatureError(
            f"X-Hub-Signature holds a SHA1 signature ({_form(legacy)}), which is not accepted: "
            "send X-Hub-Signature-256 (or X-Hub-Signature: sha256=<64 hex digits>)"
        )
    if _matches(body, digest, secrets, "sha1"):
        return "sha1"
    raise SignatureError(
        f"X-Hub-Signature does not match the body: received {_form(legacy)}, expected "
        "sha1=<40 hex digits>, the HMAC-SHA1 of the raw body under the endpoint's secret"
    )
