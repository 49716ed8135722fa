"""The dashboard's lists (issue 20, flat reads): the event log, those that need a person first,
and the shipments, paged by "Older" links that hand every row out once; the filter menus found by
a seek per value. Each read from an index in its order, never a scan or sort of the whole table."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.dashboard.pages import (
    event_cursor_text,
    parse_event_cursor,
    parse_shipment_cursor,
    shipment_cursor_text,
)
from app.store import dashboard_reads
from app.store.dashboard_reads import EventCursor, EventList, ShipmentList
from app.store.filters import ANY_EVENT, EventFilter
from app.store.models import Shipment
from app.store.paging import TimeCursor
from tests.unit.read_rows import (
    START,
    TYPES,
    add_events,
    add_shipments,
    assert_walks_an_index_in_order,
    migrated,
    query_plans,
    selects,
)


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    return migrated(tmp_path)


@pytest.fixture
def statements(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    with selects(engine) as seen:
        yield seen


def every_event(engine: Engine, where: EventFilter = ANY_EVENT) -> list[tuple[str, str]]:
    """(status, id) of each event on every page of 7, following the "Older" cursor through its
    link's text."""
    seen: list[tuple[str, str]] = []
    after: EventCursor | None = None
    while True:
        with Session(engine) as session:
            page: EventList = dashboard_reads.event_list(session, where=where, after=after, limit=7)
        seen += [(e.status, e.event_id) for e in page.events]
        if page.next is None:
            return seen
        after = parse_event_cursor(event_cursor_text(page.next))
        assert after == page.next


def test_event_pages_show_failed_first_then_the_rest_newest_first_each_once(
    engine: Engine,
) -> None:
    add_events(engine, 0, 40, at=START)

    seen = every_event(engine)

    failed = [f"evt_{n:05d}" for n in range(40) if n % 5 == 0]
    rest = [f"evt_{n:05d}" for n in range(40) if n % 5 != 0]
    assert [i for _, i in seen] == sorted(failed, reverse=True) + sorted(rest, reverse=True)


@pytest.mark.parametrize("status", ["failed", "processed", "queued"])
def test_a_status_filter_pages_that_status_alone(engine: Engine, status: str) -> None:
    add_events(engine, 0, 40, at=START)

    seen = every_event(engine, EventFilter(status=status))

    expected = [n for n in range(40) if (n % 5 == 0) == (status == "failed")]
    assert [i for _, i in seen] == [f"evt_{n:05d}" for n in reversed(expected)] * (
        status != "queued"
    )


def test_shipment_pages_put_the_exact_id_first_and_show_each_once(engine: Engine) -> None:
    add_shipments(engine, 100, 30, at=START)
    add_shipments(engine, 1000, 3, at=START - timedelta(days=1))
    seen: list[str] = []
    after: TimeCursor | None = None
    while True:
        with Session(engine) as session:
            page: ShipmentList = dashboard_reads.search_shipments(
                session, text="100", after=after, limit=2
            )
        seen += [s.id for s in page.shipments]
        if page.next is None:
            break
        after = parse_shipment_cursor(shipment_cursor_text(page.next))
        assert after == page.next

    # "100" matches 100 and 1000-1002 by id; the exact one first, then newest updated first.
    assert seen == ["100", "1002", "1001", "1000"]


@pytest.mark.parametrize(
    "text", ["", "x", "1_2026", "9_2026-03-01T08:00:00_evt", "1_2026-03-01T08:00:00+00:00_"]
)
def test_a_link_that_is_no_cursor_starts_at_the_first_page(text: str) -> None:
    assert parse_event_cursor(text) is None


def test_the_filter_menus_list_the_values_present_with_a_seek_each(
    engine: Engine, statements: list[tuple[str, Any]]
) -> None:
    add_events(engine, 0, 30, at=START)
    add_shipments(engine, 100, 30, at=START)
    statements.clear()

    with Session(engine) as session:
        types = dashboard_reads.event_types(session)
        statuses = dashboard_reads.shipment_statuses(session)

    assert types == sorted(TYPES)
    assert statuses == ["delivered", "departed"]
    plans = query_plans(engine, statements)
    steps = [p for p in plans if " event " in f" {p} " or " shipment " in f" {p} "]
    assert steps and all(p.startswith("SEARCH") for p in steps), plans


AFTER = EventCursor(0, START + timedelta(seconds=5), "evt_00003")


