"""The exception inbox's metrics in the store (`app.store.exception_stats`): the histograms of
time to acknowledge and to resolve, filled through `app.store.exceptions` in the transaction of
the transition (a refused, repeated, lost or rolled-back one counts nothing), the open gauge by
family and severity, the oldest open one, and the query plans of their reads."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.core.exception_families import ExceptionEffect, Severity, exception_effect
from app.core.exception_state import ActionRefused
from app.store import db, exceptions
from app.store.exception_stats import (
    BUCKETS,
    ExceptionCounts,
    HistogramCounts,
    bucket_label,
    read_exception_counts,
    unresolved_exceptions,
)
from tests.unit.exception_samples import sample_event
from tests.unit.read_rows import query_plans

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
NO_OVERRIDES: dict[str, Severity] = {}


def effect_of(prefix: str, event_type: str | None = None) -> ExceptionEffect:
    flexport = sample_event(prefix, event_type=event_type)
    return exception_effect(flexport.type, flexport.classification, flexport.facts())


HOLD = effect_of("01_shipment_created", "/shipment#customs_agriculture_hold")
DELAY = effect_of("01_shipment_created", "/shipment#cargo_ready_date_changed_exception")
CARGO = effect_of("01_shipment_created", "/shipment#missing_cargo")
RELEASE = effect_of("11_customs_released")


@pytest.fixture
def engine(cli_database: str) -> Iterator[Engine]:
    engine = db.create_db_engine(cli_database)
    yield engine
    engine.dispose()


def record(
    engine: Engine, effect: ExceptionEffect, event_id: str, at: timedelta, shipment: str = "S-1"
) -> int:
    """Flexport's event, occurred `at` past T0 and recorded at once; the exception it touched."""
    with Session(engine) as session:
        outcomes = exceptions.record_event(
            session,
            shipment_id=shipment,
            event_id=event_id,
            occurred_at=T0 + at,
            effect=effect,
            severities=NO_OVERRIDES,
            now=T0 + at,
        )
        session.commit()
    return outcomes[-1].exception_id


def act(
    engine: Engine, exception_id: int, action: exceptions.Action, at: timedelta, **kw: Any
) -> None:
    with Session(engine) as session:
        exceptions.act(session, exception_id=exception_id, action=action, at=T0 + at, **kw)
        session.commit()


def counts(engine: Engine) -> ExceptionCounts:
    with Session(engine) as session:
        return read_exception_counts(session)


def per_bucket(histogram: HistogramCounts) -> dict[str, int]:
    """The histogram's buckets that hold observations, not cumulative, by their label."""
    found: dict[str, int] = {}
    below = 0
    for bound, cumulative in histogram.buckets:
        if cumulative > below:
            found[bucket_label(bound)] = cumulative - below
        below = cumulative
    return found


MINUTES = timedelta(minutes=1)
HOURS = timedelta(hours=1)


def test_buckets_are_upper_bounds_from_five_minutes_to_a_week() -> None:
    assert [bucket_label(s) for s in (0, 300, 301, 3600, 604800, 604801)] == [
        "300",
        "300",
        "900",
        "3600",
        "604800",
        "+Inf",
    ]
    assert len(BUCKETS) == 8


def test_acknowledging_and_resolving_fill_cumulative_histograms(engine: Engine) -> None:
    hold = record(engine, HOLD, "hold-1", 0 * HOURS)
    act(engine, hold, "acknowledge", 10 * MINUTES, by="ana")
    record(engine, RELEASE, "release-1", 2 * HOURS)  # Flexport resolves it: 2 h
    cargo = record(engine, CARGO, "cargo-1", 0 * HOURS, shipment="S-2")
    act(engine, cargo, "acknowledge", 200 * HOURS, by="ben")  # past a week: +Inf
    act(engine, cargo, "resolve", 201 * HOURS, by="ben", note="found in the warehouse")

    acknowledge = counts(engine).histograms["acknowledge"]
    resolve = counts(engine).histograms["resolve"]

    assert per_bucket(acknowledge) == {"900": 1, "+Inf": 1}
    assert (acknowledge.count, acknowledge.sum) == (2, 600 + 200 * 3600)
    assert per_bucket(resolve) == {"14400": 1, "+Inf": 1}
    assert (resolve.count, resolve.sum) == (2, 2 * 3600 + 201 * 3600)
    assert resolve.buckets[-1] == (float("inf"), 2)
    assert [c for _bound, c in resolve.buckets] == [0, 0, 0, 1, 1, 1, 1, 1, 2]


def test_only_the_first_acknowledgement_of_each_episode_counts(engine: Engine) -> None:
    hold = record(engine, HOLD, "hold-1", 0 * HOURS)
    act(engine, hold, "acknowledge", 3 * MINUTES, by="ana")
    with pytest.raises(ActionRefused):
        act(engine, hold, "acknowledge", 4 * MINUTES, by="ben")
    act(engine, hold, "assign", 5 * MINUTES, by="ana", assignee="ben")
    act(engine, hold, "snooze", 6 * MINUTES, by="ana", until=T0 + 2 * HOURS)
    act(engine, hold, "note", 7 * MINUTES, by="ana", note="broker called")
    record(engine, RELEASE, "release-1", 1 * HOURS)
    record(engine, RELEASE, "release-1", 1 * HOURS)  # redelivered: nothing
    record(engine, HOLD, "hold-2", 30 * HOURS)  # recurs: a new episode, opened at 30 h
    act(engine, hold, "acknowledge", 30 * HOURS + 20 * MINUTES, by="ben")
    act(engine, hold, "resolve", 31 * HOURS, by="ben", note="released by phone")
    act(engine, hold, "reopen", 40 * HOURS, by="ana")  # a third episode, never acknowledged

    stats = counts(engine).histograms
    assert per_bucket(stats["acknowledge"]) == {"300": 1, "3600": 1}
    assert stats["acknowledge"].sum == 3 * 60 + 20 * 60
    assert per_bucket(stats["resolve"]) == {"3600": 2}  # 1 h each episode
    assert stats["resolve"].sum == 3600 + 3600


