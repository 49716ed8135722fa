"""What goes wrong in the `reads` phase's bulk store, so its lists of failures and its exception
inbox show realistic content: one event in `FAILED_EVERY` shipments' last event failed, and one
shipment in `EXCEPTION_EVERY` had a problem of one family (the families in turn), resolved by a
later Flexport event, but for one in `OPEN_EVERY` of them still open. The rows have the shape
`app.store.exceptions` writes: a `report` marker (and a `clear` one once resolved)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from app.core.exception_families import FAMILIES, SEVERITIES

FAILED_EVERY = 50  # shipments per failed event
EXCEPTION_EVERY = 4  # shipments per exception
OPEN_EVERY = 10  # exceptions per one still open
EXCEPTION_COLUMNS = (
    "shipment_id",
    "family",
    "severity",
    "severity_rank",
    "state",
    "occurrences",
    "recurrences",
    "opened_at",
    "resolved_by",
    "resolved_at",
    "markers",
    "version",
    "notices",
)


def failed(k: int) -> bool:
    """Whether shipment k's last event failed (one shipment in `FAILED_EVERY`)."""
    return k % FAILED_EVERY == 0


def _stamp(when: datetime, event_id: str) -> str:
    # As app.store.projection.make_stamp writes it.
    return f"{when.astimezone(UTC):%Y-%m-%dT%H:%M:%S.%f}|{event_id}"


def _column(when: datetime) -> str:
    # How SQLAlchemy stores a UTC column on SQLite (bench/store.py's `_stamp`).
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def exception_rows(k: int, sid: str, epoch: datetime) -> Iterator[tuple[str, tuple[object, ...]]]:
    """Shipment k's exception, when it has one."""
    if k % EXCEPTION_EVERY:
        return
    number = k // EXCEPTION_EVERY
    family = FAMILIES[number % len(FAMILIES)]
    opened = epoch + timedelta(minutes=k, days=3)
    report = f"trouble-{k:09d}-report"
    markers: list[list[str]] = [[_stamp(opened, report), "report", report]]
    still_open = number % OPEN_EVERY == 0
    resolved_at: str | None = None
    resolved_by: str | None = None
    if not still_open:
        cleared = opened + timedelta(days=2)
        clear = f"trouble-{k:09d}-clear"
        markers.append([_stamp(cleared, clear), "clear", clear])
        resolved_at, resolved_by = _column(cleared), f"flexport:{clear}"
    yield (
        "shipment_exception",
        (
            sid,
            family.name,
            family.severity,
            SEVERITIES.index(family.severity),
            "open" if still_open else "resolved",
            1,
            0,
            _column(opened),
            resolved_by,
            resolved_at,
            json.dumps(markers),
            len(markers),
            "[]",
        ),
    )
