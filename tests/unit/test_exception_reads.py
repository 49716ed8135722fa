"""The dashboard's reads of the exception inbox (`app.store.exception_reads`) on a migrated
SQLite database: the default inbox leaves resolved exceptions out, the nav count stops past its
cap, a shipment lists all of its exceptions, and the inbox and the count search an index."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.store import exception_reads
from app.store.exception_reads import InboxFilter
from tests.unit.read_rows import query_plans
from tests.unit.test_exception_store import DELAY, HOLD, engine, inbox, record

__all__ = ["engine", "inbox"]  # the fixtures, shared with the store's tests


def page_ids(engine: Engine, where: InboxFilter, **kwargs: Any) -> list[int]:
    with Session(engine) as session:
        page = exception_reads.inbox_page(session, where=where, **kwargs)
        return [row.id for row in page.exceptions if row.id is not None]


def test_the_inbox_leaves_resolved_ones_out_unless_asked(
    engine: Engine, inbox: dict[str, int]
) -> None:
    ids = inbox
    assert page_ids(engine, InboxFilter()) == [
        ids["hold2"],
        ids["hold3"],
        ids["delay4"],
        ids["delay1"],
    ]
    assert page_ids(engine, InboxFilter(state="resolved")) == [ids["hold1"]]
    assert len(page_ids(engine, InboxFilter(state="all"))) == 5
    assert page_ids(engine, InboxFilter(assignee="ben")) == [ids["hold2"]]
    assert page_ids(engine, InboxFilter(severity="normal")) == [ids["delay1"]]


def test_keyset_pages_of_the_inbox_walk_it_once(engine: Engine, inbox: dict[str, int]) -> None:
    seen: list[int] = []
    with Session(engine) as session:
        page = exception_reads.inbox_page(session, where=InboxFilter(), limit=3)
        while True:
            seen.extend(row.id for row in page.exceptions if row.id is not None)
            if page.next is None:
                break
            page = exception_reads.inbox_page(
                session, where=InboxFilter(), after=page.next, limit=3
            )
    assert seen == page_ids(engine, InboxFilter())


def test_the_count_stops_past_its_cap_and_a_shipment_lists_every_state(
    engine: Engine, inbox: dict[str, int]
) -> None:
    with Session(engine) as session:
        assert exception_reads.count_unresolved(session, cap=99) == 4
        assert exception_reads.count_unresolved(session, cap=2) == 3
        listed = exception_reads.shipment_exceptions(session, shipment_id="SHP-1")
    assert [(row.family, row.state) for row in listed] == [
        ("customs_hold", "resolved"),
        ("departure_delay", "open"),
    ]


def test_the_inbox_and_its_count_read_the_unresolved_index_in_order(
    engine: Engine, inbox: dict[str, int]
) -> None:
    for n in range(20):  # enough rows for the planner to prefer an index
        record(engine, HOLD if n % 2 else DELAY, f"more-{n}", 40 + n, shipment_id=f"M-{n}")
    statements: list[tuple[str, Any]] = []

    def remember(_c: Any, _cu: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "FROM shipment_exception" in statement:
            statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", remember)
    try:
        page_ids(engine, InboxFilter())
        with Session(engine) as session:
            exception_reads.count_unresolved(session, cap=99)
    finally:
        event.remove(engine, "before_cursor_execute", remember)

    assert len(statements) == 2
    page, count = (query_plans(engine, [statement]) for statement in statements)
    # The page: the first entries of the partial index of unresolved exceptions, in inbox order.
    assert page == ["SCAN shipment_exception USING INDEX ix_shipment_exception_unresolved_inbox"]
    # The count: the state index's unresolved ranges alone, never a walk past resolved rows.
    searched = [step for step in count if "shipment_exception" in step]
    assert searched and all(
        s.startswith("SEARCH") and "ix_shipment_exception_state_inbox (state=?)" in s
        for s in searched
    ), count
