"""The exception inbox's store (`app.store.exceptions`) on a migrated SQLite database:
redeliveries and late events, a person's action racing Flexport's clearing event through two
sessions (compare-and-set: exactly one wins, the other decides again), bulk actions, the
list's filters and keyset pages on its indexes, and complete timelines."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from app.core.exception_families import ExceptionEffect, Severity, exception_effect
from app.core.exception_state import ActionRefused, Notice
from app.store import db, exception_reads, exceptions
from app.store.exception_filters import ExceptionFilter
from app.store.exception_models import ShipmentExceptionRow
from app.store.exceptions import Outcome
from tests.unit.exception_samples import sample_event
from tests.unit.read_rows import query_plans

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
HOLD_TYPE = "/shipment#customs_agriculture_hold"
DELAY_TYPE = "/shipment#cargo_ready_date_changed_exception"
NO_OVERRIDES: dict[str, Severity] = {}
CLOCK = itertools.count()


def effect_of(prefix: str, event_type: str | None = None) -> ExceptionEffect:
    flexport = sample_event(prefix, event_type=event_type)
    return exception_effect(flexport.type, flexport.classification, flexport.facts())


HOLD = effect_of("01_shipment_created", HOLD_TYPE)
DELAY = effect_of("01_shipment_created", DELAY_TYPE)
RELEASE = effect_of("11_customs_released")


@pytest.fixture
def engine(cli_database: str) -> Iterator[Engine]:
    engine = db.create_db_engine(cli_database)
    yield engine
    engine.dispose()


def record(
    engine: Engine,
    effect: ExceptionEffect,
    event_id: str,
    minutes: int,
    *,
    shipment_id: str = "SHP-1",
    severities: dict[str, Severity] = NO_OVERRIDES,
) -> tuple[Outcome, ...]:
    with Session(engine) as session:
        outcomes = exceptions.record_event(
            session,
            shipment_id=shipment_id,
            event_id=event_id,
            occurred_at=T0 + timedelta(minutes=minutes),
            effect=effect,
            severities=severities,
            now=T0 + timedelta(hours=1, minutes=minutes),
        )
        session.commit()
    return outcomes


def act(engine: Engine, exception_id: int, action: exceptions.Action, **kwargs: Any) -> Outcome:
    """A person's action, each a second after the one before (from two hours past T0)."""
    at = T0 + timedelta(hours=2, seconds=next(CLOCK))
    with Session(engine) as session:
        outcome = exceptions.act(session, exception_id=exception_id, action=action, at=at, **kwargs)
        session.commit()
    return outcome


def read(engine: Engine, exception_id: int) -> tuple[ShipmentExceptionRow, list[tuple[str, str]]]:
    with Session(engine) as session:
        row, entries = exception_reads.get_exception(session, exception_id=exception_id)
        session.expunge(row)
        return row, [(entry.who, entry.what) for entry in entries]


def the_hold(engine: Engine) -> int:
    (outcome,) = record(engine, HOLD, "hold-1", 0)
    return outcome.exception_id


def test_a_redelivered_report_or_clearing_changes_nothing(engine: Engine) -> None:
    hold = the_hold(engine)
    assert [o.changed for o in record(engine, HOLD, "hold-1", 0)] == [False]
    act(engine, hold, "acknowledge", by="ana")
    first = record(engine, RELEASE, "release-1", 30)
    again = record(engine, RELEASE, "release-1", 30)

    assert first[0].notices == (exceptions.Notified(hold, Notice(to="ana", kind="resolved")),)
    assert [(o.changed, o.notices) for o in again] == [(False, ())]
    row, timeline = read(engine, hold)
    assert (row.state, row.occurrences, row.resolved_by) == ("resolved", 1, "flexport:release-1")
    assert timeline == [
        ("flexport:hold-1", "opened"),
        ("ana", "acknowledged"),
        ("flexport:release-1", "resolved"),
    ]
    with Session(engine) as session:
        assert len(session.exec(select(ShipmentExceptionRow)).all()) == 1


def test_a_late_report_never_reopens_and_a_newer_one_recurs(engine: Engine) -> None:
    hold = the_hold(engine)
    record(engine, HOLD, "hold-2", 10)
    record(engine, RELEASE, "release-1", 30)
    record(engine, HOLD, "hold-late", 20)  # reported after the release, but older than it
    late, _ = read(engine, hold)
    record(engine, HOLD, "hold-again", 90)
    row, timeline = read(engine, hold)

    assert (late.state, late.occurrences, late.recurrences) == ("resolved", 3, 0)
    assert (row.state, row.occurrences, row.recurrences, row.resolved_by) == ("open", 4, 1, None)
    assert [what for _, what in timeline] == [
        "opened",
        "occurrence",
        "resolved",
        "occurrence",
        "recurred",
    ]


