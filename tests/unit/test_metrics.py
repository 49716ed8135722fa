"""`/metrics`'s database gauges (review finding H4): indexed counts of the rows they report,
never a scan of the event log or the alert ledger, read at most once per `max_age` by one
refresh however many scrapes arrive; and `/readyz`, which says up or down and nothing more."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.applications import Starlette
from starlette.routing import Route

from app.core.events import parse_event
from app.ingest.errors import TemporalUnavailable
from app.ingest.intake import Intake
from app.ingest.relay import TemporalBreaker
from app.store import db, spool
from app.web import health
from app.web.application import create_metrics_app
from app.web.config import WebConfig
from app.web.metrics import GaugeCache, WebMetrics, read_counts
from app.web.state import WebState, install
from tests.unit.fake_starter import FakeStarter

# The only index a metrics query may walk from end to end: partial, it holds just the unknown
# types it counts.
PARTIAL_INDEXES = ("ix_event_unknown_type",)


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    engine = db.create_db_engine(f"sqlite:///{tmp_path / 'flexhook.db'}")
    db.upgrade(engine)
    return engine


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def statements(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    """Every SELECT `engine` runs meanwhile, with its parameters."""
    seen: list[tuple[str, Any]] = []

    def record(*args: Any) -> None:
        statement, parameters = args[2], args[3]
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


def query_plans(engine: Engine, statements: list[tuple[str, Any]]) -> list[str]:
    """SQLite's EXPLAIN QUERY PLAN of each statement, one line per step."""
    with engine.connect() as connection:
        return [
            str(step[-1])
            for statement, parameters in statements
            for step in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
        ]


def test_no_metrics_query_scans_the_event_log_or_the_ledger(
    engine: Engine, statements: list[tuple[str, Any]]
) -> None:
    with Session(engine) as session:
        read_counts(session)

    plans = query_plans(engine, statements)
    steps = [p for p in plans if p.split()[1:2] in (["event"], ["notification"])]

    assert len(statements) >= 5
    assert steps, plans
    for step in steps:
        searched = step.startswith("SEARCH") and "INDEX" in step
        assert searched or any(f"INDEX {name}" in step for name in PARTIAL_INDEXES), step


async def test_scrapes_meanwhile_share_one_refresh_and_reuse_it_until_it_is_old(
    engine: Engine, sample: Callable[[str], bytes]
) -> None:
    clock = Clock()
    gauges = GaugeCache(engine, max_age=timedelta(seconds=30), clock=clock)

    first = await asyncio.gather(*(gauges.counts() for _ in range(20)))
    body = sample("06_leg_departed")
    with Session(engine) as session:
        received = datetime.now(UTC)
        spool.enqueue(session, event=parse_event(body), body=body.decode(), received_at=received)
        session.commit()
    clock.now += 29
    cached = await gauges.counts()
    clock.now += 1
    fresh = await gauges.counts()

    assert {counts.spool.depth for counts in first} == {0}
    assert cached.spool.depth == 0  # up to max_age old
    assert fresh.spool.depth == 1
    assert gauges.refreshes == 2


async def test_the_metrics_app_serves_metrics_alone(engine: Engine) -> None:
    app = create_metrics_app(engine=engine, metrics=WebMetrics())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://metrics.test") as http:
        scraped = await http.get("/metrics")
        elsewhere = await http.get("/readyz")

    assert scraped.status_code == 200
    assert "flexhook_spool_depth 0.0" in scraped.text
    assert "# TYPE flexhook_events_received_total counter" in scraped.text  # the counters
    assert elsewhere.status_code == 404


@pytest.mark.parametrize("temporal_up", [True, False])
async def test_readiness_says_up_or_down_per_dependency_and_nothing_more(
    engine: Engine, temporal_up: bool
) -> None:
    starter = FakeStarter(error=None if temporal_up else TemporalUnavailable("TimeoutError"))
    app = Starlette(routes=[Route("/readyz", health.readyz)])
    install(
        app,
        WebState(
            config=WebConfig(webhook_secrets=("s",), api_token="token"),
            engine=engine,
            starter=starter,
            intake=Intake(engine=engine, starter=starter, breaker=TemporalBreaker()),
            metrics=WebMetrics(),
        ),
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://flexhook.test") as http:
        ready = await http.get("/readyz")

    temporal = "up" if temporal_up else "down"
    assert ready.json() == {"database": "up", "temporal": temporal}
    assert ready.status_code == (200 if temporal_up else 503)
    assert "TimeoutError" not in ready.text
