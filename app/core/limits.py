"""The lengths the database enforces (`app/store/models.py`), checked when an event is parsed.

PostgreSQL refuses a value longer than its column (SQLite stores it all the same); an event that
holds one would fail its transaction on every attempt. Parsing finds it first, so the event is
stored `failed` with the reason instead. Pure standard library.
"""

from __future__ import annotations

from collections.abc import Iterator

from app.core.alert import KINDS
from app.core.facts import Facts

EVENT_ID_CHARS = 200  # event.event_id
EVENT_TYPE_CHARS = 200  # event.type
RECORD_ID_CHARS = 64  # shipment, booking, purchase order, invoice and document ids
CONTAINER_NUMBER_CHARS = 20  # container.number
ALERT_KEY_CHARS = 240  # notification.dedup_key
# `shipment-<id>:<kind>:<leg>:<time>`: the longest kind, the longest ISO time in UTC.
_KIND_CHARS = max(len(kind) for kind in KINDS)
_TIME_CHARS = len("2026-01-01T00:00:00.000000+00:00")


def oversized(*, event_type: str, shipment_id: str | None, facts: Facts | None) -> str | None:
    """Why the event cannot be stored as it is (the first value too long), or None."""
    if len(event_type) > EVENT_TYPE_CHARS:
        return f"`type` is longer than {EVENT_TYPE_CHARS} characters"
    for name, value, limit in _values(shipment_id, facts):
        if len(value) > limit:
            return f"{name} is longer than {limit} characters ({len(value)})"
    if facts is not None and facts.leg_id is not None:
        shipment = shipment_id or (facts.shipment.shipment_id if facts.shipment else "")
        key = len(f"shipment-{shipment}:") + _KIND_CHARS + len(f":{facts.leg_id}:") + _TIME_CHARS
        if key > ALERT_KEY_CHARS:
            return (
                f"the leg id ({len(facts.leg_id)} characters) makes the alert key longer "
                f"than {ALERT_KEY_CHARS} characters"
            )
    return None


def _values(shipment_id: str | None, facts: Facts | None) -> Iterator[tuple[str, str, int]]:
    """Each bounded value of the event: what to call it, the value, its limit."""
    if shipment_id is not None:
        yield "the shipment id", shipment_id, RECORD_ID_CHARS
    if facts is None:
        return
    if facts.shipment is not None:
        yield "the shipment id", facts.shipment.shipment_id, RECORD_ID_CHARS
    if facts.booking is not None:
        yield "the booking id", facts.booking.booking_id, RECORD_ID_CHARS
        yield "the booking's shipment id", facts.booking.shipment_id or "", RECORD_ID_CHARS
    if facts.purchase_order is not None:
        yield "the purchase order id", facts.purchase_order.purchase_order_id, RECORD_ID_CHARS
    if facts.invoice is not None:
        yield "the invoice id", facts.invoice.invoice_id, RECORD_ID_CHARS
        yield "the invoice's shipment id", facts.invoice.shipment_id or "", RECORD_ID_CHARS
    if facts.document is not None:
        yield "the document id", facts.document.document_id, RECORD_ID_CHARS
        yield "the document's shipment id", facts.document.shipment_id or "", RECORD_ID_CHARS
    for container in facts.containers:
        yield "a container number", container.container_number, CONTAINER_NUMBER_CHARS
        yield "a container's shipment id", container.shipment_id or "", RECORD_ID_CHARS


def failure_reason(error: str, *, limit: int = 500) -> str:
    """An error's text as the event log and ops keep it: its first line, without any bound
    parameters a database error may quote, at most `limit` characters."""
    line = error.strip().splitlines()[0] if error.strip() else "unknown error"
    line = line.split("[parameters:", 1)[0].split("[SQL:", 1)[0].rstrip()
    return line if len(line) <= limit else line[: limit - 1] + "…"
