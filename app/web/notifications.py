"""`GET /api/notifications`: the alert ledger."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from app.store import db, reads
from app.web.schemas import NotificationQuery, read_query
from app.web.state import web_state


async def list_notifications(request: Request) -> Response:
    """Newest first; `event_id`, `shipment_id`, `status` and `limit` narrow the list."""
    query = read_query(NotificationQuery, request)
    rows = await db.in_session(
        web_state(request).engine,
        reads.list_notifications,
        event_id=query.event_id,
        shipment_id=query.shipment_id,
        status=query.status,
        limit=query.limit,
    )
    return JSONResponse({"notifications": rows})
