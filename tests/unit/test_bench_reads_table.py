"""The `reads` phase's table (bench/reads_table.py) in docs/benchmark.md is what the committed
results (bench/results/reads.json) render, and the bulk store the phase fills holds the failed
events and exceptions its lists show, in the shapes flexhook's own code reads."""

from __future__ import annotations

import json
from pathlib import Path

from sqlmodel import Session, col, func, select

from app.store.db import create_db_engine, upgrade
from app.store.exception_models import ShipmentExceptionRow
from app.store.exceptions import as_core
from app.store.models import EventRecord
from bench import reads_table, store, troubled
from bench.phases.reads import SMALL, UNIQUE_SEARCH, shown_rows
from bench.phases.store import SMALL_STORE_SHIPMENTS


def test_the_docs_hold_the_table_the_committed_results_render() -> None:
    found = json.loads(reads_table.RESULTS.read_text())
    committed = reads_table.committed_section(reads_table.DOCS.read_text())
    assert committed == reads_table.render(found)


def _timing(p99: float, rows: int | None = None) -> dict[str, float]:
    counted = {} if rows is None else {"rows": rows}
    return {"p50_ms": p99 / 2, "p99_ms": p99, "requests": 30, **counted}


def test_an_error_a_missing_page_and_a_ratio_past_the_target_show() -> None:
    found = {
        "requests": 30,
        "warmup": 5,
        "databases": {
            "sqlite": {
                "1000": {"surfaces": {"list": _timing(2.0), "page": {"status": 500, "error": "x"}}},
                "1000000": {"surfaces": {"list": _timing(4.0), "page": _timing(1.0)}},
            },
            "postgresql": {
                "1000": {"surfaces": {"list": _timing(2.0)}},
                "1000000": {"surfaces": {"list": _timing(2.5)}},
            },
        },
    }
    lines = reads_table.render(found)
    assert lines[0].startswith(
        "| surface | rows 1k / 1M | SQLite 1k p50 / p99 ms | SQLite 1M p50 / p99 ms |"
    )
    # Results measured before the rows were counted show "—" in their column.
    assert lines[2] == (
        "| list | — | 1.0 / 2.0 | 2.0 / 4.0 | **2.0** | 1.0 / 2.0 | 1.2 / 2.5 | 1.25 |"
    )
    assert lines[3] == "| page | — | HTTP 500 | 0.5 / 1.0 | — | — | — | — |"


def test_the_rows_column_shows_each_store_s_rows_and_where_databases_differ() -> None:
    found = {
        "requests": 30,
        "warmup": 5,
        "databases": {
            "sqlite": {
                "1000": {"surfaces": {"same": _timing(2.0, 4), "apart": _timing(2.0, 4)}},
                "1000000": {"surfaces": {"same": _timing(2.0, 1000), "apart": _timing(2.0, 50)}},
            },
            "postgresql": {
                "1000": {"surfaces": {"same": _timing(2.0, 4), "apart": _timing(2.0, 4)}},
                "1000000": {"surfaces": {"same": _timing(2.0, 1000), "apart": {"status": 500}}},
            },
        },
    }
    lines = reads_table.render(found)
    assert lines[2].startswith("| same | 4 / 1,000 | 1.0 / 2.0 |")
    assert lines[3].startswith("| apart | SQLite 4 / 50; PostgreSQL 4 / — | 1.0 / 2.0 |")


def test_rewrite_replaces_only_the_marked_section() -> None:
    text = f"before\n{reads_table.BEGIN}\nold\n{reads_table.END}\nafter\n"
    rewritten = reads_table.rewrite(text, ["| new |"])
    assert rewritten == f"before\n{reads_table.BEGIN}\n| new |\n{reads_table.END}\nafter\n"
    assert reads_table.committed_section(rewritten) == ["| new |"]


def test_the_troubled_store_has_failed_events_and_exceptions_flexhook_reads(
    tmp_path: Path,
) -> None:
    path = tmp_path / "bench.db"
    engine = create_db_engine(f"sqlite:///{path}")
    upgrade(engine)
    shipments = 2 * troubled.FAILED_EVERY
    store.seed(path, first_shipment=0, shipments=shipments, window=10, troubles=True)
    with Session(engine) as session:
        failed = session.exec(select(func.count()).where(col(EventRecord.status) == "failed")).one()
        rows = session.exec(select(ShipmentExceptionRow)).all()
    engine.dispose()
    assert failed == shipments // troubled.FAILED_EVERY
    assert len(rows) == shipments // troubled.EXCEPTION_EVERY
    open_rows = [row for row in rows if row.state == "open"]
    assert len(open_rows) == -(-len(rows) // troubled.OPEN_EVERY)
    for row in rows:  # each row's state is what the core derives from its markers
        assert as_core(row).state == row.state
        assert (row.resolved_at is None) == (row.state == "open")


def test_the_small_store_holds_a_few_failures_at_the_density_of_the_rest() -> None:
    small = troubled.small_store_counts(SMALL_STORE_SHIPMENTS)
    year = troubled.small_store_counts(1000 * SMALL_STORE_SHIPMENTS)
    for name, count in small.items():  # the year's density, within the one row a stride rounds
        assert abs(1000 * count - year[name]) < 1000, name
    assert all(count >= 3 for count in small.values())  # a few rows in each list at 1k
    assert {"shipments": SMALL_STORE_SHIPMENTS, **small} == SMALL


def test_rows_count_what_each_kind_of_answer_shows() -> None:
    json_type, html, csv_type = "application/json", "text/html; charset=utf-8", "text/csv"
    page = '{"events": [{"id": 1, "alerts": [1, 2, 3]}, {"id": 2}], "next": null}'
    assert shown_rows(json_type, page) == 2
    assert shown_rows(json_type, '{"id": "7000020", "containers": [1, 2]}') == 1
    table = (
        "<table><thead><tr><th>Shipment</th></tr></thead><tbody>"
        '<tr class="row-failed"><td>a</td></tr>\n<tr><td>b</td></tr></tbody></table>'
    )
    assert shown_rows(html, table) == 2
    assert shown_rows(html, '<p class="empty">No event matches these filters.</p>') == 0
    exported = 'id,name\r\n7000020,"Bench shipment 20\r\nsecond line"\r\n7000021,x\r\n'
    assert shown_rows(csv_type, exported) == 2
    assert shown_rows(csv_type, "id,name\r\n") == 0
    assert shown_rows("text/plain; version=0.0.4", "flexhook_up 1\n") is None


def test_the_like_for_like_search_matches_one_shipment_in_a_year_s_store() -> None:
    # The large store's shipments (1,000,000 events), their ids and names as bench/store.py
    # writes them: the search text is in one of them only, one of the small store's.
    shipments = 1_000_000 // store.EVENTS_PER_SHIPMENT
    matching = [
        k
        for k in range(shipments)
        if UNIQUE_SEARCH in store.shipment_id(k) or UNIQUE_SEARCH in store.shipment_name(k)
    ]
    assert len(matching) == 1
    assert matching[0] < SMALL_STORE_SHIPMENTS
