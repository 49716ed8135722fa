"""CSV exports of the shipment list and the event log, streamed in chunks whatever their size.

An export is one read-only transaction over one statement, read `ROWS_PER_CHUNK` rows at a time
(`stream_results` and `yield_per`: a server-side cursor on PostgreSQL, SQLite's own stepping
cursor on SQLite), each chunk fetched and written as CSV on a worker thread, off the event
loop. Memory holds one chunk, not the list (measured by the bench's `export` phase).

The file is UTF-8 with a byte order mark, so that a spreadsheet opened on it reads UTF-8 rather
than the system's code page (a program reads it with `utf-8-sig`), then one header row, then the
rows, CRLF-terminated as RFC 4180 has it, every text cell through `app.core.csv_cells` (formula
injection). The columns are those of the JSON lists, a place flattened into `location_*`
columns; never a payload.
"""

from __future__ import annotations

import csv
import io
import weakref
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final

import anyio
import sqlalchemy as sa
from anyio import to_thread
from sqlalchemy.engine import Connection, Engine, Result
from sqlmodel import col
from sqlmodel.sql.expression import Select

from app.core import csv_cells
from app.store.dashboard_reads import shipments_matching
from app.store.db import READ_ONLY
from app.store.filters import EventFilter
from app.store.models import EventRecord, Shipment
from app.store.reads import SHIPMENT_COLUMNS

ROWS_PER_CHUNK: Final = 1000
BOM: Final = "\ufeff"
MEDIA_TYPE: Final = "text/csv; charset=utf-8"

EVENT_COLUMNS: Final = (
    "event_id",
    "type",
    "category",
    "name",
    "shipment_id",
    "occurred_at",
    "received_at",
    "processed_at",
    "status",
    "error",
    "workflow_id",
    "source",
)
# The kinds of the alerts an event decided, space-separated (the JSON list's `alerts`, whose
# texts the CSV leaves out).
ALERT_KINDS: Final = "alert_kinds"


@dataclass(frozen=True)
class Export:
    """What an export writes: its header, the statement of its rows, and a row's cells."""

    filename: str
    header: tuple[str, ...]
    statement: Select[Any]
    cells: Callable[[sa.Row[Any]], Sequence[object]]


def _capped(statement: Select[Any], limit: int | None) -> Select[Any]:
    return statement if limit is None else statement.limit(max(1, limit))


def shipments(
    *, status: str | None = None, text: str | None = None, limit: int | None = None
) -> Export:
    """The shipments `GET /api/shipments` lists (`status`), in its order (most recently updated
    first, ties by id, the greater first), every one unless `limit`; `text` narrows them as the
    dashboard's search does."""
    statement: Select[Any] = Select(*(getattr(Shipment, name) for name in SHIPMENT_COLUMNS))
    if status:
        statement = statement.where(col(Shipment.status) == status)
    matching = shipments_matching(text)
    if matching is not None:
        statement = statement.where(matching)
    # Ties in id order too, newest first: one backward walk of `ix_shipment_updated` or,
    # with a status, of `ix_shipment_status_updated`, with no sort (migration 0014).
    statement = statement.order_by(col(Shipment.updated_at).desc(), col(Shipment.id).desc())
    return Export(
        filename="shipments.csv",
        header=SHIPMENT_COLUMNS,
        statement=_capped(statement, limit),
        cells=tuple,
    )


def _event_cells(row: sa.Row[Any]) -> Sequence[object]:
    values: tuple[Any, ...] = tuple(row)
    alerts = values[-1] or ()
    kinds = " ".join(str(alert.get("kind", "")) for alert in alerts if isinstance(alert, dict))
    return (*values[:-1], kinds)


def events(where: EventFilter, *, limit: int | None = None) -> Export:
    """The events `GET /api/events` lists (`where`), in its order (newest received first, ties
    by id, the greater first), every one unless `limit`."""
    columns = (*(getattr(EventRecord, name) for name in EVENT_COLUMNS), EventRecord.alerts)
    statement: Select[Any] = where.apply(Select(*columns))
    # Ties in id order too, newest first: one backward walk of the index of the filter's column
    # followed by (received_at, event_id), within any received_at range, with no sort.
    statement = statement.order_by(
        col(EventRecord.received_at).desc(), col(EventRecord.event_id).desc()
    )
    return Export(
        filename="events.csv",
        header=(*EVENT_COLUMNS, ALERT_KINDS),
        statement=_capped(statement, limit),
        cells=_event_cells,
    )


def write_rows(rows: Iterator[Sequence[object]] | Sequence[Sequence[object]]) -> bytes:
    """Rows of values as CSV lines (CRLF), each cell neutralised, in UTF-8."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerows(csv_cells.row(values) for values in rows)
    return buffer.getvalue().encode("utf-8")


def header(export: Export) -> bytes:
    """The byte order mark and the header row."""
    return BOM.encode("utf-8") + write_rows([export.header])


class _Reader:
    """The export's rows on one connection, a chunk at a time; each call on a worker thread."""

    def __init__(self, engine: Engine, export: Export, rows_per_chunk: int) -> None:
        self.engine, self.export, self.rows_per_chunk = engine, export, rows_per_chunk
        self.connection: Connection | None = None
        self.result: Result[Any] | None = None
        self.chunks: Iterator[Sequence[sa.Row[Any]]] = iter(())

    def next_chunk(self) -> bytes:
        """The next chunk as CSV lines; empty at the end."""
        if self.connection is None:
            self.connection = self.engine.connect().execution_options(
                **{READ_ONLY: True}, stream_results=True, yield_per=self.rows_per_chunk
            )
            self.connection.begin()
            self.result = self.connection.execute(self.export.statement)
            self.chunks = self.result.partitions()
        rows = next(self.chunks, None)
        if not rows:
            return b""
        return write_rows([self.export.cells(row) for row in rows])

    def close(self) -> None:
        """Give the connection back (its read-only transaction rolled back)."""
        if self.result is not None:
            self.result.close()
        if self.connection is not None:
            self.connection.close()


# Exports reading at once per engine: each holds a connection (and on SQLite a read transaction
# that keeps the WAL from being checkpointed) for as long as its reader takes to download, so
# slow or stalled downloads could otherwise take the pool the API's reads need. The others wait
# for a slot, holding nothing but their header.
EXPORTS_AT_ONCE: Final = 4
_slots: weakref.WeakKeyDictionary[Engine, anyio.CapacityLimiter] = weakref.WeakKeyDictionary()


def slots(engine: Engine) -> anyio.CapacityLimiter:
    """The export slots of `engine` (made in the running event loop on first use)."""
    if engine not in _slots:
        _slots[engine] = anyio.CapacityLimiter(EXPORTS_AT_ONCE)
    return _slots[engine]


async def csv_chunks(
    engine: Engine, export: Export, *, rows_per_chunk: int = ROWS_PER_CHUNK
) -> AsyncIterator[bytes]:
    """The export as CSV, in chunks of `rows_per_chunk` rows after the header, once one of the
    engine's `EXPORTS_AT_ONCE` slots is free; the connection and the slot are given back when
    the last chunk is read or the reader goes away (whichever task closes the iterator)."""
    yield header(export)
    reader = _Reader(engine, export, rows_per_chunk)
    limiter = slots(engine)
    await limiter.acquire_on_behalf_of(reader)
    try:
        while chunk := await to_thread.run_sync(reader.next_chunk):
            yield chunk
    finally:
        with anyio.CancelScope(shield=True):
            await to_thread.run_sync(reader.close)
        limiter.release_on_behalf_of(reader)
