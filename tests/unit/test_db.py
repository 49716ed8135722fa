"""SQLite sessions: writers serialize on the write lock; readers never wait for it."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

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
        status, thread = await asyncio.wait_for(db.read_by_key(engine, read), timeout=5)
        writer.rollback()

    assert status == "departed"
    assert thread == threading.get_ident()  # no hop to a worker thread