@pytest.mark.parametrize(
    "where",
    [
        EventFilter(),
        EventFilter(status="failed"),
        EventFilter(status="processed"),
        EventFilter(event_type="shipment.milestone"),
        EventFilter(shipment_id="1001"),
    ],
)
@pytest.mark.parametrize("after", [None, AFTER])
def test_each_event_page_reads_an_index_in_order(
    engine: Engine,
    statements: list[tuple[str, Any]],
    where: EventFilter,
    after: EventCursor | None,
) -> None:
    add_events(engine, 0, 30, at=START)
    statements.clear()
    with Session(engine) as session:
        dashboard_reads.event_list(session, where=where, after=after, limit=50)
    assert_walks_an_index_in_order(query_plans(engine, statements))


@pytest.mark.parametrize("status", ["", "delivered"])
@pytest.mark.parametrize("after", [None, TimeCursor(START, "105")])
def test_each_shipment_page_reads_an_index_in_order(
    engine: Engine,
    statements: list[tuple[str, Any]],
    status: str,
    after: TimeCursor | None,
) -> None:
    add_shipments(engine, 100, 30, at=START)
    statements.clear()
    with Session(engine) as session:
        dashboard_reads.search_shipments(session, status=status, after=after, limit=10)
    assert_walks_an_index_in_order(query_plans(engine, statements))


def names_found(engine: Engine, text: str) -> list[str]:
    with Session(engine) as session:
        found = dashboard_reads.search_shipments(session, text=text, limit=50)
    return sorted(str(s.name) for s in found.shipments)


def test_the_search_finds_substrings_of_names_whatever_their_case(engine: Engine) -> None:
    add_shipments(engine, 100, 3, at=START)
    with Session(engine) as session:
        renamed = session.get(Shipment, "101")
        assert renamed is not None
        renamed.name = 'SS26 "Apparel" 100% cotton'
        session.add(renamed)
        session.commit()

    assert names_found(engine, "shenzhen TO oak") == [
        "PO-100 Shenzhen to Oakland",
        "PO-102 Shenzhen to Oakland",
    ]
    assert names_found(engine, "ss26 APPAREL") == []  # quoted in the name: not this substring
    assert names_found(engine, '"apparel" 100%') == ['SS26 "Apparel" 100% cotton']
    assert names_found(engine, "PO-101") == []  # the old name is gone from the index
    assert names_found(engine, "no such cargo") == []


def test_a_text_too_short_for_the_index_finds_the_exact_id_alone(engine: Engine) -> None:
    add_shipments(engine, 10, 3, at=START)
    with Session(engine) as session:
        short = dashboard_reads.search_shipments(session, text="11")
        none = dashboard_reads.search_shipments(session, text="%")

    assert [s.id for s in short.shipments] == ["11"] and short.too_short
    assert none.shipments == [] and none.too_short


def test_the_search_reads_the_trigram_index(
    engine: Engine, statements: list[tuple[str, Any]]
) -> None:
    add_shipments(engine, 100, 30, at=START)
    statements.clear()
    with Session(engine) as session:
        dashboard_reads.search_shipments(session, text="Oakland", status="delivered", limit=10)

    plans = query_plans(engine, statements)
    assert any("shipment_name_search VIRTUAL TABLE INDEX" in p for p in plans), plans
    assert not any(p.split()[:2] == ["SCAN", "shipment"] for p in plans), plans


def test_a_dense_search_walks_the_list_and_finds_the_same(
    engine: Engine, statements: list[tuple[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    add_shipments(engine, 100, 30, at=START)
    sparse = names_found(engine, "shenzhen TO oak")
    monkeypatch.setattr(dashboard_reads, "DENSE_MATCHES", 5)
    statements.clear()

    dense = names_found(engine, "shenzhen TO oak")

    assert dense == sparse and len(dense) == 30
    plans = query_plans(engine, statements)
    assert any("SCAN shipment USING INDEX ix_shipment_updated" in p for p in plans), plans
    assert not any("TEMP B-TREE" in p for p in plans), plans


def test_a_replaced_shipment_is_found_by_its_new_name_alone(engine: Engine) -> None:
    add_shipments(engine, 100, 2, at=START)
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT OR REPLACE INTO shipment (id, name, updated_at, versions)"
            " VALUES ('100', 'Rotterdam to Felixstowe', '2026-03-02 08:00:00.000000', '{}')"
        )

    assert names_found(engine, "felixstowe") == ["Rotterdam to Felixstowe"]
    assert names_found(engine, "PO-100") == []
