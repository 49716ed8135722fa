"""The lists' keyset pages (issue 20, flat reads): `GET /api/shipments` and `GET /api/events`
hand every row out exactly once across their pages, whatever arrives meanwhile, and refuse a
cursor they did not give; each filter's page is read from an index in the list's order, never
from a scan or a sort of the whole table (SQLite's query plans)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.applications import Starlette
from starlette.routing import Route

from app.store import reads
from app.store.filters import EventFilter
from app.store.paging import TimeCursor
from app.web import events, shipments
from app.web.config import WebConfig
from app.web.errors import EXCEPTION_HANDLERS
from app.web.metrics import WebMetrics
from app.web.state import WebState, install
from tests.unit.fake_starter import FakeStarter
from tests.unit.read_rows import (
    START,
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
    """Every read (SELECT or WITH) `engine` runs meanwhile, with its parameters."""
    with selects(engine) as seen:
        yield seen


@pytest.fixture
def client(engine: Engine) -> httpx.AsyncClient:
    app = Starlette(
        routes=[
            Route("/api/shipments", shipments.list_shipments),
            Route("/api/events", events.list_events),
        ],
        exception_handlers=EXCEPTION_HANDLERS,
    )
    starter = FakeStarter()
    install(
        app,
        WebState(
            config=WebConfig(webhook_secrets=("unit-test-secret",), api_token="token"),
            engine=engine,
            starter=starter,
            intake=None,  # type: ignore[arg-type]  # the lists never take in a webhook
            metrics=WebMetrics(),
        ),
    )
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t.test")


async def every_page(
    client: httpx.AsyncClient, path: str, items: str, between: Callable[[], None] = lambda: None
) -> list[str]:
    """The ids of every page of `path`, following `next`; `between` runs after each page."""
    seen: list[str] = []
    after: str | None = None
    while True:
        params = {"limit": "7"} | ({"after": after} if after else {})
        answer = await client.get(path, params=params)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        seen += [row["event_id" if items == "events" else "id"] for row in body[items]]
        after = body["next"]
        if after is None:
            return seen
        between()


async def test_event_pages_hand_out_every_event_once_while_newer_ones_arrive(
    engine: Engine, client: httpx.AsyncClient
) -> None:
    add_events(engine, 0, 50, at=START)
    arrivals = iter(range(100, 1000, 3))

    def newer() -> None:
        add_events(engine, next(arrivals), 3, at=START + timedelta(days=1))

    seen = await every_page(client, "/api/events", "events", newer)

    old = [f"evt_{n:05d}" for n in range(50)]
    assert [s for s in seen if s in old] == sorted(old, reverse=True)  # each once, in order
    assert len(seen) == 50  # the newer ones are for a fresh start, not in the middle


async def test_shipment_pages_hand_out_every_shipment_once(
    engine: Engine, client: httpx.AsyncClient
) -> None:
    add_shipments(engine, 100, 40, at=START)

    seen = await every_page(client, "/api/shipments", "shipments")

    assert sorted(seen) == [str(n) for n in range(100, 140)]
    assert len(seen) == len(set(seen)) == 40


async def test_the_filters_page_too(engine: Engine, client: httpx.AsyncClient) -> None:
    add_events(engine, 0, 60, at=START)
    query = {"type": "shipment.milestone", "status": "failed", "limit": "2"}
    query |= {"since": START.isoformat(), "until": (START + timedelta(seconds=15)).isoformat()}
    first = (await client.get("/api/events", params=query)).json()
    second = (await client.get("/api/events", params=query | {"after": first["next"]})).json()

    ids = [e["event_id"] for e in first["events"] + second["events"]]
    # n % 3 == 0 and n % 5 == 0, received in the first 15 s (n < 45): 0, 15, 30.
    assert ids == ["evt_00030", "evt_00015", "evt_00000"]
    assert second["next"] is None


@pytest.mark.parametrize("path", ["/api/events", "/api/shipments"])
async def test_a_changed_or_foreign_cursor_is_refused(
    engine: Engine, client: httpx.AsyncClient, path: str
) -> None:
    add_events(engine, 0, 5, at=START)
    add_shipments(engine, 0, 5, at=START)
    other = "/api/shipments" if path == "/api/events" else "/api/events"
    given = (await client.get(path, params={"limit": "1"})).json()["next"]
    foreign = (await client.get(other, params={"limit": "1"})).json()["next"]
    text, _, tag = given.rpartition(".")
    changed = [f"1{text}.{tag}", given[:-1], foreign, "Hé." + given, "x", "."]

    for cursor in changed:
        answer = await client.get(path, params={"after": cursor})
        assert answer.status_code == 400, cursor
        assert "not a cursor this API gave" in answer.text
    assert (await client.get(path, params={"after": given})).status_code == 200


# -- query plans ----------------------------------------------------------------------------------


AFTER = TimeCursor(START + timedelta(seconds=5), "evt_00003")
EVENT_FILTERS = [
    EventFilter(),
    EventFilter(event_type="shipment.milestone"),
    EventFilter(status="failed"),
    EventFilter(shipment_id="1001"),
    EventFilter(since=START, until=START + timedelta(days=1)),
    EventFilter(event_type="shipment.milestone", since=START),
]


@pytest.mark.parametrize("where", EVENT_FILTERS)
@pytest.mark.parametrize("after", [None, AFTER])
def test_each_event_filter_reads_its_page_from_an_index(
    engine: Engine,
    statements: list[tuple[str, Any]],
    where: EventFilter,
    after: TimeCursor | None,
) -> None:
    add_events(engine, 0, 30, at=START)
    statements.clear()
    with Session(engine) as session:
        reads.event_page(session, where=where, after=after, limit=10)
    assert_walks_an_index_in_order(query_plans(engine, statements))


@pytest.mark.parametrize("status", [None, "delivered"])
@pytest.mark.parametrize("after", [None, TimeCursor(START, "105")])
def test_each_shipment_filter_reads_its_page_from_an_index(
    engine: Engine,
    statements: list[tuple[str, Any]],
    status: str | None,
    after: TimeCursor | None,
) -> None:
    add_shipments(engine, 100, 30, at=START)
    statements.clear()
    with Session(engine) as session:
        reads.shipment_page(session, status=status, after=after, limit=10)
    assert_walks_an_index_in_order(query_plans(engine, statements))
