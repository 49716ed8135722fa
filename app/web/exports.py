"""`GET /api/shipments.csv` and `GET /api/events.csv`: the JSON lists as CSV files, streamed.

Same filters as `GET /api/shipments` and `GET /api/events`, but every matching row unless
`limit` caps it; the rows are read and written in chunks (`app.store.exports`).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from app.store import exports
from app.store.filters import EventFilter
from app.web.schemas import EventExportQuery, ShipmentExportQuery, read_query
from app.web.state import web_state


def _streamed(request: Request, export: exports.Export) -> Response:
    headers = {
        "content-disposition": f'attachment; filename="{export.filename}"',
        "cache-control": "no-store",
        "x-content-type-options": "nosniff",
    }
    if request.method == "HEAD":  # the headers alone: no rows read, no length known
        response = Response(media_type=exports.MEDIA_TYPE, headers=headers)
        del response.headers["content-length"]
        return response
    chunks = exports.csv_chunks(web_state(request).engine, export)
    return StreamingResponse(chunks, media_type=exports.MEDIA_TYPE, headers=headers)


async def export_shipments(request: Request) -> Response:
    """The shipments `GET /api/shipments` lists, every one (or `limit`), as a CSV file: UTF-8
    with a byte order mark, one header row, the place in `location_*` columns, and any text
    cell a spreadsheet would read as a formula (`=`, `+`, `-`, `@`, tab, carriage return first)
    with a single quote in front."""
    query = read_query(ShipmentExportQuery, request)
    return _streamed(request, exports.shipments(status=query.status, limit=query.limit))


async def export_events(request: Request) -> Response:
    """The events `GET /api/events` lists, every one (or `limit`), as a CSV file (as the
    shipments' one is written); no payloads, and the alerts as their kinds (`alert_kinds`)."""
    query = read_query(EventExportQuery, request)
    where = EventFilter(status=query.status, event_type=query.type, shipment_id=query.shipment_id)
    return _streamed(request, exports.events(where, limit=query.limit))
