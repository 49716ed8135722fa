"""`GET /api/{kind}/{key}`: a booking, purchase order, invoice, document or container."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from app.store import db, reads
from app.web.errors import not_found
from app.web.state import web_state


async def get_record(request: Request) -> Response:
    """One record of the collection `kind` (see `reads.RECORD_MODELS`) by its key."""
    kind = request.path_params["kind"]
    model = reads.RECORD_MODELS.get(kind)
    if model is None:
        return not_found(f"no such collection: {kind}")
    found = await db.in_session(
        web_state(request).engine, reads.get_record, model=model, key=request.path_params["key"]
    )
    if found is None:
        return not_found(f"no such record in {kind}")
    return JSONResponse(found)
