"""What goes wrong in the `reads` phase's bulk store, so its lists of failures and its exception
inbox show realistic content: the last event of one shipment in `FAILED_EVERY` failed, and one
shipment in `EXCEPTION_EVERY` had a problem of one family (the families in turn), resolved by a
later Flexport event, but for one in `OPEN_EVERY` of them still open. The densities are the same
in every stretch of shipments, the first `SMALL_STORE_SHIPMENTS` (the small store,
bench/phases/store.py) included, and dense enough that the small store's lists of failures and
its inbox show a few rows (`small_store_counts`): one event in 250 failed, one shipment in 16
with an exception still open. The rows have the shape `app.store.exceptions` writes: a `report`
marker (and a `clear` one once resolved)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from app.core.exception_families import FAMILIES, SEVERITIES

FAILED_EVERY = 10  # shipments per failed event (of 25 events each: one event in 250)
EXCEPTION_EVERY = 4  # shipments per exception
OPEN_EVERY = 4  # exceptions per one still open
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


def still_open(k: int) -> bool:
    """Whether shipment k has an exception not resolved (one in `OPEN_EVERY` exceptions)."""
    return k % EXCEPTION_EVERY == 0 and (k // EXCEPTION_EVERY) % OPEN_EVERY == 0


def small_store_counts(shipments: int) -> dict[str, int]:
    """What the first `shipments` shipments hold: failed events, exceptions, those still open
    (the rows a list of each shows when the store holds only them)."""
    first = range(shipments)
    return {
        "failed": sum(1 for k in first if failed(k)),
        "exceptions": sum(1 for k in first if k % EXCEPTION_EVERY == 0),
        "open": sum(1 for k in first if still_open(k)),
    }


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
    resolved_at: str | None = None
    resolved_by: str | None = None
    if not still_open(k):
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
            "open" if still_open(k) else "resolved",
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
