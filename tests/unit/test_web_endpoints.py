"""Endpoints on their own: each mounted alone on a bare Starlette app with a hand-made state."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from app.core.access import Actor, Role
from app.core.events import parse_event
from app.core.signature import sign
from app.core.statuses import EventStatus, StartStatus
from app.ingest.errors import TemporalUnavailable
from app.ingest.intake import Intake
from app.ingest.relay import TemporalBreaker
from app.store import audit, db, spool
from app.store.models import EventRecord, SpooledEvent
from app.web import events, health, webhook
from app.web.access import ACTOR_KEY
from app.web.application import dashboard_redrive, lifespan
from app.web.config import WebConfig
from app.web.errors import EXCEPTION_HANDLERS
from app.web.health import metrics
from app.web.metrics import GaugeCache, MetricsState, WebMetrics, install_metrics
from app.web.state import Started, WebState, install
from tests.unit.fake_starter import FakeStarter

SECRET = "unit-test-secret"


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    engine = db.create_db_engine(f"sqlite:///{tmp_path / 'flexhook.db'}")
    db.upgrade(engine)
    return engine


@pytest.fixture
def starter() -> FakeStarter:
    return FakeStarter()


class SignedInAs:
    """What `TokenAuthentication` leaves in the scope, for endpoints served without it."""

    def __init__(self, app: ASGIApp, *, actor: Actor) -> None:
        self.app = app
        self.actor = actor

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope[ACTOR_KEY] = self.actor
        await self.app(scope, receive, send)


@pytest.fixture
def serve(engine: Engine, starter: FakeStarter) -> Callable[[list[BaseRoute]], httpx.AsyncClient]:
    """An HTTP client for an app holding only `routes` (and the error handlers)."""

    def make(routes: list[BaseRoute]) -> httpx.AsyncClient:
        app = Starlette(
            routes=routes,
            exception_handlers=EXCEPTION_HANDLERS,
            middleware=[Middleware(SignedInAs, actor=Actor(name="unit-test", role=Role.ADMIN))],
        )
        breaker = TemporalBreaker()
        counters = WebMetrics()
        install(
            app,
            WebState(
                config=WebConfig(webhook_secrets=(SECRET,), api_token="token"),
                engine=engine,
                starter=starter,
                intake=Intake(engine=engine, starter=starter, breaker=breaker),
                metrics=counters,
            ),
        )
        gauges = GaugeCache(engine, max_age=timedelta(0))
        install_metrics(app, MetricsState(metrics=counters, gauges=gauges))
        transport = httpx.ASGITransport(app=app)
        return httpx.AsyncClient(transport=transport, base_url="http://flexhook.test")

    return make


@pytest.fixture
async def writer_holding_the_lock(engine: Engine) -> AsyncIterator[None]:
    """A writer in the middle of a transaction on the SQLite file (it holds the write lock)."""
    with engine.connect() as writer:
        writer.execute(sa.text("UPDATE spool SET attempts = attempts + 1"))
        yield
        writer.rollback()


async def test_the_webhook_answers_the_start_status_and_counts_it(
    serve: Callable[[list[BaseRoute]], httpx.AsyncClient], sample: Callable[[str], bytes]
) -> None:
    body = sample("06_leg_departed")
    routes: list[BaseRoute] = [
        Route(webhook.WEBHOOK_PATH, webhook.receive_webhook, methods=["POST"]),
        Route("/metrics", metrics),
    ]
    async with serve(routes) as http:
        signed = {"x-hub-signature-256": sign(body, SECRET)}
        accepted = await http.post(webhook.WEBHOOK_PATH, content=body, headers=signed)
        forged = {"x-hub-signature-256": sign(body, "forged")}
        refused = await http.post(webhook.WEBHOOK_PATH, content=body, headers=forged)
        scraped = (await http.get("/metrics")).text

    event = parse_event(body)
    assert accepted.json() == {
        "status": "accepted",
        "event_id": event.event_id,
        "workflow_id": f"flexport-event-{event.event_id}",
    }
    assert (refused.status_code, refused.json()["error"]) == (401, "invalid_signature")
    counted = 'flexhook_events_received_total{category="milestone",outcome="accepted"} 1.0'
    assert counted in scraped
    assert 'flexhook_deliveries_refused_total{error="invalid_signature"} 1.0' in scraped


async def test_a_redrive_of_a_queued_event_starts_it_and_empties_its_spool_row(
    engine: Engine,
    starter: FakeStarter,
    serve: Callable[[list[BaseRoute]], httpx.AsyncClient],
    sample: Callable[[str], bytes],
) -> None:
    body = sample("06_leg_departed")
    event = parse_event(body)
    with Session(engine) as session:
        queued = spool.enqueue(
            session, event=event, body=body.decode(), received_at=datetime.now(UTC)
        )
        session.commit()
    route = Route("/events/{event_id}/redrive", events.redrive_event, methods=["POST"])
    async with serve([route]) as http:
        redriven = await http.post(f"/events/{event.event_id}/redrive")
        missing = await http.post("/events/nope/redrive")

    assert queued == StartStatus.QUEUED
    assert redriven.json()["status"] == "accepted"
    assert [(s.event_id, s.rerun) for s in starter.starts] == [(event.event_id, False)]
    assert (missing.status_code, missing.json()["error"]) == (404, "not_found")
    with Session(engine) as session:
        assert session.exec(select(SpooledEvent)).all() == []
        row = session.get(EventRecord, event.event_id)
        assert row is not None and row.status == EventStatus.QUEUED  # the workflow records it
        [entry] = audit.list_entries(session, where=audit.AuditFilter(action="event.redrive"))
    assert (entry.actor, entry.target, entry.outcome) == ("unit-test", event.event_id, "accepted")


async def test_a_redrive_temporal_does_not_take_is_503_and_keeps_the_spool_row(
    engine: Engine,
    starter: FakeStarter,
    serve: Callable[[list[BaseRoute]], httpx.AsyncClient],
    sample: Callable[[str], bytes],
) -> None:
    body = sample("06_leg_departed")
    event = parse_event(body)
    with Session(engine) as session:
        spool.enqueue(session, event=event, body=body.decode(), received_at=datetime.now(UTC))
        session.commit()
    starter.error = TemporalUnavailable("TimeoutError")
    route = Route("/events/{event_id}/replay", events.redrive_event, methods=["POST"])
    async with serve([route]) as http:
        answer = await http.post(f"/events/{event.event_id}/replay")

    assert (answer.status_code, answer.json()["error"]) == (503, "temporal_unavailable")
    with Session(engine) as session:
        assert len(session.exec(select(SpooledEvent)).all()) == 1


@pytest.mark.usefixtures("writer_holding_the_lock")
async def test_metrics_and_readiness_do_not_wait_for_a_writer(
    serve: Callable[[list[BaseRoute]], httpx.AsyncClient],
) -> None:
    routes: list[BaseRoute] = [Route("/metrics", metrics), Route("/readyz", health.readyz)]
    async with serve(routes) as http:
        scraped = await asyncio.wait_for(http.get("/metrics"), timeout=5)
        ready = await asyncio.wait_for(http.get("/readyz"), timeout=5)

    assert scraped.status_code == 200
    assert "flexhook_spool_depth 0.0" in scraped.text
    assert ready.json() == {"database": "up", "temporal": "up"}


async def test_the_dashboards_redrive_runs_through_the_started_app(
    engine: Engine, starter: FakeStarter, sample: Callable[[str], bytes]
) -> None:
    body = sample("06_leg_departed")
    event = parse_event(body)
    with Session(engine) as session:
        spool.enqueue(session, event=event, body=body.decode(), received_at=datetime.now(UTC))
        spool.forget(session, event_id=event.event_id)  # logged, but nothing for the relay
        session.commit()

    async def connect() -> FakeStarter:
        return starter

    started = Started()
    app = Starlette(
        lifespan=partial(
            lifespan,
            config=WebConfig(webhook_secrets=(SECRET,), api_token="token"),
            engine=engine,
            starter_factory=connect,
            started=started,
        )
    )
    redrive = dashboard_redrive(started)
    async with app.router.lifespan_context(app):
        status = await redrive(event.event_id)
        with pytest.raises(LookupError):
            await redrive("nope")

    assert status == "accepted"
    assert [s.event_id for s in starter.starts] == [event.event_id]