# A hold, a release, the hold reported again and a second release, each (effect, event id,
# minutes after T0): in time order hold-1, hold-2, release-1, release-2.
HOLD_AND_RELEASES = (
    (HOLD, "hold-1", 0),
    (RELEASE, "release-1", 1020),
    (HOLD, "hold-2", 960),
    (RELEASE, "release-2", 1440),
)


@pytest.mark.parametrize("order", list(itertools.permutations(range(4))))
def test_every_order_of_holds_and_releases_ends_the_same_in_the_store(
    engine: Engine, order: tuple[int, ...]
) -> None:
    """A release that reaches an exception already resolved changes nothing for people, but
    the store keeps its marker all the same: without it, a later hold older than that release
    would find the exception open in some orders (review: [hold-2, release-2, release-1, hold-1]
    ended open with a recurrence)."""
    for index in order:
        effect, event_id, minutes = HOLD_AND_RELEASES[index]
        record(engine, effect, event_id, minutes)
    [exception_id] = {o.exception_id for o in record(engine, HOLD, "hold-1", 0)}
    row, _ = read(engine, exception_id)
    assert (row.state, row.occurrences, row.recurrences, row.resolved_by) == (
        "resolved",
        2,
        0,
        "flexport:release-1",
    )


def test_a_release_that_came_before_its_hold_resolves_the_hold_it_releases(
    engine: Engine,
) -> None:
    assert record(engine, RELEASE, "release-1", 30) == ()
    (outcome,) = record(engine, HOLD, "hold-1", 0)
    row, timeline = read(engine, outcome.exception_id)

    assert (row.state, row.resolved_by) == ("resolved", "flexport:release-1")
    assert timeline == [("flexport:hold-1", "opened"), ("flexport:release-1", "resolved")]


def stale_read_then(
    monkeypatch: pytest.MonkeyPatch, engine: Engine, other_writer: Callable[[], object]
) -> None:
    """The first read of a row is followed, before its write, by `other_writer` committing in
    a second session: the interleaving PostgreSQL allows (SQLite serializes writers, so the
    first session's transaction ends after its read to let the second one in)."""
    real_fresh = exceptions.fresh_row
    calls: list[int] = []

    def fresh(session: Session, exception_id: int) -> ShipmentExceptionRow:
        row = real_fresh(session, exception_id)
        if not calls:
            calls.append(exception_id)
            session.expunge(row)
            session.rollback()
            other_writer()
        return row

    monkeypatch.setattr(exceptions, "fresh_row", fresh)


