"""Reconciliation's compare-and-start over a real SQLite log, with a starter that answers as it is
told: what counts as missing, the claim before each start, and what each answer leaves behind."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from app.core.events import parse_event
from app.core.statuses import StartStatus
from app.ingest.errors import EventRejected, TemporalUnavailable
from app.ingest.reconcile import Reconciler, Window
from app.store import db, reconcile_runs
from app.store.models import EventRecord, ReconcileRun, SpooledEvent
from app.store.projection import new_event_row
from app.store.reconcile_runs import RECONCILE_SOURCE, Tally
from tests.unit.fake_starter import FakeStarter

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
JOURNEY = ("01", "06", "09", "11", "14")


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    engine = db.create_db_engine(f"sqlite:///{tmp_path / 'flexhook.db'}")
    db.upgrade(engine)
    return engine


@pytest.fixture
def listed(sample: Callable[[str], bytes]) -> list[dict[str, Any]]:
    """Five Event objects as Flexport's Events API lists them."""
    return [json.loads(sample(prefix)) for prefix in JOURNEY]


def log_event(engine: Engine, payload: dict[str, Any], *, status: str) -> None:
    body = json.dumps(payload)
    with Session(engine) as session:
        session.add(
            new_event_row(
                parse_event(body.encode()),
                body=body,
                workflow_id=f"flexport-event-{payload['id']}",
                received_at=NOW,
                status=status,
            )
        )
        session.commit()


def rows(engine: Engine) -> dict[str, tuple[str, str | None]]:
    """event id -> (status, source) of every logged event."""
    with Session(engine) as session:
        return {r.event_id: (r.status, r.source) for r in session.exec(select(EventRecord))}


def spool_rows(engine: Engine) -> list[SpooledEvent]:
    with Session(engine) as session:
        return list(session.exec(select(SpooledEvent)).all())


def reconciler(engine: Engine, starter: FakeStarter | None) -> Reconciler:
    return Reconciler(engine=engine, starter=starter, clock=lambda: NOW)


def ids(events: list[dict[str, Any]]) -> list[str]:
    return [str(event["id"]) for event in events]


async def test_events_the_log_lacks_are_claimed_then_started(
    engine: Engine, listed: list[dict[str, Any]]
) -> None:
    log_event(engine, listed[0], status="processed")
    starter = FakeStarter()

    tally = await reconciler(engine, starter).reconcile_page(listed)

    assert (tally.listed, tally.known, tally.missing, tally.started) == (5, 1, 4, 4)
    assert tally.errors == ()
    assert sorted(s.event_id for s in starter.starts) == sorted(ids(listed[1:]))
    assert not any(s.rerun for s in starter.starts)
    logged = rows(engine)
    assert logged[ids(listed)[0]] == ("processed", None)
    # The workflow moves them on from queued; the mark says how they reached the log.
    assert {logged[i] for i in ids(listed[1:])} == {("queued", RECONCILE_SOURCE)}
    assert spool_rows(engine) == []


async def test_a_logged_event_is_never_missing_whatever_its_status(
    engine: Engine, listed: list[dict[str, Any]]
) -> None:
    statuses = ("failed", "queued", "processing", "ignored", "processed")
    for payload, status in zip(listed, statuses, strict=True):
        log_event(engine, payload, status=status)
    starter = FakeStarter()

    tally = await reconciler(engine, starter).reconcile_page(listed)

    assert (tally.listed, tally.known, tally.missing, tally.started) == (5, 5, 0, 0)
    assert starter.starts == []
    assert rows(engine)[ids(listed)[0]] == ("failed", None)  # redrive's business, not ours


async def test_a_second_run_finds_nothing_missing(
    engine: Engine, listed: list[dict[str, Any]]
) -> None:
    starter = FakeStarter()
    first = await reconciler(engine, starter).reconcile_page(listed)
    second = await reconciler(engine, starter).reconcile_page(listed)

    assert (first.missing, first.started) == (5, 5)
    assert (second.known, second.missing, second.started) == (5, 0, 0)
    assert len(starter.starts) == 5


async def test_a_duplicate_start_withdraws_the_mark(
    engine: Engine, listed: list[dict[str, Any]]
) -> None:
    # A delivery started the workflow between our comparison and our start.
    starter = FakeStarter(answer=StartStatus.DUPLICATE)

    tally = await reconciler(engine, starter).reconcile_page(listed[:2])

    assert (tally.missing, tally.started, tally.errors) == (2, 0, ())
    assert set(rows(engine).values()) == {("queued", None)}
    assert spool_rows(engine) == []


