"""SQLite sessions: writers serialize on the write lock; readers never wait for it."""

from __future__ import annotations

import asyncio
import gc
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from app.store import db
from app.store.models import Shipment


async def test_a_read_does_not_wait_for_a_writer_holding_the_lock(tmp_path: Path) -> None:
    engine = db.create_db_engine(f"sqlite:///{tmp_path / 'flexhook.db'}")
    db.upgrade(engine)
    with Session(engine) as session:
        session.add(Shipment(id="418563", status="departed"))
        session.commit()

    with engine.connect() as writer:
        writer.execute(sa.text("UPDATE shipment SET status = 'arrived'"))  # holds the write lock

        def read(session: Session) -> str | None:
            return session.exec(select(Shipment.status)).one()

        status = await asyncio.wait_for(db.in_session(engine, read), timeout=5)
        writer.rollback()

    assert status == "departed"  # the last committed state, not the writer's


async def test_writes_commit_through_the_same_helper(tmp_path: Path) -> None:
    engine = db.create_db_engine(f"sqlite:///{tmp_path / 'flexhook.db'}")
    db.upgrade(engine)

    def add(session: Session) -> None:
        session.add(Shipment(id="418563"))

    await db.in_session(engine, add, commit=True)

    with Session(engine) as session:
        assert session.get(Shipment, "418563") is not None


async def test_a_read_by_key_on_sqlite_runs_on_the_loop_and_sees_only_committed_rows(
    tmp_path: Path,
) -> None:
    engine = db.create_db_engine(f"sqlite:///{tmp_path / 'flexhook.db'}")
    db.upgrade(engine)
    with Session(engine) as session:
        session.add(Shipment(id="418563", status="departed"))
        session.commit()

    def read(connection: sa.Connection) -> tuple[str, int]:
        status = connection.execute(sa.text("SELECT status FROM shipment")).scalar_one()
        return status, threading.get_ident()

    with engine.connect() as writer:
        writer.execute(sa.text("UPDATE shipment SET status = 'arrived'"))  # holds the write lock
        status, thread = await db.read_by_key(engine, read)  # a wait would be SQLite's, 30 s
        writer.rollback()

    assert status == "departed"
    assert thread == threading.get_ident()  # no hop to a worker thread


@pytest.mark.parametrize("ending", ["commit", "rollback", "close", "abandon"])
def test_however_a_write_transaction_ends_the_next_writer_gets_in(
    tmp_path: Path, ending: str
) -> None:
    engine = db.create_db_engine(f"sqlite:///{tmp_path / 'flexhook.db'}")
    db.upgrade(engine)
    first = engine.connect()
    first.begin()
    first.execute(sa.text("INSERT INTO shipment (id, versions) VALUES ('1', '{}')"))
    if ending == "abandon":  # dropped unfinished: the pool takes it back and resets it
        del first
        gc.collect()
    else:
        getattr(first, ending)()

    def write() -> None:
        with engine.begin() as second:
            second.execute(sa.text("INSERT INTO shipment (id, versions) VALUES ('2', '{}')"))

    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(write).result(timeout=5)  # a writer lock left held would keep it 30 s
    with engine.connect() as connection:
        ids = connection.execute(sa.text("SELECT id FROM shipment ORDER BY id")).scalars().all()
    assert ids == (["1", "2"] if ending == "commit" else ["2"])
    engine.dispose()


def test_data_errors_are_told_from_races_and_outages(tmp_path: Path) -> None:
    """Review M2: what retrying cannot heal (a refused value, a broken constraint) is a data
    error; a unique key (two writers, one row) and a database away are not. Error texts never
    quote the bound parameters (review M6)."""
    engine = db.create_db_engine(f"sqlite:///{tmp_path / 'errors.db'}")
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE t (id TEXT PRIMARY KEY, v TEXT NOT NULL)")
        connection.execute(sa.text("INSERT INTO t VALUES (:id, :v)"), {"id": "a", "v": "secret-1"})
    caught: list[sa.exc.SQLAlchemyError] = []
    for values in ({"id": "a", "v": "secret-2"}, {"id": "b", "v": None}):
        try:
            with engine.begin() as connection:
                connection.execute(sa.text("INSERT INTO t VALUES (:id, :v)"), values)
        except sa.exc.SQLAlchemyError as exc:
            caught.append(exc)
    engine.dispose()
    unique, not_null = caught

    assert not db.is_data_error(unique)
    assert db.is_data_error(not_null)
    assert db.is_data_error(sa.exc.DataError("INSERT", {}, Exception("value too long")))
    assert not db.is_data_error(sa.exc.OperationalError("SELECT", {}, Exception("locked")))
    assert "secret-2" not in str(unique) and "hide_parameters" in str(unique)
