"""Query and path parameters of the read API, checked before they reach the database."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request

from app.web.errors import BadRequest


def is_number(value: str) -> bool:
    """ASCII digits only: `isdigit` alone admits ² and other digits `int` refuses."""
    return value.isascii() and value.isdigit()


def int_param(request: Request, name: str) -> int | None:
    """A non-negative integer parameter; absurdly long ones count as huge (and get clamped)."""
    value = request.query_params.get(name)
    if value is None or value == "":
        return None
    if not is_number(value):
        raise BadRequest(f"{name} must be a positive integer")
    return int(value) if len(value) <= 9 else 10**9


def row_id(request: Request, name: str) -> int | None:
    """The path parameter `name` as a row id, or None when it cannot be one (not digits, or more
    than fit in a 64-bit key): the caller answers 404, as for an id that matches no row."""
    value = request.path_params[name]
    return int(value) if is_number(value) and len(value) <= 18 else None


def time_param(request: Request, name: str) -> datetime | None:
    """An ISO 8601 time (UTC when it names no zone), or None when absent."""
    value = request.query_params.get(name)
    if value is None or value == "":
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise BadRequest(f"{name} must be an ISO 8601 time such as 2026-03-01T00:00:00Z") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
