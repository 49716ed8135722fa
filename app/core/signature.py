"""Flexport webhook signatures: HMAC of the raw body, compared in constant time.

Pure standard library. `X-Hub-Signature-256` carries HMAC-SHA256 as `sha256=<hex>` or bare hex;
the legacy `X-Hub-Signature` carries HMAC-SHA1 and is honoured only when enabled. Any one of
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


def _claimed_digest(value: str, algorithm: str) -> bytes:
    value = value.strip()
    prefix = f"{algorithm}="
    if value[: len(prefix)].lower() == prefix:
        value = value[len(prefix) :]
    # Comparing ASCII bytes keeps compare_digest usable on any input (it rejects non-ASCII str).
    return value.lower().encode("utf-8", errors="replace")


def _matches(body: bytes, claimed: str, secrets: Sequence[str], algorithm: str) -> bool:
    digest = _claimed_digest(claimed, algorithm)
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

    `headers` must be case-insensitive or use lowercase names. Raises `SignatureError` when no
    usable signature header is present or none of `secrets` produced it.
    """
    if not secrets:
        raise SignatureError("no webhook secret is configured")
    sha256 = headers.get(SHA256_HEADER)
    if sha256 is not None:
        if _matches(body, sha256, secrets, "sha256"):
            return "sha256"
        raise SignatureError("X-Hub-Signature-256 does not match the body")
    sha1 = headers.get(SHA1_HEADER)
    if sha1 is not None:
        if not accept_sha1:
            raise SignatureError("X-Hub-Signature (SHA1) is not accepted; send X-Hub-Signature-256")
        if _matches(body, sha1, secrets, "sha1"):
            return "sha1"
        raise SignatureError("X-Hub-Signature does not match the body")
    raise SignatureError("missing X-Hub-Signature-256 header")