def test_an_acknowledgement_racing_the_release_meets_the_release(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    hold = the_hold(engine)
    released: list[tuple[Outcome, ...]] = []
    stale_read_then(monkeypatch, engine, lambda: released.append(record(engine, RELEASE, "r", 30)))

    with pytest.raises(ActionRefused, match="already resolved by flexport:r at 2026-12-01 08:30"):
        act(engine, hold, "acknowledge", by="ana")

    row, timeline = read(engine, hold)
    assert released[0][0].notices == ()  # nobody had acknowledged it when it cleared
    assert (row.state, row.acknowledged_by, row.version) == ("resolved", None, 2)
    assert [what for _, what in timeline] == ["opened", "resolved"]


def test_a_release_racing_an_acknowledgement_resolves_it_and_tells_the_acknowledger(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    hold = the_hold(engine)
    stale_read_then(monkeypatch, engine, lambda: act(engine, hold, "acknowledge", by="ana"))

    (released,) = record(engine, RELEASE, "r", 30)

    row, timeline = read(engine, hold)
    assert released.notices == (exceptions.Notified(hold, Notice(to="ana", kind="resolved")),)
    assert (row.state, row.acknowledged_by, row.version) == ("resolved", "ana", 3)
    assert [what for _, what in timeline] == ["opened", "acknowledged", "resolved"]


def test_a_person_acts_and_is_refused_with_the_cores_reasons(engine: Engine) -> None:
    hold = the_hold(engine)
    assigned = act(engine, hold, "assign", by="ana", assignee="ben", note="call the broker")
    act(engine, hold, "snooze", by="ben", until=T0 + timedelta(days=1))
    with pytest.raises(ActionRefused, match="a note is required"):
        act(engine, hold, "resolve", by="ben")
    act(engine, hold, "resolve", by="ben", note="released by phone")
    with pytest.raises(ActionRefused, match="cannot snooze: already resolved by ben"):
        act(engine, hold, "snooze", by="ben", until=T0 + timedelta(days=1))
    act(engine, hold, "reopen", by="ana", note="not released after all")
    act(engine, hold, "note", by="ana", note="broker called back")

    row, timeline = read(engine, hold)
    assert assigned.notices == (exceptions.Notified(hold, Notice(to="ben", kind="assigned")),)
    assert (row.state, row.assignee, row.snoozed_until, row.resolved_by) == (
        "open",
        "ben",
        None,
        None,
    )
    assert timeline == [
        ("flexport:hold-1", "opened"),
        ("ana", "assigned"),
        ("ben", "snoozed until 2026-12-02 08:00 UTC"),
        ("ben", "resolved"),
        ("ana", "reopened"),
        ("ana", "noted"),
    ]
    with pytest.raises(exceptions.UnknownException):
        act(engine, hold + 1000, "note", by="ana", note="nothing there")


def test_bulk_acknowledges_ten_with_one_note_and_says_why_it_skipped_another(
    engine: Engine,
) -> None:
    ids = [
        record(engine, HOLD, f"hold-{n}", n, shipment_id=f"SHP-{n}")[0].exception_id
        for n in range(11)
    ]
    act(engine, ids[5], "acknowledge", by="ben")

    with Session(engine) as session:
        outcomes = exceptions.bulk_act(
            session,
            where=ExceptionFilter(family="customs_hold"),
            action="acknowledge",
            by="ana",
            at=T0 + timedelta(hours=3),
            note="on it with the broker",
        )
        session.commit()

    assert sorted(o.exception_id for o in outcomes) == sorted(ids)
    assert [o.refused for o in outcomes if o.refused] == ["already acknowledged by ben"]
    assert sum(o.changed for o in outcomes) == 10
    for exception_id in ids:
        row, _ = read(engine, exception_id)
        assert row.acknowledged_by == ("ben" if exception_id == ids[5] else "ana")


@pytest.fixture
def inbox(engine: Engine) -> dict[str, int]:
    """Five exceptions: holds (critical) on SHP-1..3, departure delays on SHP-1 (configured
    normal) and SHP-4 (high by default)."""
    ids = {
        f"hold{n}": record(engine, HOLD, f"h{n}", n, shipment_id=f"SHP-{n}")[0].exception_id
        for n in (1, 2, 3)
    }
    ids["delay1"] = record(
        engine, DELAY, "d1", 4, shipment_id="SHP-1", severities={"departure_delay": "normal"}
    )[0].exception_id
    ids["delay4"] = record(engine, DELAY, "d4", 5, shipment_id="SHP-4")[0].exception_id
    act(engine, ids["hold2"], "assign", by="ana", assignee="ben")
    act(engine, ids["hold3"], "acknowledge", by="ana")
    record(engine, RELEASE, "release-1", 30, shipment_id="SHP-1")
    return ids


def listed(engine: Engine, **where: str) -> list[int]:
    with Session(engine) as session:
        page = exception_reads.list_exceptions(session, where=ExceptionFilter(**where))
        return [row.id for row in page.exceptions if row.id is not None]


def test_the_list_filters_and_orders_by_severity_then_age(
    engine: Engine, inbox: dict[str, int]
) -> None:
    ids = inbox
    assert listed(engine) == [
        ids["hold1"],
        ids["hold2"],
        ids["hold3"],
        ids["delay4"],
        ids["delay1"],
    ]
    assert listed(engine, state="open") == [ids["hold2"], ids["delay4"], ids["delay1"]]
    assert listed(engine, state="resolved") == [ids["hold1"]]
    assert listed(engine, family="departure_delay") == [ids["delay4"], ids["delay1"]]
    assert listed(engine, severity="high") == [ids["delay4"]]
    assert listed(engine, shipment_id="SHP-1") == [ids["hold1"], ids["delay1"]]
    assert listed(engine, assignee="ben") == [ids["hold2"]]
    assert listed(engine, state="acknowledged", family="customs_hold") == [ids["hold3"]]
    assert listed(engine, severity="urgent") == []


def test_keyset_pages_walk_the_whole_inbox_once(engine: Engine, inbox: dict[str, int]) -> None:
    seen: list[int] = []
    cursor = None
    with Session(engine) as session:
        while True:
            page = exception_reads.list_exceptions(
                session, where=ExceptionFilter(), after=cursor, limit=2
            )
            seen.extend(row.id for row in page.exceptions if row.id is not None)
            if page.next is None:
                break
            cursor = page.next
    assert seen == listed(engine)
    assert len(seen) == 5


def test_every_list_query_searches_an_index_in_inbox_order(
    engine: Engine, inbox: dict[str, int]
) -> None:
    statements: list[tuple[str, Any]] = []

    def remember(_c: Any, _cu: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "FROM shipment_exception" in statement:
            statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", remember)
    try:
        for where in (
            {"state": "open"},
            {"family": "customs_hold"},
            {"assignee": "ben"},
            {"shipment_id": "SHP-1"},
            {"severity": "critical"},
            {},
        ):
            listed(engine, **where)
    finally:
        event.remove(engine, "before_cursor_execute", remember)

    assert len(statements) == 6
    for statement in statements:
        plan = query_plans(engine, [statement])
        searched = [step for step in plan if "shipment_exception" in step]
        assert len(searched) == 1 and " USING INDEX " in searched[0], plan
        if "shipment_id = " in statement[0]:
            continue  # one row per family at most: sorted by hand, no index to keep for it
        assert not any("TEMP B-TREE" in step for step in plan), plan
