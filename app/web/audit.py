"""The audit trail from the HTTP side: `record` appends what a request changed, with its actor,
address and request id; `GET /api/audit` lists the trail (admin)."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from app.store import audit, db
from app.web.access import client_address, current_actor, request_id
from app.web.schemas import AuditQuery, read_query
from app.web.state import web_state


async def record(request: Request, *, action: str, target: str = "", outcome: str = "ok") -> None:
    """Append one entry for what `request` did (never a secret: URLs in privacy form)."""
    await db.in_session(
        web_state(request).engine,
        audit.append,
        commit=True,
        at=datetime.now(UTC),
        actor=current_actor(request).name,
        action=action,
        target=target,
        outcome=outcome,
        client=client_address(request),
        request_id=request_id(request.scope),
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
