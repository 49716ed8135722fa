"""Issue 18's reads of one shipment stay fast at a year of events (`python -m bench --phases
sharing` times them at 1,000 and 1,000,000): every statement behind the tracking page, the ETA
history, the shares list and the dashboard's shipment page searches an index for that shipment
(or that link), and none scans a table, on the benchmark's own bulk store."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.core.shares import ShareLifetime, ShareState
from app.store import dashboard_reads, db, eta_reads, shares
from app.store.tracking import tracking_facts
from bench import store

SHIPMENT = store.shipment_id(1)
NOW = datetime(2025, 1, 10, tzinfo=UTC)  # before the bulk store's deliveries: the link opens


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    path = tmp_path / "flexhook.db"
    engine = db.create_db_engine(f"sqlite:///{path}")
    db.upgrade(engine)
    store.seed(path, first_shipment=0, shipments=3, window=3)
    yield engine
    engine.dispose()


@pytest.fixture
def token(engine: Engine) -> str:
    with Session(engine) as session:
        _, token = shares.create_share(
            session, shipment_id=SHIPMENT, created_by="test", lifetime=ShareLifetime(), now=NOW
        )
        session.commit()
    return token


def selects_while(engine: Engine) -> tuple[list[tuple[str, Any]], Any]:
    """A list that fills with every SELECT `engine` runs, and the listener to remove."""
    seen: list[tuple[str, Any]] = []

    def record(*args: Any) -> None:
        statement, parameters = args[2], args[3]
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    return seen, record


def query_plans(engine: Engine, statements: list[tuple[str, Any]]) -> list[str]:
    """SQLite's EXPLAIN QUERY PLAN of each statement, one line per step."""
    with engine.connect() as connection:
        return [
            str(step[-1])
            for statement, parameters in statements
            for step in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
        ]


def read_every_surface(engine: Engine, token: str) -> None:
    """What `/track/<token>`, the ETA history, the shares list and the dashboard page read."""
    lifetime = ShareLifetime()
    with Session(engine) as session:
        opened = shares.open_share(session, token=token, lifetime=lifetime, now=NOW)
        assert opened.state is ShareState.ACTIVE and opened.shipment_id == SHIPMENT
        facts = tracking_facts(session, shipment_id=SHIPMENT)
        assert facts is not None and facts.milestones and facts.eta_estimates
        listed = shares.list_shares(session, shipment_id=SHIPMENT, lifetime=lifetime, now=NOW)
        assert len(listed) == 1
        page = dashboard_reads.get_shipment_page(session, shipment_id=SHIPMENT)
        assert page is not None
        session.rollback()  # the view count open_share wrote
    with engine.connect() as connection:
        history = eta_reads.eta_history_document(connection, shipment_id=SHIPMENT)
        assert history is not None and history["points"]


def test_every_read_of_a_shared_shipment_searches_an_index(engine: Engine, token: str) -> None:
    seen, record = selects_while(engine)
    try:
        read_every_surface(engine, token)
    finally:
        event.remove(engine, "before_cursor_execute", record)

    plans = query_plans(engine, seen)
    tables = [p for p in plans if p.startswith(("SEARCH", "SCAN"))]

    assert len(seen) >= 10, seen
    assert tables, plans
    for step in tables:
        assert step.startswith("SEARCH") and "INDEX" in step, step
