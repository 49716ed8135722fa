"""`/metrics`'s database gauges (review finding H4): indexed counts of the rows they report,
never a scan of the event log or the alert ledger, read at most once per `max_age` by one
refresh however many scrapes arrive; and `/readyz`, which says up or down and nothing more."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.applications import Starlette
from starlette.routing import Route

from app.core.events import parse_event
from app.core.exception_families import exception_effect
from app.ingest.errors import TemporalUnavailable
from app.ingest.intake import Intake
from app.ingest.relay import TemporalBreaker
from app.store import db, exceptions, ops_incidents, spool
from app.web import health
from app.web.application import create_metrics_app
from app.web.config import WebConfig
from app.web.metrics import GaugeCache, WebMetrics, read_counts
from app.web.state import WebState, install
from tests.unit.exception_samples import sample_event
from tests.unit.fake_starter import FakeStarter
from tests.unit.read_rows import query_plans, selects

# The only indexes a metrics query may walk from end to end: partial, they hold just the unknown
# types and the unresolved exceptions they count.
PARTIAL_INDEXES = ("ix_event_unknown_type", "ix_shipment_exception_unresolved_family")


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
    with selects(engine) as seen:
        yield seen


def test_no_metrics_query_scans_the_event_log_or_the_ledger(
    engine: Engine, statements: list[tuple[str, Any]]
) -> None:
    with Session(engine) as session:
        read_counts(session)

    plans = query_plans(engine, statements)
    tables = (["event"], ["notification"], ["shipment_exception"])
    steps = [p for p in plans if p.split()[1:2] in tables]

    assert len(statements) >= 5
    assert steps, plans
    assert any("shipment_exception" in step for step in steps), plans
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


# -- the exception inbox (issue 19) ----------------------------------------------------------

HOLD_TYPE = "/shipment#customs_agriculture_hold"
ODD_TYPE = "/shipment#brand_new_kind_of_delay"  # a type flexhook does not know: `other`


def _exceptions_of_two_days(engine: Engine) -> datetime:
    """Two holds and an unknown problem; one hold acknowledged after 10 minutes and released
    by Flexport 2 hours after it opened. Returns when the oldest open one opened."""
    t0 = datetime.now(UTC) - timedelta(days=2)
    with Session(engine) as session:
        for shipment, event_type, event_id, hours in (
            ("S-1", HOLD_TYPE, "hold-1", 0),
            ("S-2", HOLD_TYPE, "hold-2", 1),
            ("S-2", ODD_TYPE, "odd-1", 3),
        ):
            flexport = sample_event("01_shipment_created", event_type=event_type)
            at = t0 + timedelta(hours=hours)
            exceptions.record_event(
                session,
                shipment_id=shipment,
                event_id=event_id,
                occurred_at=at,
                effect=exception_effect(flexport.type, flexport.classification, flexport.facts()),
                severities={},
                now=at,
            )
        exceptions.act(
            session, exception_id=1, action="acknowledge", by="ana", at=t0 + timedelta(minutes=10)
        )
        release = sample_event("11_customs_released")
        exceptions.record_event(
            session,
            shipment_id="S-1",
            event_id="release-1",
            occurred_at=t0 + timedelta(hours=2),
            effect=exception_effect(release.type, release.classification, release.facts()),
            severities={},
            now=t0 + timedelta(hours=2),
        )
        session.commit()
    return t0 + timedelta(hours=1)


def _families(text: str) -> dict[str, Any]:
    return {family.name: family for family in text_string_to_metric_families(text)}


async def test_the_exception_metrics_are_read_from_the_database_as_real_histograms(
    engine: Engine,
) -> None:
    oldest = _exceptions_of_two_days(engine)
    app = create_metrics_app(engine=engine, metrics=WebMetrics())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://metrics.test") as http:
        scraped = await http.get("/metrics")

    text = scraped.text
    found = _families(text)  # the exposition format parses
    open_now = {
        (s.labels["family"], s.labels["severity"]): s.value
        for s in found["flexhook_exceptions_open"].samples
    }
    assert open_now == {("customs_hold", "critical"): 1.0, ("other", "normal"): 1.0}
    [age] = found["flexhook_exception_oldest_open_age_seconds"].samples
    assert (datetime.now(UTC) - oldest).total_seconds() - age.value < 60
    assert "# TYPE flexhook_exception_acknowledge_seconds histogram" in text
    assert 'flexhook_exception_acknowledge_seconds_bucket{le="300.0"} 0.0' in text
    assert 'flexhook_exception_acknowledge_seconds_bucket{le="900.0"} 1.0' in text
    assert 'flexhook_exception_acknowledge_seconds_bucket{le="+Inf"} 1.0' in text
    assert "flexhook_exception_acknowledge_seconds_count 1.0" in text
    assert "flexhook_exception_acknowledge_seconds_sum 600.0" in text
    assert 'flexhook_exception_resolve_seconds_bucket{le="3600.0"} 0.0' in text
    assert 'flexhook_exception_resolve_seconds_bucket{le="14400.0"} 1.0' in text
    assert "flexhook_exception_resolve_seconds_sum 7200.0" in text
    # Labels come from the families' fixed table: never an event's type, never a person.
    labels = {v for f in found.values() for sample in f.samples for v in sample.labels.values()}
    assert "brand_new_kind_of_delay" not in text
    assert not labels & {"ana", "S-1", "S-2", "hold-1", "release-1"}


async def test_with_no_exception_the_histograms_are_empty_and_the_oldest_age_is_zero(
    engine: Engine,
) -> None:
    with Session(engine) as session:
        text = WebMetrics().render(read_counts(session)).decode()

    assert "flexhook_exception_oldest_open_age_seconds 0.0" in text
    assert 'flexhook_exception_resolve_seconds_bucket{le="+Inf"} 0.0' in text
    assert "flexhook_exception_resolve_seconds_count 0.0" in text
    assert "flexhook_exceptions_open{" not in text


def test_open_ops_incidents_and_their_unsent_alerts_are_counted_by_kind_alone(
    engine: Engine,
) -> None:
    opened = datetime.now(UTC) - timedelta(minutes=40)
    with Session(engine) as session:
        ops_incidents.open_incident(session, key="event-failed:48262090", opened_at=opened)
        ops_incidents.open_incident(session, key="destination-failing:url-0a1b", opened_at=opened)
        ops_incidents.claim_alert(session, key="destination-failing:url-0a1b", now=opened)
        session.commit()
        text = WebMetrics().render(read_counts(session)).decode()

    found = _families(text)
    open_now = {s.labels["kind"]: s.value for s in found["flexhook_ops_incidents_open"].samples}
    unalerted = {
        s.labels["kind"]: s.value for s in found["flexhook_ops_incidents_unalerted"].samples
    }
    [age] = found["flexhook_ops_incident_oldest_unalerted_age_seconds"].samples
    assert open_now == {"event-failed": 1.0, "destination-failing": 1.0}
    assert unalerted == {"event-failed": 1.0}
    assert 40 * 60 <= age.value < 45 * 60
    assert "48262090" not in text and "url-0a1b" not in text  # kinds, never the keys


def test_with_no_open_incident_the_unalerted_age_is_zero(engine: Engine) -> None:
    with Session(engine) as session:
        text = WebMetrics().render(read_counts(session)).decode()

    assert "flexhook_ops_incident_oldest_unalerted_age_seconds 0.0" in text
    assert "flexhook_ops_incidents_open{" not in text


PROMTOOL = shutil.which("promtool")


@pytest.mark.skipif(PROMTOOL is None, reason="promtool (Prometheus) is not installed")
async def test_promtool_accepts_the_live_exposition(engine: Engine) -> None:
    _exceptions_of_two_days(engine)
    app = create_metrics_app(engine=engine, metrics=WebMetrics())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://metrics.test") as http:
        scraped = await http.get("/metrics")
    assert PROMTOOL is not None

    checked = subprocess.run(
        [PROMTOOL, "check", "metrics"], input=scraped.content, capture_output=True, check=False
    )

    assert checked.returncode == 0, (checked.stdout + checked.stderr).decode()
    assert "flexhook_exception_resolve_seconds_bucket" in scraped.text
