"""Start or spool: Temporal first, the spool while it is away, 503 only when both are away."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from app.core.events import Event, parse_event
from app.core.statuses import EventStatus, StartStatus
from app.ingest.errors import EventRejected, EventTooLarge, TemporalUnavailable, Unavailable
from app.ingest.intake import Intake
from app.ingest.relay import TemporalBreaker
from app.store import db
from app.store.models import EventRecord, SpooledEvent
from tests.unit.fake_starter import FakeStarter

RECEIVED_AT = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    engine = db.create_db_engine(f"sqlite:///{tmp_path / 'flexhook.db'}")
    db.upgrade(engine)
    return engine


@pytest.fixture
def departed(sample: Callable[[str], bytes]) -> tuple[Event, str]:
    body = sample("06_leg_departed")
    return parse_event(body), body.decode("utf-8")


def spooled(engine: Engine) -> list[tuple[str, str]]:
    """(event id, log status) of every spooled event."""
    with Session(engine) as session:
        statement = select(SpooledEvent.event_id, EventRecord.status).join(
            EventRecord, col(SpooledEvent.event_id) == col(EventRecord.event_id)
        )
        return [(event_id, status) for event_id, status in session.exec(statement).all()]


async def test_temporal_takes_the_event_and_nothing_is_spooled(
    engine: Engine, departed: tuple[Event, str]
) -> None:
    event, body = departed
    starter = FakeStarter(answer=StartStatus.DUPLICATE)
    intake = Intake(engine=engine, starter=starter, breaker=TemporalBreaker())

    status = await intake.take(event, body=body, received_at=RECEIVED_AT)

    assert status is StartStatus.DUPLICATE
    assert [s.event_id for s in starter.starts] == [event.event_id]
    assert spooled(engine) == []


async def test_temporal_away_trips_the_breaker_and_spools_the_event(
    engine: Engine, departed: tuple[Event, str]
) -> None:
    event, body = departed
    breaker = TemporalBreaker()
    woken: list[bool] = []
    intake = Intake(
        engine=engine,
        starter=FakeStarter(error=TemporalUnavailable("TimeoutError")),
        breaker=breaker,
        on_spooled=lambda: woken.append(True),
    )

    status = await intake.take(event, body=body, received_at=RECEIVED_AT)

    assert status is StartStatus.QUEUED
    assert breaker.is_open
    assert woken == [True]
    assert spooled(engine) == [(event.event_id, EventStatus.QUEUED)]


async def test_an_open_breaker_spools_without_trying_temporal(
    engine: Engine, departed: tuple[Event, str]
) -> None:
    event, body = departed
    breaker = TemporalBreaker()
    breaker.trip()
    starter = FakeStarter()
    intake = Intake(engine=engine, starter=starter, breaker=breaker)

    assert await intake.take(event, body=body, received_at=RECEIVED_AT) is StartStatus.QUEUED
    assert await intake.take(event, body=body, received_at=RECEIVED_AT) is StartStatus.QUEUED
    assert starter.starts == []
    assert spooled(engine) == [(event.event_id, EventStatus.QUEUED)]


async def test_a_start_that_succeeds_while_another_trips_the_breaker_is_not_spooled(
    engine: Engine, departed: tuple[Event, str]
) -> None:
    event, body = departed
    breaker = TemporalBreaker()
    intake = Intake(engine=engine, starter=FakeStarter(during=breaker.trip), breaker=breaker)

    status = await intake.take(event, body=body, received_at=RECEIVED_AT)

    assert status is StartStatus.ACCEPTED
    assert spooled(engine) == []


async def test_temporal_and_the_database_away_is_unavailable(
    tmp_path: Path, departed: tuple[Event, str]
) -> None:
    event, body = departed
    gone = sa.create_engine(f"sqlite:///{tmp_path / 'no-such-dir' / 'flexhook.db'}")
    intake = Intake(
        engine=gone, starter=FakeStarter(error=TemporalUnavailable("x")), breaker=TemporalBreaker()
    )

    with pytest.raises(Unavailable):
        await intake.take(event, body=body, received_at=RECEIVED_AT)


async def test_an_event_too_large_for_temporal_is_refused_before_anything(
    engine: Engine, departed: tuple[Event, str]
) -> None:
    event, _ = departed
    starter = FakeStarter()
    intake = Intake(engine=engine, starter=starter, breaker=TemporalBreaker())

    with pytest.raises(EventTooLarge):
        await intake.take(event, body="\U0001f4a5" * 1_000_000, received_at=RECEIVED_AT)
    assert starter.starts == []
    assert spooled(engine) == []


async def test_an_event_temporal_refuses_is_logged_failed_with_the_reason(
    engine: Engine, departed: tuple[Event, str]
) -> None:
    """Review L5: a 422 from Temporal used to leave no trace once Flexport gave up."""
    event, body = departed
    refusal = EventRejected("Temporal refused the event: search attribute ShipmentId too long")
    intake = Intake(engine=engine, starter=FakeStarter(error=refusal), breaker=TemporalBreaker())

    with pytest.raises(EventRejected):
        await intake.take(event, body=body, received_at=RECEIVED_AT)

    with Session(engine) as session:
        row = session.get(EventRecord, event.event_id)
    assert row is not None
    assert (row.status, row.error) == (EventStatus.FAILED, str(refusal))
    assert row.payload == body
    assert spooled(engine) == []
