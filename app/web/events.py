"""`GET /api/events`, `GET /api/events/{event_id}` and `POST /api/events/{event_id}/redrive`."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from app.core.ids import event_workflow_id
from app.ingest.errors import EventNotFound
from app.ingest.redrive import redrive_by_id
from app.store import db, reads
from app.store.filters import EventFilter
from app.web.answers import Redriven
from app.web.audit import record
from app.web.cursors import cursor_key, decode_time_cursor, encode_time_cursor
from app.web.errors import not_found
from app.web.schemas import EventQuery, read_query
from app.web.state import web_state


async def list_events(request: Request) -> Response:
    """One page of the event log, newest received first; `status`, `type`, `shipment_id`,
    `since` and `until` narrow it, `limit` sizes it; `next` is the cursor of the page after
    (give it as `after`; a changed cursor is 400)."""
    query = read_query(EventQuery, request)
    state = web_state(request)
    key = cursor_key(state, "events")
    where = EventFilter(
        status=query.status,
        event_type=query.type,
        shipment_id=query.shipment_id,
        since=query.since,
        until=query.until,
    )
    page = await db.in_session(
        state.engine,
        reads.event_page,
        where=where,
        after=decode_time_cursor(query.after, key) if query.after else None,
        limit=query.limit,
    )
    following = encode_time_cursor(page.next, key) if page.next else None
    return JSONResponse({"events": page.rows, "next": following})


async def get_event(request: Request) -> Response:
    """One logged event with its payload."""
    found = await db.in_session(
        web_state(request).engine, reads.get_event, event_id=request.path_params["event_id"]
    )
    if found is None:
        return not_found("no such event")
    return JSONResponse(found)


async def redrive_event(request: Request) -> Response:
    """Redrive one logged event: its start status, or 404 if the log has no such event."""
    web = web_state(request)
    event_id = request.path_params["event_id"]
    try:
        status = await redrive_by_id(engine=web.engine, starter=web.starter, event_id=event_id)
    except EventNotFound:
        return not_found("no such event")
    await record(request, action="event.redrive", target=event_id, outcome=status)
    answer = Redriven(status=status, event_id=event_id, workflow_id=event_workflow_id(event_id))
    return JSONResponse(answer.model_dump(mode="json"))
