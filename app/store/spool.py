"""The durable spool: verified events that Temporal could not take, kept in the database until
the relay starts them. Data access only; keyword-only functions over a caller's session."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import BindParameter, Connection, bindparam, insert, update
from sqlmodel import Session, col, func, or_, select

from app.core.errors import EventDataError
from app.core.events import Event, storable
from app.core.ids import event_workflow_id
from app.core.statuses import EventStatus, StartStatus
from app.store.models import EventRecord, SpooledEvent

Outcome = Literal[StartStatus.QUEUED, StartStatus.DUPLICATE]
# Log statuses of an event Temporal has taken: spooling it again would run it twice.
_TAKEN = frozenset({EventStatus.PROCESSED, EventStatus.IGNORED, EventStatus.PROCESSING})

# Built once: a batch runs the same few statements, only the bound values change.
_IDS: BindParameter[list[str]] = bindparam("ids", expanding=True)
_LOGGED = select(EventRecord.event_id, EventRecord.status).where(
    col(EventRecord.event_id).in_(_IDS)
)
_SPOOLED = select(SpooledEvent.event_id).where(col(SpooledEvent.event_id).in_(_IDS))
_REQUEUE = (
    update(EventRecord).where(col(EventRecord.event_id).in_(_IDS)).values(status=EventStatus.QUEUED)
)
_INSERT_LOGGED = insert(EventRecord)
_INSERT_SPOOLED = insert(SpooledEvent)


@dataclass(frozen=True)
class Spooling:
    """One verified event to keep: what `enqueue_many` takes."""

    event: Event
    body: str
    received_at: datetime


@dataclass(frozen=True)
class Leased:
    spool_id: int
    event_id: str
    body: str
    received_at: datetime


@dataclass(frozen=True)
class SpoolStats:
    depth: int
    oldest_received_at: datetime | None

    def as_json(self, *, now: datetime) -> dict[str, object]:
        oldest = self.oldest_received_at
        return {
            "depth": self.depth,
            "oldest_received_at": oldest.isoformat() if oldest else None,
            "oldest_age_seconds": round((now - oldest).total_seconds(), 3) if oldest else None,
        }


def enqueue(session: Session, *, event: Event, body: str, received_at: datetime) -> Outcome:
    """Keep `event` until Temporal answers: `queued` in the log plus a spool row, once per id.

    An event the log already has as processed or ignored is a duplicate, as Temporal would say.
    """
    return enqueue_many(session.connection(), items=[Spooling(event, body, received_at)])[0]


def enqueue_many(connection: Connection, *, items: Sequence[Spooling]) -> list[Outcome]:
    """`enqueue` for each of `items`, in order, in a few statements whatever their number: two
    lookups, then core inserts of many rows (no ORM objects), in the caller's transaction on
    `connection`. One outcome per item, as `enqueue` would answer them one after the other: an
    id repeated within `items` is `queued` again."""
    ids = {"ids": list(dict.fromkeys(item.event.event_id for item in items))}
    status: dict[str, str] = {row.event_id: row.status for row in connection.execute(_LOGGED, ids)}
    spooled: set[str] = set(connection.execute(_SPOOLED, ids).scalars())
    logged: list[dict[str, Any]] = []
    requeued: list[str] = []
    spool_rows: list[dict[str, Any]] = []
    outcomes: list[Outcome] = []
    for item in items:
        event_id = item.event.event_id
        known = status.get(event_id)
        if known in _TAKEN:
            outcomes.append(StartStatus.DUPLICATE)
            continue
        if known is None:
            logged.append(_log_values(item))
        elif known != EventStatus.QUEUED:
            requeued.append(event_id)  # failed: queued again
        status[event_id] = EventStatus.QUEUED
        if event_id not in spooled:
            spooled.add(event_id)
            spool_rows.append(
                {
                    "event_id": event_id,
                    "received_at": item.received_at,
                    "leased_until": None,
                    "attempts": 0,
                    "last_error": None,
                }
            )
        outcomes.append(StartStatus.QUEUED)
    if logged:
        connection.execute(_INSERT_LOGGED, logged)
    if requeued:
        connection.execute(_REQUEUE, {"ids": requeued})
    if spool_rows:
        connection.execute(_INSERT_SPOOLED, spool_rows)
    return outcomes


def _log_values(item: Spooling) -> dict[str, Any]:
    """The columns of a new `queued` log row (what `projection.new_event_row` would hold); of an
    event with a value too long for its column, what fits (processing fails it with the reason)."""
    event = storable(item.event)
    try:
        occurred_at = event.occurred_at()
    except EventDataError:
        occurred_at = None  # the apply step reports the bad value
    return {
        "event_id": event.event_id,
        "type": event.type,
        "category": event.category,
        "name": event.classification.name,
        "shipment_id": event.shipment_id,
        "occurred_at": occurred_at,
        "received_at": item.received_at,
        "processed_at": None,
        "status": EventStatus.QUEUED,
        "error": None,
        "workflow_id": event_workflow_id(event.event_id),
        "payload": item.body,
        "alerts": [],
    }


def lease(session: Session, *, now: datetime, limit: int, hold: timedelta) -> list[Leased]:
    """Take up to `limit` of the oldest rows no other relay holds, for `hold`."""
    statement = (
        select(SpooledEvent, EventRecord.payload)
        .join(EventRecord, col(EventRecord.event_id) == col(SpooledEvent.event_id))
        .where(or_(col(SpooledEvent.leased_until).is_(None), col(SpooledEvent.leased_until) < now))
        .order_by(col(SpooledEvent.id))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    leased = []
    for spooled, payload in session.exec(statement).all():
        assert payload is not None, "retention never removes a queued event's payload"
        spooled.leased_until = now + hold
        session.add(spooled)
        assert spooled.id is not None
        leased.append(Leased(spooled.id, spooled.event_id, payload, spooled.received_at))
    return leased


def release(session: Session, *, spool_id: int, error: str) -> None:
    """Give a row back after a failed start, so the next round tries it again."""
    spooled = session.get(SpooledEvent, spool_id)
    if spooled is not None:
        spooled.leased_until = None
        spooled.attempts += 1
        spooled.last_error = error[:500]


def remove(session: Session, *, spool_id: int) -> None:
    spooled = session.get(SpooledEvent, spool_id)
    if spooled is not None:
        session.delete(spooled)


def reject(session: Session, *, spool_id: int, event_id: str, error: str) -> None:
    """Temporal refused a spooled event for good: out of the spool, `failed` in the log."""
    remove(session, spool_id=spool_id)
    row = session.get(EventRecord, event_id)
    if row is not None:
        row.status = EventStatus.FAILED
        row.error = error[:2000]


def forget(session: Session, *, event_id: str) -> None:
    """Drop an event's spool row once it was started some other way (a redrive)."""
    spooled = session.exec(select(SpooledEvent).where(SpooledEvent.event_id == event_id)).first()
    if spooled is not None:
        session.delete(spooled)


def stats(session: Session) -> SpoolStats:
    depth, oldest = session.exec(
        select(func.count(col(SpooledEvent.id)), func.min(SpooledEvent.received_at))
    ).one()
    return SpoolStats(depth=int(depth), oldest_received_at=oldest)
