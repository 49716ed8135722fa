"""Tolerant readers for JSON values: nulls, wrong types and extra fields never raise; a value
that is there but cannot be read raises `EventDataError`. Pure standard library."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from app.core.errors import EventDataError

Json = dict[str, Any]


def parse_datetime(value: object, what: str) -> datetime | None:
    """An ISO-8601 timestamp (or plain date) as an aware UTC datetime; naive values are UTC."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise EventDataError(f"{what} is not a timestamp: {value!r:.60}")
    try:
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise EventDataError(f"{what} is not a timestamp: {value!r:.60}") from None


def parse_date(value: object, what: str) -> date | None:
    """A plain ISO date; a timestamp is cut to its date."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise EventDataError(f"{what} is not a date: {value!r:.60}")
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        raise EventDataError(f"{what} is not a date: {value!r:.60}") from None


def obj(value: object) -> Json:
    return value if isinstance(value, dict) else {}


def as_list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def text(value: object) -> str | None:
    return value if isinstance(value, str) and value != "" else None


def ident(value: object) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, str)) and value != "":
        return str(value)
    return None


def amount(value: object) -> str | None:
    """Money as written; a JSON number keeps its shortest decimal form rather than vanishing."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        return value or None
    if isinstance(value, (int, float)):
        return str(value)
    return None


def ref_id(value: object) -> str | None:
    """The id of an `/api/refs/object` (or of an embedded object); a reference that carries only
    its `link` (`.../shipments/418563`) is read from the link's last segment."""
    ref = obj(value)
    found = ident(ref.get("id"))
    if found is None and ref.get("_object") == "/api/refs/object":
        link = text(ref.get("link"))
        last = link.rstrip("/").rpartition("/")[2] if link else ""
        found = last or None
    return found


def company_name(value: object) -> str | None:
    """A company given as an object with a name, or as a plain string."""
    if isinstance(value, str):
        return value or None
    return text(obj(value).get("name"))
