"""Ops incidents in the database: each alert and each recovery is claimed once, whoever asks."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.store import db, ops_incidents

T = TypeVar("T")
KEY = "destination-failing:url-0123456789abcdef"
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = db.create_db_engine(f"sqlite:///{tmp_path / 'flexhook.db'}")
    db.upgrade(engine)
    yield engine
    engine.dispose()


def step(engine: Engine, fn: Callable[..., T], **kwargs: object) -> T:
    """`fn(session, **kwargs)` in a transaction of its own, as each process does."""
    with Session(engine) as session:
        result = fn(session, **kwargs)
        session.commit()
    return result


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_an_incident_is_alerted_once_and_its_recovery_once(engine: Engine) -> None:
    opened = step(engine, ops_incidents.open_incident, key=KEY, opened_at=at(0))
    again = step(engine, ops_incidents.open_incident, key=KEY, opened_at=at(1))

    assert opened.opened_at == again.opened_at == at(0)  # the first opening stands
    assert step(engine, ops_incidents.claim_alert, key=KEY, now=at(1)) is True
    assert step(engine, ops_incidents.claim_alert, key=KEY, now=at(2)) is False
    recovered = step(engine, ops_incidents.recover, key=KEY, now=at(5))
    assert recovered is not None
    assert (recovered.opened_at, recovered.recovered_at) == (at(0), at(5))
    assert step(engine, ops_incidents.recover, key=KEY, now=at(6)) is None
    assert step(engine, ops_incidents.claim_alert, key=KEY, now=at(7)) is False  # it is over


def test_a_blip_that_was_never_alerted_closes_silently(engine: Engine) -> None:
    step(engine, ops_incidents.open_incident, key=KEY, opened_at=at(0))

    assert step(engine, ops_incidents.recover, key=KEY, now=at(1)) is None
    found = step(engine, ops_incidents.find, key=KEY)
    assert found is not None and not found.is_open


def test_trouble_after_an_announced_recovery_is_a_new_incident(engine: Engine) -> None:
    step(engine, ops_incidents.open_incident, key=KEY, opened_at=at(0))
    step(engine, ops_incidents.claim_alert, key=KEY, now=at(1))
    step(engine, ops_incidents.recover, key=KEY, now=at(2))

    fresh = step(engine, ops_incidents.open_incident, key=KEY, opened_at=at(10))

    assert (fresh.opened_at, fresh.alerted_at, fresh.recovered_at) == (at(10), None, None)
    assert step(engine, ops_incidents.claim_alert, key=KEY, now=at(11)) is True


def test_trouble_before_a_recovery_was_announced_goes_on_without_a_new_alert(
    engine: Engine,
) -> None:
    step(engine, ops_incidents.open_incident, key=KEY, opened_at=at(0))
    step(engine, ops_incidents.claim_alert, key=KEY, now=at(1))
    step(engine, ops_incidents.recover, key=KEY, now=at(2))
    step(engine, ops_incidents.release_recovery, key=KEY, claimed_at=at(2))  # nobody heard it

    back = step(engine, ops_incidents.open_incident, key=KEY, opened_at=at(3))

    assert (back.opened_at, back.alerted_at, back.recovered_at) == (at(0), at(1), None)
    assert step(engine, ops_incidents.claim_alert, key=KEY, now=at(4)) is False


def test_a_released_claim_is_taken_again_at_the_next_occasion(engine: Engine) -> None:
    step(engine, ops_incidents.open_incident, key=KEY, opened_at=at(0))
    step(engine, ops_incidents.claim_alert, key=KEY, now=at(1))

    step(engine, ops_incidents.release_alert, key=KEY, claimed_at=at(1))

    assert step(engine, ops_incidents.claim_alert, key=KEY, now=at(2)) is True
    step(engine, ops_incidents.recover, key=KEY, now=at(3))
    step(engine, ops_incidents.release_recovery, key=KEY, claimed_at=at(3))
    assert step(engine, ops_incidents.has_news, key=KEY) is True
    assert step(engine, ops_incidents.recover, key=KEY, now=at(4)) is not None
    assert step(engine, ops_incidents.has_news, key=KEY) is False


def test_of_many_processes_claiming_at_once_exactly_one_wins(engine: Engine) -> None:
    start = threading.Barrier(8)
    opened: list[bool] = []
    recovered: list[bool] = []

    def replica() -> None:
        start.wait()
        with Session(engine) as session:
            ops_incidents.open_incident(session, key=KEY, opened_at=at(0))
            opened.append(ops_incidents.claim_alert(session, key=KEY, now=at(1)))
            session.commit()
        start.wait()
        with Session(engine) as session:
            recovered.append(ops_incidents.recover(session, key=KEY, now=at(2)) is not None)
            session.commit()

    threads = [threading.Thread(target=replica) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(opened) == [False] * 7 + [True]
    assert sorted(recovered) == [False] * 7 + [True]


def test_open_incidents_are_counted_by_kind_with_those_whose_alert_has_not_gone_out(
    engine: Engine,
) -> None:
    failing = "destination-failing:url-0123456789abcdef"
    failed_event = "event-failed:48262090"
    # Opened, alert not due yet (the spool watch waits FLEXHOOK_OPS_ALERT_AFTER).
    step(engine, ops_incidents.open_incident, key="spool-stuck", opened_at=at(0))
    # Opened and alerted.
    step(engine, ops_incidents.open_incident, key=failing, opened_at=at(1))
    step(engine, ops_incidents.claim_alert, key=failing, now=at(1))
    # Opened, claimed, and the send failed: released, so not gone out.
    step(engine, ops_incidents.open_incident, key=failed_event, opened_at=at(2))
    step(engine, ops_incidents.claim_alert, key=failed_event, now=at(3))
    step(engine, ops_incidents.release_alert, key=failed_event, claimed_at=at(3))
    # Over: not counted.
    step(engine, ops_incidents.open_incident, key="event-failed:1", opened_at=at(0))
    step(engine, ops_incidents.recover, key="event-failed:1", now=at(4))

    with Session(engine) as session:
        counts = ops_incidents.count_open(session)

    assert counts.open == {"spool-stuck": 1, "destination-failing": 1, "event-failed": 1}
    assert counts.unalerted == {"spool-stuck": 1, "event-failed": 1}
    assert counts.oldest_unalerted_at == at(0)


def test_with_no_open_incident_nothing_is_counted(engine: Engine) -> None:
    with Session(engine) as session:
        counts = ops_incidents.count_open(session)

    assert (counts.open, counts.unalerted, counts.oldest_unalerted_at) == ({}, {}, None)
