"""Issue 20's flat reads: the CSV exports and the exception inbox read their rows off one index
range in the order they are written, whatever the store's size (`python -m bench` times them at
1,000 and 1,000,000 events). On SQLite, every filter's statement searches (or walks) an index
that ends in the list's order: no sort of every matching row first (`TEMP B-TREE`), no scan of a
table, and a time range bounds the index range itself, so nothing outside it is read. The
gauges' refresh behind `/metrics` scans no table but a few small ones."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from app.store import db, exception_reads, exports
from app.store.exception_filters import in_inbox_order
from app.store.exception_models import ShipmentExceptionRow
from app.store.exception_reads import InboxFilter
from app.store.filters import EventFilter
from app.web.metrics import read_counts
from bench import store
from tests.unit.read_rows import query_plans, selects

SINCE = datetime(2025, 1, 1, 4, tzinfo=UTC)
UNTIL = datetime(2025, 1, 1, 9, tzinfo=UTC)
MILESTONE = "shipment.milestone"


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    path: Path = tmp_path_factory.mktemp("plans") / "flexhook.db"
    engine = db.create_db_engine(f"sqlite:///{path}")
    db.upgrade(engine)
    store.seed(path, first_shipment=0, shipments=3, window=3)
    yield engine
    engine.dispose()


def plan(engine: Engine, statement: object) -> list[str]:
    """SQLite's EXPLAIN QUERY PLAN of `statement`, one line per step."""
    compiled = statement.compile(dialect=engine.dialect)  # type: ignore[attr-defined]
    parameters = tuple(compiled.params[name] for name in compiled.positiontup)
    with engine.connect() as connection:
        steps = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", parameters)
        return [str(step[-1]) for step in steps]


def read_in_order(steps: list[str], table: str, index: str) -> None:
    """`steps` read `table` off `index` alone, in the statement's order."""
    assert [s for s in steps if f" {table} " in f"{s} "] == [
        s for s in steps if s.split()[:2] in (["SEARCH", table], ["SCAN", table])
    ], steps
    assert all(f"USING INDEX {index}" in s for s in steps if f" {table} " in f"{s} "), steps
    assert not any("TEMP B-TREE" in step for step in steps), steps


@pytest.mark.parametrize(
    ("where", "index"),
    [
        (EventFilter(), "ix_event_received"),
        (EventFilter(status="failed"), "ix_event_status_received"),
        (EventFilter(event_type=MILESTONE), "ix_event_type_received"),
        (EventFilter(shipment_id=store.shipment_id(1)), "ix_event_shipment_received"),
        (EventFilter(since=SINCE, until=UNTIL), "ix_event_received"),
        (EventFilter(event_type=MILESTONE, since=SINCE), "ix_event_type_received"),
    ],
)
def test_each_event_export_reads_one_index_range_in_order(
    engine: Engine, where: EventFilter, index: str
) -> None:
    read_in_order(plan(engine, exports.events(where).statement), "event", index)


def test_an_event_export_for_a_time_range_reads_nothing_outside_it(engine: Engine) -> None:
    for where in (
        EventFilter(since=SINCE, until=UNTIL),
        EventFilter(event_type=MILESTONE, since=SINCE, until=UNTIL),
    ):
        steps = plan(engine, exports.events(where).statement)
        assert any("received_at>? AND received_at<?" in step for step in steps), steps

    export = exports.events(EventFilter(since=SINCE, until=UNTIL))
    with Session(engine) as session:
        rows = session.execute(export.statement).all()
    received = [row.received_at for row in rows]
    assert received and all(SINCE <= at < UNTIL for at in received)
    keys = [(row.received_at, row.event_id) for row in rows]
    assert keys == sorted(keys, reverse=True)  # newest first, ties by id, the greater first


@pytest.mark.parametrize(
    ("status", "index"),
    [(None, "ix_shipment_updated"), ("delivered", "ix_shipment_status_updated")],
)
def test_each_shipment_export_reads_one_index_range_in_order(
    engine: Engine, status: str | None, index: str
) -> None:
    read_in_order(plan(engine, exports.shipments(status=status).statement), "shipment", index)


@pytest.mark.parametrize(
    ("where", "index"),
    [
        (InboxFilter(), "ix_shipment_exception_unresolved_inbox"),
        (InboxFilter(severity="critical"), "ix_shipment_exception_unresolved_inbox"),
        (InboxFilter(state="all"), "ix_shipment_exception_inbox"),
        (InboxFilter(state="all", severity="high"), "ix_shipment_exception_inbox"),
        (InboxFilter(state="open"), "ix_shipment_exception_state_inbox"),
        # Not the family's or the person's index, which starts with their resolved history.
        (InboxFilter(family="customs_hold"), "ix_shipment_exception_unresolved_inbox"),
        (InboxFilter(assignee="ann"), "ix_shipment_exception_unresolved_inbox"),
        (InboxFilter(state="all", family="customs_hold"), "ix_shipment_exception_family_inbox"),
        (InboxFilter(state="all", assignee="ann"), "ix_shipment_exception_assignee_inbox"),
    ],
)
def test_each_inbox_page_reads_one_index_range_in_order(
    engine: Engine, where: InboxFilter, index: str
) -> None:
    page = in_inbox_order(exception_reads._filtered(select(ShipmentExceptionRow), where))
    read_in_order(plan(engine, page.limit(51)), "shipment_exception", index)


def test_the_metrics_refresh_reads_no_table_whole_but_small_ones(engine: Engine) -> None:
    with selects(engine) as seen, Session(engine) as session:
        read_counts(session)

    for statement in seen:
        steps = query_plans(engine, [statement])
        # No grouping of rows by sorting them; only a tally's few rows of one metric are
        # sorted (by count, the most frequent unknown types first), and the open ops incidents
        # are grouped off the index holding them alone.
        sorts = [step for step in steps if "TEMP B-TREE" in step]
        open_incidents = ["SCAN ops_incident USING INDEX ix_ops_incident_open"]
        if steps[:1] == open_incidents:
            assert sorts == ["USE TEMP B-TREE FOR GROUP BY"], steps
            continue
        assert sorts in ([], ["USE TEMP B-TREE FOR ORDER BY"]), steps
        assert not sorts or steps[0].startswith("SEARCH event_tally"), steps
        scanned = {s.split()[1] for s in steps if s.startswith("SCAN") and "INDEX" not in s}
        # The few rows of the reconcile tally and of the inbox's histogram buckets, and the
        # spool (events waiting for Temporal, by design few); never a year of reconcile runs.
        assert scanned <= {"reconcile_tally", "exception_stats", "spool"}, steps
        assert not any(s.startswith("SCAN event ") for s in steps), steps  # not even an index
