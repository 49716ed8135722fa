"""The dashboard's audit page (admin): the audit trail, newest first, narrowed by actor, action
and a time range (UTC)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

from starlette.requests import Request
from starlette.responses import Response

from app.dashboard.access import Visitor
from app.dashboard.rendering import render
from app.dashboard.state import state_of
from app.store import audit as store
from app.store.db import in_session
from app.store.models import AuditEntry

LIST_LIMIT: Final = 200
FILTERS: Final = ("actor", "action", "since", "until")


def parse_time(value: str, *, name: str) -> datetime | None:
    """An ISO 8601 time (UTC when it names no zone, as a `datetime-local` field sends it);
    None when empty."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError):  # an offset can push a time past year 1 or 9999
        raise ValueError(f"{name} must be a time such as 2026-03-01T09:30") from None


async def audit(request: Request, visitor: Visitor) -> Response:
    """The trail, newest first; `actor`, `action`, `since` and `until` narrow it."""
    params = request.query_params
    shown = {name: params.get(name, "").strip()[:64] for name in FILTERS}
    entries: list[AuditEntry] = []
    error = ""
    try:
        since = parse_time(shown["since"], name="since")
        until = parse_time(shown["until"], name="until")
    except ValueError as exc:
        error = str(exc)
    else:
        where = store.AuditFilter(
            actor=shown["actor"] or None, action=shown["action"] or None, since=since, until=until
        )
        entries = await in_session(
            state_of(request).engine, store.list_entries, where=where, limit=LIST_LIMIT
        )
    return render(
        request,
        "audit.html",
        visitor=visitor,
        status_code=400 if error else 200,
        title="Audit",
        nav="audit",
        entries=entries,
        filters=shown,
        error=error,
        limit=LIST_LIMIT,
    )
