"""`GET /api/notifications`: the alert ledger."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from app.store import db, reads
from app.web.params import int_param
from app.web.state import web_state


async def list_notifications(request: Request) -> Response:
    """Newest first; `event_id`, `shipment_id`, `status` and `limit` narrow the list."""
    params = request.query_params
    rows = await db.in_session(
        web_state(request).engine,
        reads.list_notifications,
        event_id=params.get("event_id"),
        shipment_id=params.get("shipment_id"),
        status=params.get("status"),
        limit=int_param(request, "limit"),
    )
    return JSONResponse({"notifications": rows})
