"""The inbox's histograms (`app.store.exception_stats`) on PostgreSQL under concurrent writers:
a transition that loses its compare-and-set counts nothing, the one that wins counts once, and
two first observations of one bucket at once (both find no row; one insert waits for the other
on the primary key) both count. Runs with FLEXHOOK_TEST_DATABASE=postgresql."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.core.exception_state import ActionRefused
from app.store import db, exception_stats
from app.store.exception_stats import read_exception_counts
from tests.integration.postgres import PostgresServer
from tests.integration.test_exception_race import between_read_and_write
from tests.unit.test_exception_store import RELEASE, act, record, the_hold


@pytest.fixture
def engine(postgres: PostgresServer | None) -> Iterator[Engine]:
    if postgres is None:
        pytest.skip("PostgreSQL only: set FLEXHOOK_TEST_DATABASE=postgresql")
    engine = db.create_db_engine(postgres.create_database())
    db.upgrade(engine)
    yield engine
    engine.dispose()


def observations(engine: Engine) -> dict[str, int]:
    with Session(engine) as session:
        found = read_exception_counts(session).histograms
    return {measure: histogram.count for measure, histogram in found.items()}


def test_an_acknowledgement_that_lost_to_the_release_counts_nothing(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    hold = the_hold(engine)
    between_read_and_write(monkeypatch, lambda: record(engine, RELEASE, "r", 30))

    with pytest.raises(ActionRefused, match="already resolved"):
        act(engine, hold, "acknowledge", by="ana")

    assert observations(engine) == {"acknowledge": 0, "resolve": 1}


def blocked_on_the_key(engine: Engine) -> None:
    """Returns once a session of this database waits for a lock (the second insert)."""
    query = sa.text(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    for _ in range(600):
        with engine.connect() as connection:
            if connection.execute(query).scalar_one():
                return
        time.sleep(0.05)
    pytest.fail("the second observation never waited for the first one's row")


def test_two_first_observations_of_a_bucket_at_once_both_count(engine: Engine) -> None:
    errors: list[BaseException] = []
    with Session(engine) as first:
        exception_stats._add(first, "acknowledge", 10.0)  # inserted, not committed yet

        def second() -> None:
            try:
                with Session(engine) as session:  # its insert waits for the first's commit
                    exception_stats._add(session, "acknowledge", 20.0)
                    session.commit()
            except BaseException as error:  # pragma: no cover - reported below
                errors.append(error)

        waiting = threading.Thread(target=second)
        waiting.start()
        blocked_on_the_key(engine)
        first.commit()
    waiting.join(timeout=60)

    assert not waiting.is_alive() and errors == []
    with Session(engine) as session:
        acknowledge = read_exception_counts(session).histograms["acknowledge"]
    assert (acknowledge.count, acknowledge.sum, acknowledge.buckets[0]) == (2, 30.0, (300.0, 2))
