"""Payload retention: the raw bodies of old events leave the event log; the rows stay.

An event received before the cutoff that is no longer queued or processing loses its payload
(set to NULL). Every other column of its row stays (ids, type, shipment, times, status, error,
the alerts decided), and so do the records it was applied to and the alert ledger. Work goes
in bounded batches, each its own transaction, walking the event ids in order (keyset), so a
large backlog never holds one long transaction or loads the log into memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col, select

from app.core.errors import EventDataError
from app.core.statuses import EventStatus
from app.store.models import EventRecord

PAYLOAD_REMOVED = "removed by payload retention"
DEFAULT_BATCH = 500
# The spool starts queued events from their payload; processing ones may still read it.
_IN_FLIGHT = (EventStatus.QUEUED, EventStatus.PROCESSING)


@dataclass(frozen=True)
class Batch:
    """One batch's outcome: how many payloads it removed and the last event id it looked at
    (None: nothing was left before the cutoff)."""

    removed: int
    last_event_id: str | None


def remove_payloads_batch(
    session: Session, *, received_before: datetime, after_event_id: str = "", limit: int
) -> Batch:
    """Remove the payloads of up to `limit` events received before `received_before` whose id
    sorts after `after_event_id`, queued and processing ones excepted. The caller commits."""
    ids = list(
        session.exec(
            select(EventRecord.event_id)
            .where(col(EventRecord.received_at) < received_before)
            .where(col(EventRecord.payload).is_not(None))
            .where(col(EventRecord.status).not_in(_IN_FLIGHT))
            .where(col(EventRecord.event_id) > after_event_id)
            .order_by(col(EventRecord.event_id))
            .limit(limit)
        ).all()
    )
    if not ids:
        return Batch(removed=0, last_event_id=None)
    session.execute(
        update(EventRecord)
        .where(col(EventRecord.event_id).in_(ids))
        .where(col(EventRecord.status).not_in(_IN_FLIGHT))  # changed since the select
        .values(payload=None)
    )
    return Batch(removed=len(ids), last_event_id=ids[-1])


def kept_payload(row: EventRecord) -> str:
    """The row's payload; `EventDataError` (nothing to parse, never worth a retry) when
    retention removed it."""
    if row.payload is None:
        raise EventDataError(f"event {row.event_id}: its payload was {PAYLOAD_REMOVED}")
    return row.payload
