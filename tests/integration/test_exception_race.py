"""A person's action and Flexport's clearing event racing on PostgreSQL, two sessions open at
once (read committed: neither read locks the row). Compare-and-set on the row's version lets
exactly one win; the other reads again and decides again. Runs with
FLEXHOOK_TEST_DATABASE=postgresql (SQLite serializes writers; tests/unit/test_exception_store.py
covers the same interleaving there)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.core.exception_state import ActionRefused, Notice
from app.store import db, exceptions
from app.store.exception_models import ShipmentExceptionRow
from tests.integration.postgres import PostgresServer
from tests.unit.test_exception_store import HOLD, RELEASE, act, read, record, the_hold


@pytest.fixture
def engine(postgres: PostgresServer | None) -> Iterator[Engine]:
    if postgres is None:
        pytest.skip("PostgreSQL only: set FLEXHOOK_TEST_DATABASE=postgresql")
    engine = db.create_db_engine(postgres.create_database())
    db.upgrade(engine)
    yield engine
    engine.dispose()


def between_read_and_write(monkeypatch: pytest.MonkeyPatch, other: Callable[[], object]) -> None:
    """`other` commits in its own session after the first read of a row, before its write."""
    real_fresh = exceptions.fresh_row
    done: list[bool] = []

    def fresh(session: Session, exception_id: int) -> ShipmentExceptionRow:
        row = real_fresh(session, exception_id)
        if not done:
            done.append(True)
            other()
        return row

    monkeypatch.setattr(exceptions, "fresh_row", fresh)


def test_the_release_wins_over_an_acknowledgement_read_before_it(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    hold = the_hold(engine)
    between_read_and_write(monkeypatch, lambda: record(engine, RELEASE, "r", 30))

    with pytest.raises(ActionRefused, match="already resolved by flexport:r"):
        act(engine, hold, "acknowledge", by="ana")

    row, timeline = read(engine, hold)
    assert (row.state, row.acknowledged_by, row.version) == ("resolved", None, 2)
    assert [what for _, what in timeline] == ["opened", "resolved"]


def test_an_acknowledgement_that_came_first_hears_of_the_release(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    hold = the_hold(engine)
    between_read_and_write(monkeypatch, lambda: act(engine, hold, "acknowledge", by="ana"))

    (released,) = record(engine, RELEASE, "r", 30)

    row, timeline = read(engine, hold)
    assert released.notices == (exceptions.Notified(hold, Notice(to="ana", kind="resolved")),)
    assert (row.state, row.acknowledged_by, row.version) == ("resolved", "ana", 3)
    assert [what for _, what in timeline] == ["opened", "acknowledged", "resolved"]


def test_two_first_reports_at_once_make_one_exception_with_two_occurrences(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_row_of = exceptions._row_of
    done: list[bool] = []

    def row_of(session: Session, shipment_id: str, family: str) -> ShipmentExceptionRow | None:
        row = real_row_of(session, shipment_id, family)
        if not done:
            done.append(True)
            record(engine, HOLD, "hold-2", 5)  # opens it after this session found none
        return row

    monkeypatch.setattr(exceptions, "_row_of", row_of)

    (first,) = record(engine, HOLD, "hold-1", 0)

    row, timeline = read(engine, first.exception_id)
    assert (row.occurrences, row.state) == (2, "open")
    assert timeline == [("flexport:hold-2", "opened"), ("flexport:hold-1", "occurrence")]
