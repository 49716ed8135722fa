"""Rows for the tests of the lists' pages (`test_read_pages`, `test_dashboard_read_pages`), and
SQLite's plans of the statements that read them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.store import db
from app.store.models import EventRecord, Shipment


def migrated(tmp_path: Path) -> Engine:
    """A SQLite file at the newest migration."""
    engine = db.create_db_engine(f"sqlite:///{tmp_path / 'flexhook.db'}")
    db.upgrade(engine)
    return engine


START = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
TYPES = ("shipment.milestone", "shipment.eta_changed", "shipment.created")


def add_events(engine: Engine, first: int, count: int, *, at: datetime) -> None:
    """`count` logged events, three at each received time (ties the cursor must break by id)."""
    with Session(engine) as session:
        for n in range(first, first + count):
            session.add(
                EventRecord(
                    event_id=f"evt_{n:05d}",
                    type=TYPES[n % 3],
                    category="shipment",
                    name="Milestone",
                    shipment_id=f"{1000 + n % 4}",
                    received_at=at + timedelta(seconds=(n - first) // 3),
                    status="failed" if n % 5 == 0 else "processed",
                    workflow_id=f"event-evt_{n:05d}",
                )
            )
        session.commit()


def add_shipments(engine: Engine, first: int, count: int, *, at: datetime) -> None:
    with Session(engine) as session:
        for n in range(first, first + count):
            session.add(
                Shipment(
                    id=f"{n}",
                    name=f"PO-{n} Shenzhen to Oakland",
                    status="delivered" if n % 2 else "departed",
                    updated_at=at + timedelta(seconds=(n - first) // 3),
                )
            )
        session.commit()


@contextmanager
def selects(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    """Every read (SELECT or WITH) `engine` runs meanwhile, with its parameters."""
    seen: list[tuple[str, Any]] = []

    def record(*args: Any) -> None:
        statement, parameters = args[2], args[3]
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


def query_plans(engine: Engine, statements: list[tuple[str, Any]]) -> list[str]:
    """SQLite's EXPLAIN QUERY PLAN of each statement, one line per step."""
    with engine.connect() as connection:
        return [
            str(step[-1])
            for statement, parameters in statements
            for step in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
        ]


def assert_walks_an_index_in_order(plans: list[str]) -> None:
    """No sort of the rows found, and each table read through an index: searched by the filter
    or walked in the list's order (a walk stops at the page's end)."""
    assert plans
    for step in plans:
        assert "TEMP B-TREE" not in step, plans
        if step.startswith("SCAN"):
            assert "USING INDEX" in step or "USING COVERING INDEX" in step, plans
