"""Health, readiness and metrics: `GET /healthz`, `/readyz`, `/api/spool` and `/metrics`."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from app.ingest.errors import TemporalUnavailable
from app.store import db, spool
from app.web.metrics import CONTENT_TYPE, read_counts
from app.web.state import web_state


def _ping(session: Session) -> None:
    session.connection().exec_driver_sql("SELECT 1")


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """200 `ready`, or 503 `unavailable` naming what is down; the spool's state either way."""
    web = web_state(request)
    down: dict[str, str] = {}
    try:
        await db.in_session(web.engine, _ping)
    except Exception as exc:
        down["database"] = type(exc).__name__
    try:
        await web.starter.check()
    except TemporalUnavailable as exc:
        down["temporal"] = str(exc)
    try:
        spooled = (await db.in_session(web.engine, spool.stats)).as_json(now=datetime.now(UTC))
    except Exception:
        spooled = None
    if down:
        return JSONResponse(
            {"status": "unavailable", "down": down, "spool": spooled}, status_code=503
        )
    return JSONResponse({"status": "ready", "spool": spooled})


async def spool_stats(request: Request) -> Response:
    stats = await db.in_session(web_state(request).engine, spool.stats)
    return JSONResponse(stats.as_json(now=datetime.now(UTC)))


async def metrics(request: Request) -> Response:
    """`GET /metrics` in Prometheus's text format."""
    web = web_state(request)
    counts = await db.in_session(web.engine, read_counts)
    return Response(web.metrics.render(counts), media_type=CONTENT_TYPE)
