"""The lists' reads on the database the tests run on (issue 20, flat reads): pages hand every row
out once, the shipment search finds substrings whatever their case (FTS5 trigram on SQLite,
pg_trgm on PostgreSQL), and on PostgreSQL each page has an index that serves its filter and its
order (EXPLAIN with sequential scans and sorts priced out). SQLite's plans: tests/unit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.store import dashboard_reads, reads
from app.store.filters import EventFilter
from app.store.models import Shipment
from app.store.paging import TimeCursor
from tests.integration.postgres import PostgresServer
from tests.unit.read_rows import START, add_events, add_shipments, selects

pytestmark = pytest.mark.integration


@pytest.fixture
def engine(engine: Engine) -> Engine:
    """The tests' migrated database (conftest's `engine`) with 60 events and 40 shipments."""
    add_events(engine, 0, 60, at=START)
    add_shipments(engine, 100, 40, at=START)
    return engine


def test_event_and_shipment_pages_hand_out_every_row_once(engine: Engine) -> None:
    events: list[str] = []
    after: TimeCursor | None = None
    while True:
        with Session(engine) as session:
            page = reads.event_page(session, after=after, limit=9)
        events += [row["event_id"] for row in page.rows]
        if (after := page.next) is None:
            break
    shipments: list[str] = []
    while True:
        with Session(engine) as session:
            found = dashboard_reads.search_shipments(session, text="oakland", after=after, limit=9)
        shipments += [s.id for s in found.shipments]
        if (after := found.next) is None:
            break

    assert events == [f"evt_{n:05d}" for n in reversed(range(60))]
    assert sorted(shipments) == [str(n) for n in range(100, 140)]
    assert len(set(shipments)) == 40


def test_the_search_finds_substrings_whatever_their_case(engine: Engine) -> None:
    with Session(engine) as session:
        renamed = session.get(Shipment, "117")
        assert renamed is not None
        renamed.name = "SS26 Apparel, 100% cotton"
        session.add(renamed)
        session.commit()

    def found(text: str) -> list[str]:
        with Session(engine) as session:
            return [s.id for s in dashboard_reads.search_shipments(session, text=text).shipments]

    assert found("ss26 APPAREL") == ["117"]
    assert found("0% COTT") == ["117"]
    assert found("PO-117") == []  # its old name is no longer found
    assert sorted(found("PO-12")) == [str(n) for n in range(120, 130)]
    assert found("113") == ["113"]  # by id, as it was
    assert found("_") == [] and found("%") == []


def explained(
    engine: Engine, read: Callable[[Session], object], off: tuple[str, ...] = ("seqscan", "sort")
) -> list[str]:
    """PostgreSQL's plans of the statements `read` runs, with the plan kinds `off` priced out
    (`enable_<kind>`): a Seq Scan or a Sort left in a plan means no index serves it."""
    with selects(engine) as statements, Session(engine) as session:
        read(session)
    lines: list[str] = []
    with engine.connect() as connection:
        for kind in off:
            connection.exec_driver_sql(f"SET enable_{kind} = off")
        for statement, parameters in statements:
            plan = connection.exec_driver_sql(f"EXPLAIN {statement}", parameters)
            lines += [str(row[0]) for row in plan]
    return lines


def no_seq_scan_or_sort(lines: list[str]) -> bool:
    return not any("Seq Scan" in line or "Sort" in line.split("(")[0] for line in lines)


AFTER = TimeCursor(START, "evt_00010")
LISTS: dict[str, Callable[[Session], Any]] = {
    "api shipments": lambda s: reads.shipment_page(s, status="delivered", limit=5),
    "api shipments after": lambda s: reads.shipment_page(s, after=TimeCursor(START, "120")),
    "api events": lambda s: reads.event_page(s, limit=5),
    "api events by type": lambda s: reads.event_page(
        s, where=EventFilter(event_type="shipment.milestone"), after=AFTER
    ),
    "api events by status": lambda s: reads.event_page(s, where=EventFilter(status="failed")),
    "api events of a shipment": lambda s: reads.event_page(s, where=EventFilter(shipment_id="1")),
    "api events since": lambda s: reads.event_page(s, where=EventFilter(since=START)),
    "dashboard events": lambda s: dashboard_reads.event_list(s),
    "dashboard shipments": lambda s: dashboard_reads.search_shipments(s, status="delivered"),
    "filter menus": lambda s: (
        dashboard_reads.event_types(s),
        dashboard_reads.shipment_statuses(s),
    ),
}


@pytest.mark.parametrize("name", list(LISTS))
def test_each_list_has_an_index_for_its_filter_and_order_on_postgresql(
    engine: Engine, postgres: PostgresServer | None, name: str
) -> None:
    if postgres is None:
        pytest.skip("PostgreSQL's plans: set FLEXHOOK_TEST_DATABASE=postgresql")
    lines = explained(engine, LISTS[name])
    assert lines and no_seq_scan_or_sort(lines), "\n".join(lines)


def test_the_search_reads_the_trigram_indexes_on_postgresql(
    engine: Engine, postgres: PostgresServer | None
) -> None:
    if postgres is None:
        pytest.skip("PostgreSQL's plans: set FLEXHOOK_TEST_DATABASE=postgresql")
    # A walk of the list's index filtering each row is priced out too: only the bitmap scans of
    # the GIN indexes are left, if they serve the search (on this small table the planner would
    # rather walk; on a large one the matches are few and the indexes are cheaper).
    search = lambda s: dashboard_reads.search_shipments(s, text="Oakland")  # noqa: E731
    lines = explained(engine, search, off=("seqscan", "indexscan"))
    plan = "\n".join(lines)
    assert "ix_shipment_name_trgm" in plan and "ix_shipment_id_trgm" in plan, plan
    assert "Seq Scan" not in plan, plan
