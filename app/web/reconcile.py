"""`GET /api/reconcile`: the recent reconciliation runs with Flexport's Events API."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from app.store import db, reconcile_runs
from app.web.schemas import ReconcileQuery, read_query
from app.web.state import web_state

DEFAULT_LIMIT = 20


async def list_runs(request: Request) -> Response:
    """Newest first: each run's window, what it listed, found missing and started, its errors
    and when; `limit` narrows the list (at most 500)."""
    runs = await db.in_session(
        web_state(request).engine,
        reconcile_runs.recent_runs,
        limit=read_query(ReconcileQuery, request).limit or DEFAULT_LIMIT,
    )
    return JSONResponse({"runs": runs})