async def test_with_temporal_away_claimed_events_are_left_to_the_relay(
    engine: Engine, listed: list[dict[str, Any]]
) -> None:
    starter = FakeStarter(error=TemporalUnavailable("ConnectError"))

    tally = await Reconciler(
        engine=engine, starter=starter, concurrency=1, clock=lambda: NOW
    ).reconcile_page(listed)

    assert (tally.missing, tally.started) == (5, 0)
    assert len(starter.starts) == 1  # the others do not each wait out a start timeout
    assert len(tally.errors) == 5
    assert all("left in the spool for the relay" in e for e in tally.errors)
    spooled = spool_rows(engine)
    assert sorted(s.event_id for s in spooled) == sorted(ids(listed))
    assert {(s.leased_until, s.attempts) for s in spooled} == {(None, 1)}  # the relay's now
    assert set(rows(engine).values()) == {("queued", RECONCILE_SOURCE)}


async def test_an_event_temporal_refuses_is_marked_failed(
    engine: Engine, listed: list[dict[str, Any]]
) -> None:
    starter = FakeStarter(error=EventRejected("Temporal refused the event: too big"))

    tally = await reconciler(engine, starter).reconcile_page(listed[:1])

    assert tally.started == 0
    assert tally.errors == (
        f"event {listed[0]['id']}: Temporal refused the event: too big; marked failed",
    )
    assert rows(engine)[ids(listed)[0]] == ("failed", RECONCILE_SOURCE)
    assert spool_rows(engine) == []


async def test_a_dry_run_writes_and_starts_nothing(
    engine: Engine, listed: list[dict[str, Any]]
) -> None:
    log_event(engine, listed[2], status="processed")
    starter = FakeStarter()

    tally = await reconciler(engine, starter).reconcile_page(listed, dry_run=True)

    assert (tally.listed, tally.known, tally.missing, tally.started) == (5, 1, 4, 0)
    assert list(tally.missing_ids) == [i for i in ids(listed) if i != ids(listed)[2]]
    assert starter.starts == []
    assert list(rows(engine)) == [ids(listed)[2]]
    assert spool_rows(engine) == []


async def test_objects_that_are_not_events_and_repeated_ids_are_counted_once(
    engine: Engine, listed: list[dict[str, Any]]
) -> None:
    page = [listed[0], {"id": 7, "_object": "/event"}, listed[0], listed[1]]
    starter = FakeStarter()

    tally = await reconciler(engine, starter).reconcile_page(page)

    assert (tally.listed, tally.known, tally.missing, tally.started) == (4, 0, 2, 2)
    assert tally.errors == ("listed event 7: body has no `type` string",)


async def test_an_event_too_large_for_temporal_is_reported_not_claimed(
    engine: Engine, listed: list[dict[str, Any]]
) -> None:
    huge = {**listed[0], "padding": "x" * 1_600_000}
    starter = FakeStarter()

    tally = await reconciler(engine, starter).reconcile_page([huge])

    assert (tally.missing, tally.started) == (1, 0)
    assert "once encoded for Temporal" in tally.errors[0]
    assert starter.starts == [] and rows(engine) == {}


def test_a_claim_leaves_an_event_that_reached_the_log_meanwhile(
    engine: Engine, listed: list[dict[str, Any]]
) -> None:
    log_event(engine, listed[0], status="processing")  # delivered since the comparison
    events = [(parse_event(json.dumps(p).encode()), json.dumps(p)) for p in listed[:2]]

    with Session(engine) as session:
        claimed = reconcile_runs.claim_missing(
            session, events=events, received_at=NOW, leased_until=NOW + timedelta(minutes=5)
        )
        session.commit()

    assert claimed == [ids(listed)[1]]
    assert rows(engine)[ids(listed)[0]] == ("processing", None)
    [spooled] = spool_rows(engine)
    assert (spooled.event_id, spooled.leased_until) == (ids(listed)[1], NOW + timedelta(minutes=5))


# -- the record of runs -----------------------------------------------------------------------


def record(engine: Engine, **changes: Any) -> int:
    values: dict[str, Any] = {
        "trigger": "cli",
        "since": NOW - timedelta(hours=72),
        "until": NOW,
        "tally": Tally(listed=13, known=9, missing=4, started=4),
        "started_at": NOW,
        "finished_at": NOW + timedelta(seconds=2),
        **changes,
    }
    with Session(engine) as session:
        row = reconcile_runs.record_run(session, **values)
        session.commit()
        assert row.id is not None
        return row.id


