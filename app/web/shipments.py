"""`GET /api/shipments`, `GET /api/shipments/{id}` and `GET /api/shipments/{id}/eta-history`:
shipments as their events left them."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from app.store import db, eta_reads, reads
from app.web.cursors import cursor_key, decode_time_cursor, encode_time_cursor
from app.web.errors import not_found
from app.web.schemas import ShipmentQuery, read_query
from app.web.state import web_state


async def list_shipments(request: Request) -> Response:
    """One page, most recently updated first; `status` narrows it, `limit` sizes it; `next` is
    the cursor of the page after (give it as `after`; a changed cursor is 400)."""
    query = read_query(ShipmentQuery, request)
    state = web_state(request)
    key = cursor_key(state, "shipments")
    page = await db.in_session(
        state.engine,
        reads.shipment_page,
        status=query.status,
        after=decode_time_cursor(query.after, key) if query.after else None,
        limit=query.limit,
    )
    following = encode_time_cursor(page.next, key) if page.next else None
    return JSONResponse({"shipments": page.rows, "next": following})


async def get_shipment(request: Request) -> Response:
    """One shipment with its milestones and containers: the document kept with it, as stored."""
    document = await db.read_by_key(
        web_state(request).engine, reads.shipment_document, shipment_id=request.path_params["id"]
    )
    if document is None:
        return not_found("no such shipment")
    return Response(document, media_type="application/json")


async def get_eta_history(request: Request) -> Response:
    """Every estimate of the shipment's arrival, in reporting order (`app.core.eta_history`)."""
    history = await db.read_by_key(
        web_state(request).engine,
        eta_reads.eta_history_document,
        shipment_id=request.path_params["id"],
    )
    if history is None:
        return not_found("no such shipment")
    return JSONResponse(history)
