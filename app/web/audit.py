"""The audit trail from the HTTP side: `changed` makes a change and appends its entry in one
transaction, `record` appends what a request did outside the database (a redrive's start);
each entry with the request's actor, address and request id. `GET /api/audit` lists the trail
(admin)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from app.store import audit, db
from app.web.access import client_address, current_actor, request_id
from app.web.schemas import AuditQuery, read_query
from app.web.state import web_state

T = TypeVar("T")


def _entry(request: Request, *, action: str) -> dict[str, Any]:
    return {
        "at": datetime.now(UTC),
        "actor": current_actor(request).name,
        "action": action,
        "client": client_address(request),
        "request_id": request_id(request.scope),
    }


async def changed(
    request: Request,
    fn: Callable[..., T],
    /,
    *,
    action: str,
    target: Callable[[T], str | None],
    **kwargs: Any,
) -> T:
    """`fn(session, **kwargs)` and its audit entry, committed together: nothing changes
    unaudited, and nothing is audited that did not change. `target(result)` says what changed
    (never a secret: URLs in privacy form); None: nothing did, and no entry is written."""
    entry = _entry(request, action=action)

    def run(session: Session) -> T:
        result = fn(session, **kwargs)
        described = target(result)
        if described is not None:
            audit.append(session, target=described, **entry)
        return result

    return await db.in_session(web_state(request).engine, run, commit=True)


async def record(request: Request, *, action: str, target: str = "", outcome: str = "ok") -> None:
    """Append one entry for what `request` did outside the database."""
    await db.in_session(
        web_state(request).engine,
        audit.append,
        commit=True,
        target=target,
        outcome=outcome,
        **_entry(request, action=action),
    )


async def list_audit(request: Request) -> Response:
    """Newest first; `actor`, `action`, `since`, `until` (ISO 8601) and `limit` narrow it."""
    query = read_query(AuditQuery, request)
    entries = await db.in_session(
        web_state(request).engine,
        audit.list_entries,
        where=audit.AuditFilter(
            actor=query.actor or None,
            action=query.action or None,
            since=query.since,
            until=query.until,
        ),
        limit=query.limit,
    )
    return JSONResponse({"entries": [audit.as_json(e) for e in entries]})
