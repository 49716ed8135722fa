"""A large stored history, written straight into flexhook's SQLite database in bulk.

Shipment k has `EVENTS_PER_SHIPMENT` processed events in the log (compact sample payloads with
their own ids), `MILESTONES_PER_SHIPMENT` milestones, `CONTAINERS_PER_SHIPMENT` containers and
`ETA_REPORTS_PER_SHIPMENT` ETA observations (every `ETA_EVERY`th event reported an estimated
arrival, drifting later by a few hours each time, as the worker's projection records them), so
every shipment answers `GET /api/shipments/{id}` with the same shape whatever the store's size.
Shipments are written interleaved, a window of them at a time, so one shipment's rows are spread
over the tables as they would be after months of deliveries. Each shipment then gets the
document the worker keeps with it (`app.store.documents`), as after real deliveries.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from app.core.events import parse_event
from app.core.ids import event_workflow_id
from app.store import db, documents
from bench import payloads, troubled

EVENTS_PER_SHIPMENT = 25
MILESTONES_PER_SHIPMENT = 8
CONTAINERS_PER_SHIPMENT = 2
ETA_EVERY = 5  # events 0, 5, 10, ... reported an ETA
ETA_REPORTS_PER_SHIPMENT = -(-EVENTS_PER_SHIPMENT // ETA_EVERY)
MILESTONES = (
    "cargo_ready",
    "departed",
    "arrived",
    "departed",
    "arrived",
    "customs_cleared",
    "out_for_delivery",
    "delivered",
)
EPOCH = datetime(2025, 1, 1, tzinfo=UTC)
BATCH = 20_000


def shipment_id(k: int) -> str:
    return str(7_000_000 + k)


def shipment_name(k: int) -> str:
    return f"Bench shipment {k}"


def _stamp(when: datetime) -> str:
    # How SQLAlchemy stores a UTC column on SQLite (see app.store.models.UTCDateTime).
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


class _Kinds:
    """The compact samples, parsed once: (template, type, category, name)."""

    def __init__(self) -> None:
        milestone: tuple[payloads.Template, str, str, str] | None = None
        self.others: list[tuple[payloads.Template, str, str, str]] = []
        for template in payloads.templates(compact_only=True):
            event = parse_event(template.render("x", "1").encode("utf-8"))
            kind = (template, event.type, event.category, event.classification.name)
            if event.milestone and milestone is None:
                milestone = kind
            else:
                self.others.append(kind)
        assert milestone is not None, "no compact milestone sample"
        self.milestone = milestone


def _rows(
    first: int, count: int, window: int, *, troubles: bool = False
) -> Iterator[tuple[str, tuple[object, ...]]]:
    """(table, row) for shipments [first, first + count), interleaved `window` at a time;
    `troubles` adds what the `reads` phase lists beside: failed events and exceptions."""
    kinds = _Kinds()
    for block in range(first, first + count, window):
        shipments = range(block, min(block + window, first + count))
        for k in shipments:
            yield from _shipment_rows(k)
            if troubles:
                yield from troubled.exception_rows(k, shipment_id(k), EPOCH)
        for seq in range(EVENTS_PER_SHIPMENT):
            for k in shipments:
                for table, row in _event_rows(k, seq, kinds):
                    if (
                        troubles
                        and table == "event"
                        and troubled.failed(k)
                        and seq == EVENTS_PER_SHIPMENT - 1
                    ):
                        row = (*row[:8], "failed", *row[9:])
                    yield table, row


def _shipment_rows(k: int) -> Iterator[tuple[str, tuple[object, ...]]]:
    """Shipment k, delivered, and its containers."""
    sid = shipment_id(k)
    at = EPOCH + timedelta(minutes=k)
    yield (
        "shipment",
        (
            sid,
            shipment_name(k),
            "ocean",
            "delivered",
            _stamp(at),
            "Los Angeles, CA",
            "USLAX",
            "US",
            "America/Los_Angeles",
            _stamp(at),
            _stamp(at),
            _stamp(at + timedelta(days=20)),
            _stamp(at + timedelta(days=18)),
            _stamp(at + timedelta(days=21)),
            _stamp(at + timedelta(days=23)),
            _stamp(at + timedelta(days=23)),
            "{}",
        ),
    )
    for c in range(CONTAINERS_PER_SHIPMENT):
        yield (
            "container",
            (
                f"BNCH{k:07d}{c}",
                sid,
                str(k * 10 + c),
                "dry",
                "40ft",
                f"SL{k}{c}",
                "delivered",
                _stamp(at),
                "Los Angeles, CA",
                "USLAX",
                "US",
                "{}",
            ),
        )


def _event_rows(k: int, seq: int, kinds: _Kinds) -> Iterator[tuple[str, tuple[object, ...]]]:
    """Shipment k's event number `seq`, processed; the first ones are milestones."""
    sid = shipment_id(k)
    event_id = f"seed-{k * EVENTS_PER_SHIPMENT + seq:09d}"
    when = EPOCH + timedelta(minutes=k, hours=seq)
    if seq < MILESTONES_PER_SHIPMENT:
        template, type_, category, name = kinds.milestone
        yield (
            "milestone",
            (
                event_id,
                sid,
                MILESTONES[seq],
                _stamp(when),
                "Yantian, China",
                "CNYTN",
                "CN",
                "Asia/Shanghai",
                0,
            ),
        )
    else:
        template, type_, category, name = kinds.others[seq % len(kinds.others)]
    if seq % ETA_EVERY == 0:
        estimate = EPOCH + timedelta(minutes=k, days=18, hours=3 * seq)
        yield ("eta_observation", (event_id, sid, _eta_stamp(when, event_id), _stamp(estimate)))
    yield (
        "event",
        (
            event_id,
            type_,
            category,
            name,
            sid,
            _stamp(when),
            _stamp(when + timedelta(minutes=3)),
            _stamp(when + timedelta(minutes=3)),
            "processed",
            event_workflow_id(event_id),
            template.render(event_id, sid),
            "[]",
        ),
    )


