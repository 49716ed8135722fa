"""The dashboard's "Download CSV" links: its shipment and event lists, with the filters they
show, as CSV files (the export of `GET /api/shipments.csv` and `GET /api/events.csv`, signed
in with the dashboard's session rather than a bearer token)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from app.dashboard.access import Visitor
from app.dashboard.state import state_of
from app.store import exports
from app.store.filters import EventFilter


def _streamed(request: Request, export: exports.Export) -> Response:
    headers = {
        "content-disposition": f'attachment; filename="{export.filename}"',
        "cache-control": "no-store",
    }
    if request.method == "HEAD":  # the headers alone: no rows read, no length known
        response = Response(media_type=exports.MEDIA_TYPE, headers=headers)
        del response.headers["content-length"]
        return response
    chunks = exports.csv_chunks(state_of(request).engine, export)
    return StreamingResponse(chunks, media_type=exports.MEDIA_TYPE, headers=headers)


async def shipments(request: Request, visitor: Visitor) -> Response:
    """Every shipment the list shows for its search (`q`) and `status`, not only the first."""
    params = request.query_params
    export = exports.shipments(
        status=params.get("status", "").strip(), text=params.get("q", "").strip()
    )
    return _streamed(request, export)


async def events(request: Request, visitor: Visitor) -> Response:
    """Every event the log shows for its `status`, `type` and `shipment`, newest first."""
    params = request.query_params
    where = EventFilter(
        status=params.get("status", "").strip(),
        event_type=params.get("type", "").strip(),
        shipment_id=params.get("shipment", "").strip(),
    )
    return _streamed(request, exports.events(where))
