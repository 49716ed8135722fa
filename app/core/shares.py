"""Share links: what a tracking link's token is, what is kept of it, and how long it lives.

A share link is a row (`app.store.models.Share`), so that it can be revoked: its token is 256
random bits shown once, and only the token's SHA-256 is kept, like an API token's. The one link
per shipment that alerts carry is the exception to "shown once": every alert must print it again,
so its token is derived (HMAC-SHA256) from a server key and the row's random nonce, and the row
keeps only the digest as for any other link. Whoever reads the database learns no usable token;
whoever holds the key re-derives the alerts' link, and a changed key simply means a new one.

How long a link lives (`ShareLifetime`): `expiry` after it is created or renewed while the
shipment is under way, `after_delivery` once it is delivered, and never past `max_age` after it
was created, however often it is renewed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

# The path a share link opens: `<public url>/track/<token>`.
TRACK_PATH: Final = "/track/"
# 32 random bytes, URL-safe base64: 43 characters.
TOKEN_BYTES: Final = 32
TOKEN_LENGTH: Final = 43
_ALERT_LABEL: Final = b"flexhook alert share link v1\x00"


class SharePurpose(StrEnum):
    LINK = "link"  # made by a person, for whoever they give it to
    ALERTS = "alerts"  # the one link per shipment that alerts carry


class ShareState(StrEnum):
    ACTIVE = "active"
    REVOKED = "revoked"
    EXPIRED = "expired"


@dataclass(frozen=True)
class ShareLifetime:
    expiry: timedelta = timedelta(days=90)
    after_delivery: timedelta = timedelta(days=30)
    max_age: timedelta = timedelta(days=365)


def new_share_token() -> str:
    """A fresh random token (256 bits), shown once."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def new_nonce() -> str:
    """The random part an alert link's token is derived from (kept in its row)."""
    return secrets.token_hex(16)


def alert_share_token(key: bytes, nonce: str) -> str:
    """The alerts' link token for the row holding `nonce`: HMAC-SHA256 under the server's key."""
    mac = hmac.new(key, _ALERT_LABEL + nonce.encode("ascii"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode("ascii").rstrip("=")


def share_digest(token: str) -> str:
    """What is stored of a token (hex SHA-256), and how a presented one finds its row."""
    return hashlib.sha256(token.encode("utf-8", errors="replace")).hexdigest()


def looks_like_token(text: str) -> bool:
    """A cheap shape check before any lookup: the right length in URL-safe base64."""
    return len(text) == TOKEN_LENGTH and all(
        c.isascii() and (c.isalnum() or c in "-_") for c in text
    )


def share_key(secret: str) -> bytes:
    """The alert links' key from a server secret, kept apart from the secret's other uses."""
    return hmac.new(secret.encode("utf-8"), b"flexhook share key", hashlib.sha256).digest()


def first_expiry(created_at: datetime, lifetime: ShareLifetime) -> datetime:
    """When a new link expires, unless the shipment is delivered first."""
    return min(created_at + lifetime.expiry, cap(created_at, lifetime))


def cap(created_at: datetime, lifetime: ShareLifetime) -> datetime:
    """The absolute end of a link: no renewal goes past it."""
    return created_at + lifetime.max_age


def renewed_expiry(created_at: datetime, now: datetime, lifetime: ShareLifetime) -> datetime:
    """A renewal: `expiry` from now, never past the cap."""
    return min(now + lifetime.expiry, cap(created_at, lifetime))


def effective_expiry(
    *,
    created_at: datetime,
    expires_at: datetime,
    delivered_at: datetime | None,
    lifetime: ShareLifetime,
) -> datetime:
    """When the link stops opening: once the shipment is delivered, `after_delivery` after the
    delivery (earlier or later than the undelivered expiry), and never past the cap."""
    if delivered_at is None:
        return min(expires_at, cap(created_at, lifetime))
    return min(delivered_at + lifetime.after_delivery, cap(created_at, lifetime))


def share_state(*, revoked_at: datetime | None, expires: datetime, now: datetime) -> ShareState:
    if revoked_at is not None:
        return ShareState.REVOKED
    if now >= expires:
        return ShareState.EXPIRED
    return ShareState.ACTIVE


def track_url(public_url: str, token: str) -> str:
    """The address a share link opens (relative when no public URL is configured)."""
    return f"{public_url.rstrip('/')}{TRACK_PATH}{token}"