def _eta_stamp(occurred_at: datetime, event_id: str) -> str:
    # As app.store.projection.make_stamp writes it.
    return f"{occurred_at.astimezone(UTC):%Y-%m-%dT%H:%M:%S.%f}|{event_id}"


INSERTS = {
    "shipment": "INSERT INTO shipment (id, name, transportation_mode, status, status_at, "
    "location_name, location_unlocode, location_country, location_timezone, estimated_departure, "
    "actual_departure, estimated_arrival, previous_estimated_arrival, actual_arrival, "
    "delivered_at, updated_at, versions) VALUES (" + ",".join("?" * 17) + ")",
    "container": "INSERT INTO container (number, shipment_id, flexport_id, container_type, "
    "container_size, seal_number, last_event, last_event_at, location_name, location_unlocode, "
    "location_country, versions) VALUES (" + ",".join("?" * 12) + ")",
    "milestone": "INSERT INTO milestone (event_id, shipment_id, milestone, occurred_at, "
    "location_name, location_unlocode, location_country, location_timezone, late) "
    "VALUES (" + ",".join("?" * 9) + ")",
    "eta_observation": "INSERT INTO eta_observation (event_id, shipment_id, stamp, "
    "estimated_arrival) VALUES (?,?,?,?)",
    "event": "INSERT INTO event (event_id, type, category, name, shipment_id, occurred_at, "
    "received_at, processed_at, status, workflow_id, payload, alerts) "
    "VALUES (" + ",".join("?" * 12) + ")",
    "shipment_exception": "INSERT INTO shipment_exception ("
    + ", ".join(troubled.EXCEPTION_COLUMNS)
    + ") VALUES ("
    + ",".join("?" * len(troubled.EXCEPTION_COLUMNS))
    + ")",
}


def columns(table: str) -> str:
    """The column list of `table`'s insert, for a COPY of the same rows."""
    return INSERTS[table].split("(", 1)[1].split(")", 1)[0]


def seed(
    database: Path,
    *,
    first_shipment: int,
    shipments: int,
    window: int = 1000,
    troubles: bool = False,
) -> int:
    """Add `shipments` shipments' history to `database` (schema already there); return events.
    `troubles`: a few failed events and exceptions too (bench/troubled.py)."""
    connection = sqlite3.connect(database, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=OFF")
        connection.execute("PRAGMA cache_size=-262144")
        pending: dict[str, list[tuple[object, ...]]] = {table: [] for table in INSERTS}
        events = 0

        def flush() -> None:
            connection.execute("BEGIN")
            for table, rows in pending.items():
                if rows:
                    connection.executemany(INSERTS[table], rows)
                    rows.clear()
            connection.execute("COMMIT")

        for table, row in _rows(first_shipment, shipments, window, troubles=troubles):
            pending[table].append(row)
            if table == "event":
                events += 1
                if events % BATCH == 0:
                    flush()
        flush()
    finally:
        connection.close()
    engine = db.create_db_engine(f"sqlite:///{database}")
    try:
        documents.fill_missing(engine)
    finally:
        engine.dispose()
    connection = sqlite3.connect(database, isolation_level=None)
    try:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()
    return events


def seed_postgres(
    url: str, *, first_shipment: int, shipments: int, window: int = 1000, troubles: bool = False
) -> int:
    """`seed` on PostgreSQL (`url`: SQLAlchemy's, schema already there): the same rows through
    COPY, then the documents, then `VACUUM ANALYZE` as autovacuum would have run after a year
    of deliveries; return events."""
    events = 0
    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as connection:
        connection.execute("SET TIME ZONE 'UTC'")
        rows = _rows(first_shipment, shipments, window, troubles=troubles)
        while True:
            pending: dict[str, list[tuple[object, ...]]] = {table: [] for table in INSERTS}
            for table, row in rows:
                pending[table].append(row)
                if table == "event":
                    events += 1
                    if events % BATCH == 0:
                        break
            if not any(pending.values()):
                break
            with connection.transaction(), connection.cursor() as cursor:
                for table, batch in pending.items():
                    if not batch:
                        continue
                    with cursor.copy(f"COPY {table} ({columns(table)}) FROM STDIN") as copy:
                        for row in batch:
                            copy.write_row(row)
    engine = db.create_db_engine(url)
    try:
        documents.fill_missing(engine)
    finally:
        engine.dispose()
    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE")
    return events


def count_events(database: Path) -> int:
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        return int(connection.execute("SELECT count(*) FROM event").fetchone()[0])
    finally:
        connection.close()
