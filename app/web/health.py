"""Health, readiness and metrics: `GET /healthz`, `/readyz`, `/api/spool` and `/metrics`.

`/healthz` and `/readyz` are the public port's only unauthenticated endpoints, so they say no
more than up or down; `/metrics` is served on the metrics listener alone."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from app.ingest.errors import TemporalUnavailable
from app.store import db, spool
from app.web.metrics import CONTENT_TYPE, metrics_state
from app.web.state import web_state

log = logging.getLogger("flexhook.web")

UP = "up"
DOWN = "down"


def _ping(session: Session) -> None:
    session.connection().exec_driver_sql("SELECT 1")


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """200 when every dependency answers, else 503: `{"database": "up"|"down", "temporal":
    ...}` and nothing more (why one is down goes to the log, not to whoever asks)."""
    web = web_state(request)
    answer = {"database": UP, "temporal": UP}
    try:
        await db.in_session(web.engine, _ping)
    except Exception as exc:
        answer["database"] = DOWN
        log.warning("not ready: the database is down (%s)", type(exc).__name__)
    try:
        await web.starter.check()
    except TemporalUnavailable as exc:
        answer["temporal"] = DOWN
        log.warning("not ready: Temporal is down (%s)", exc)
    return JSONResponse(answer, status_code=200 if DOWN not in answer.values() else 503)


async def spool_stats(request: Request) -> Response:
    stats = await db.in_session(web_state(request).engine, spool.stats)
    return JSONResponse(stats.as_json(now=datetime.now(UTC)))


async def metrics(request: Request) -> Response:
    """`GET /metrics` in Prometheus's text format (the metrics listener's one endpoint)."""
    scrape = metrics_state(request)
    counts = await scrape.gauges.counts()
    return Response(scrape.metrics.render(counts), media_type=CONTENT_TYPE)
