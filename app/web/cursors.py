"""The lists' cursors (`/api/shipments`, `/api/events`, `/api/exceptions`): opaque, and signed so
that a changed one is refused. A list gives `next`, the cursor of the page after its last row, and
takes it back as `after`; each list signs with its own key, so one list's cursor is refused by
another."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from typing import Final

from app.store.paging import TimeCursor
from app.web.errors import BadRequest
from app.web.state import WebState

EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
MAX_ID_LENGTH: Final = 240  # the longest id a list's cursor names (event ids are at most 200)


def cursor_key(state: WebState, list_name: str) -> bytes:
    """The key `list_name`'s cursors are signed with: derived from the first webhook secret (a
    cursor made before that secret was rotated away is refused, and the client starts over), or
    from the break-glass token where there is none."""
    secret = next(iter(state.config.webhook_secrets), state.config.api_token).encode("utf-8")
    return hmac.new(secret, f"flexhook {list_name} cursor".encode(), hashlib.sha256).digest()


def refused() -> BadRequest:
    return BadRequest("after is not a cursor this API gave (start again without it)")


def _tag(text: str, key: bytes) -> str:
    digest = hmac.new(key, text.encode("ascii"), hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def sign(text: str, key: bytes) -> str:
    """`text` (ASCII) with its signature after the last dot."""
    return f"{text}.{_tag(text, key)}"


def signed_text(value: str, key: bytes) -> str:
    """The text `sign` signed in `value`; `BadRequest` for anything else (changed, cut, made with
    another key)."""
    if not value.isascii():  # `compare_digest` takes ASCII text only
        raise refused()
    text, _, tag = value.rpartition(".")
    if not hmac.compare_digest(_tag(text, key), tag):
        raise refused()
    return text


def micros(at: datetime) -> int:
    return (at - EPOCH) // timedelta(microseconds=1)


def from_micros(value: str) -> datetime:
    """The time `micros` wrote; ValueError or OverflowError for anything else."""
    return EPOCH + timedelta(microseconds=int(value))


def encode_time_cursor(cursor: TimeCursor, key: bytes) -> str:
    name = base64.urlsafe_b64encode(cursor.id.encode("utf-8")).decode("ascii").rstrip("=")
    return sign(f"{micros(cursor.at)}.{name}", key)


def decode_time_cursor(value: str, key: bytes) -> TimeCursor:
    """The cursor `encode_time_cursor` made; `BadRequest` for anything else."""
    text = signed_text(value, key)
    try:
        at, name = text.split(".")
        row_id = base64.urlsafe_b64decode(name + "=" * (-len(name) % 4)).decode("utf-8")
        cursor = TimeCursor(from_micros(at), row_id)
    except (ValueError, OverflowError, binascii.Error):
        raise refused() from None
    if not 0 < len(cursor.id) <= MAX_ID_LENGTH:
        raise refused()
    return cursor