def test_a_transition_rolled_back_counts_nothing(engine: Engine) -> None:
    hold = record(engine, HOLD, "hold-1", 0 * HOURS)
    with Session(engine) as session:
        exceptions.act(session, exception_id=hold, action="acknowledge", by="ana", at=T0)
        session.rollback()

    assert counts(engine).histograms["acknowledge"].count == 0


def test_a_clearing_older_than_the_episode_counts_zero_seconds(engine: Engine) -> None:
    # Reported at 1 h (occurred and recorded then), cleared by an event that says it happened
    # at 30 min but arrived later: the episode lasted no time, never a negative one.
    with Session(engine) as session:
        exceptions.record_event(
            session,
            shipment_id="S-1",
            event_id="hold-1",
            occurred_at=T0,
            effect=HOLD,
            severities=NO_OVERRIDES,
            now=T0 + HOURS,
        )
        exceptions.record_event(
            session,
            shipment_id="S-1",
            event_id="release-1",
            occurred_at=T0 + 30 * MINUTES,
            effect=RELEASE,
            severities=NO_OVERRIDES,
            now=T0 + 2 * HOURS,
        )
        session.commit()

    resolve = counts(engine).histograms["resolve"]
    assert (per_bucket(resolve), resolve.sum) == ({"300": 1}, 0)


def test_the_open_gauge_counts_by_family_and_severity_and_finds_the_oldest(
    engine: Engine,
) -> None:
    assert counts(engine).open == {} and counts(engine).oldest_opened_at is None
    record(engine, HOLD, "hold-1", 0 * HOURS, shipment="S-1")
    record(engine, HOLD, "hold-2", 1 * HOURS, shipment="S-2")
    delay = record(engine, DELAY, "delay-1", 2 * HOURS, shipment="S-2")
    act(engine, delay, "acknowledge", 3 * HOURS, by="ana")
    record(engine, RELEASE, "release-1", 4 * HOURS, shipment="S-1")  # S-1's hold resolved

    found = counts(engine)
    assert found.open == {("customs_hold", "critical"): 1, ("departure_delay", "high"): 1}
    assert found.oldest_opened_at == T0 + HOURS  # S-2's hold: S-1's is resolved


@pytest.fixture
def statements(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    seen: list[tuple[str, Any]] = []

    def remember(*args: Any) -> None:
        if args[2].lstrip().upper().startswith("SELECT"):
            seen.append((args[2], args[3]))

    event.listen(engine, "before_cursor_execute", remember)
    yield seen
    event.remove(engine, "before_cursor_execute", remember)


def test_the_reads_search_the_unresolved_index_and_never_scan_the_exceptions(
    engine: Engine, statements: list[tuple[str, Any]]
) -> None:
    record(engine, HOLD, "hold-1", 0 * HOURS)
    statements.clear()
    counts(engine)

    plans = query_plans(engine, statements)
    on_exceptions = [p for p in plans if " shipment_exception " in f"{p} "]
    assert len(statements) == 3
    assert len(on_exceptions) == 2, plans
    # The open gauge walks the partial index of the unresolved ones (and nothing else); the
    # oldest one is a single search for that index's first entry.
    by_family, oldest = on_exceptions
    assert by_family.endswith("USING INDEX ix_shipment_exception_unresolved_family"), plans
    assert oldest.startswith("SEARCH") and "INDEX ix_shipment_exception_unresolved" in oldest


def test_the_digests_list_searches_only_unresolved_rows(
    engine: Engine, statements: list[tuple[str, Any]]
) -> None:
    record(engine, HOLD, "hold-1", 0 * HOURS)
    record(engine, RELEASE, "release-1", 1 * HOURS)
    record(engine, DELAY, "delay-1", 2 * HOURS, shipment="S-2")
    statements.clear()
    with Session(engine) as session:
        everyone = unresolved_exceptions(session, shipment_ids=None, limit=20)
        followed = unresolved_exceptions(session, shipment_ids=["S-1"], limit=20)

    assert [(r.shipment_id, r.family) for r, _name in everyone[0]] == [("S-2", "departure_delay")]
    assert (everyone[1], followed) == (1, ([], 0))
    plans = query_plans(engine, statements)
    on_exceptions = [p for p in plans if " shipment_exception " in f"{p} "]
    assert len(on_exceptions) == 4, plans
    for step in on_exceptions:  # a search, or the first entries of a walk in inbox order
        searched = step.startswith("SEARCH") and "INDEX" in step
        assert searched or step.endswith("INDEX ix_shipment_exception_unresolved_inbox"), plans
