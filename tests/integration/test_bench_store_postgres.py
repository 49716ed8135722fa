"""The benchmark's PostgreSQL fill (`bench.store.seed_postgres`, the `reads` phase's store)
writes what its SQLite fill writes: the same shipments as flexhook reads them back, the same
failed events and the same exceptions. Otherwise the reads table would compare two databases
holding different things. PostgreSQL only (FLEXHOOK_TEST_DATABASE=postgresql)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from app.store import db, reads
from bench import store, troubled
from tests.integration.postgres import PostgresServer

pytestmark = pytest.mark.integration
SHIPMENTS = troubled.FAILED_EVERY + 2  # two failed events, a few exceptions


@pytest.fixture
def postgres_engine(postgres: PostgresServer | None) -> Iterator[Engine]:
    if postgres is None:
        pytest.skip("PostgreSQL only: set FLEXHOOK_TEST_DATABASE=postgresql")
    url = postgres.create_database()
    engine = db.create_db_engine(url)
    db.upgrade(engine)
    store.seed_postgres(url, first_shipment=0, shipments=SHIPMENTS, window=10, troubles=True)
    yield engine
    engine.dispose()


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    path = tmp_path / "bench.db"
    engine = db.create_db_engine(f"sqlite:///{path}")
    db.upgrade(engine)
    store.seed(path, first_shipment=0, shipments=SHIPMENTS, window=10, troubles=True)
    yield engine
    engine.dispose()


def _held(engine: Engine) -> dict[str, Any]:
    with engine.connect() as connection:
        statuses = connection.exec_driver_sql(
            "SELECT status, count(*) FROM event GROUP BY status ORDER BY status"
        ).all()
        exception_rows = connection.exec_driver_sql(
            "SELECT shipment_id, family, severity, state, resolved_by FROM shipment_exception "
            "ORDER BY shipment_id"
        ).all()
        shipments = [
            reads.get_shipment(connection, shipment_id=store.shipment_id(k))
            for k in (0, SHIPMENTS - 1)
        ]
    return {
        "statuses": [tuple(row) for row in statuses],
        "exceptions": [tuple(row) for row in exception_rows],
        "shipments": shipments,
    }


def test_postgres_fill_holds_what_the_sqlite_fill_holds(
    postgres_engine: Engine, sqlite_engine: Engine
) -> None:
    on_postgres, on_sqlite = _held(postgres_engine), _held(sqlite_engine)
    events = SHIPMENTS * store.EVENTS_PER_SHIPMENT
    assert on_postgres["statuses"] == [("failed", 2), ("processed", events - 2)]
    assert len(on_postgres["exceptions"]) == -(-SHIPMENTS // troubled.EXCEPTION_EVERY)
    assert all(shipment is not None for shipment in on_postgres["shipments"])
    assert on_postgres == on_sqlite