def test_runs_are_recorded_and_listed_newest_first(engine: Engine) -> None:
    record(engine)
    record(
        engine,
        trigger="schedule",
        tally=Tally(listed=2, errors=("Flexport refused the API token (401)",)),
        started_at=NOW + timedelta(minutes=15),
        finished_at=NOW + timedelta(minutes=15, seconds=1),
        workflow_id="flexhook-reconcile-2026-03-20T12:15:00Z",
    )

    with Session(engine) as session:
        newest, oldest = reconcile_runs.recent_runs(session, limit=10)

    assert newest["trigger"] == "schedule" and newest["outcome"] == "error"
    assert newest["errors"] == ["Flexport refused the API token (401)"]
    assert newest["workflow_id"] == "flexhook-reconcile-2026-03-20T12:15:00Z"
    assert oldest == {
        "id": oldest["id"],
        "trigger": "cli",
        "outcome": "ok",
        "dry_run": False,
        "since": "2026-03-17T12:00:00+00:00",
        "until": "2026-03-20T12:00:00+00:00",
        "listed": 13,
        "known": 9,
        "missing": 4,
        "started": 4,
        "errors": [],
        "started_at": "2026-03-20T12:00:00+00:00",
        "finished_at": "2026-03-20T12:00:02+00:00",
        "duration_seconds": 2.0,
        "workflow_id": None,
    }


def test_a_workflow_recorded_twice_keeps_one_row(engine: Engine) -> None:
    # The record activity committed, then its completion was lost: Temporal runs it again.
    first = record(engine, trigger="schedule", workflow_id="flexhook-reconcile-x")
    again = record(engine, trigger="schedule", workflow_id="flexhook-reconcile-x")

    assert first == again
    with Session(engine) as session:
        assert len(session.exec(select(ReconcileRun)).all()) == 1


def test_errors_are_kept_bounded(engine: Engine) -> None:
    errors = tuple(f"event {n}: Temporal unavailable" for n in range(80))

    record(engine, tally=Tally(errors=errors))

    with Session(engine) as session:
        [run] = reconcile_runs.recent_runs(session, limit=1)
    assert len(run["errors"]) == reconcile_runs.MAX_ERROR_LINES + 1
    assert run["errors"][-1] == "... and 30 more"


async def test_counts_for_the_metrics(engine: Engine, listed: list[dict[str, Any]]) -> None:
    with Session(engine) as session:
        empty = reconcile_runs.run_counts(session)
    assert (empty.runs, empty.started, empty.last_ok_at, empty.last_missing) == ({}, 0, None, None)
    await reconciler(engine, FakeStarter()).reconcile_page(listed[:3])
    record(engine)
    record(
        engine,
        dry_run=True,
        tally=Tally(missing=1),
        started_at=NOW + timedelta(minutes=1),
        finished_at=NOW + timedelta(minutes=1),
    )
    record(
        engine,
        trigger="schedule",
        tally=Tally(errors=("boom",)),
        started_at=NOW + timedelta(minutes=2),
        finished_at=NOW + timedelta(minutes=3),
    )

    with Session(engine) as session:
        counts = reconcile_runs.run_counts(session)

    assert counts.runs == {("cli", "ok"): 2, ("schedule", "error"): 1}
    assert counts.started == 4
    assert counts.reconciled_events == 3
    assert counts.last_finished_at == {
        "cli": NOW + timedelta(minutes=1),
        "schedule": NOW + timedelta(minutes=3),
    }
    assert counts.last_ok_at == NOW + timedelta(minutes=1)
    assert counts.last_missing == 0  # the schedule's run; the dry run does not count


def test_tallies_add_up_and_summarise() -> None:
    total = Tally(listed=4, known=1, missing=3, started=2, errors=("a",)) + Tally(
        listed=1, missing=1, started=1, errors=("b",)
    )

    assert total.summary() == "listed 5, known 1, missing 4, started 3"
    assert total.errors == ("a", "b")


def test_a_window_is_aware_and_in_order() -> None:
    window = Window.ending(NOW, lookback=timedelta(hours=72))

    assert (window.since, window.until) == (NOW - timedelta(hours=72), NOW)
    assert Window.ending(NOW, lookback=timedelta(hours=1), since=NOW).since == NOW
    with pytest.raises(ValueError, match="after"):
        Window.ending(NOW, lookback=timedelta(0), since=NOW + timedelta(seconds=1))
    with pytest.raises(ValueError, match="timezone"):
        Window(since=datetime(2026, 3, 1), until=NOW)


def test_the_migration_adds_the_mark_to_a_log_that_has_events(tmp_path: Path) -> None:
    engine = db.create_db_engine(f"sqlite:///{tmp_path / 'old.db'}")
    config = db.alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
        connection.execute(
            sa.text(
                "INSERT INTO event (event_id, type, category, name, received_at, status, "
                "workflow_id, payload, alerts) VALUES ('1', '/shipment#created', 'booking', "
                "'created', '2026-03-01 00:00:00', 'processed', 'flexport-event-1', '{}', '[]')"
            )
        )

    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0002")

    assert rows(engine) == {"1": ("processed", None)}
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0001")
        assert connection.execute(sa.text("SELECT event_id FROM event")).all() == [("1",)]
