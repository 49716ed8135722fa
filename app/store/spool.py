"""The durable spool: verified events that Temporal could not take, kept in the database until
the relay starts them. Data access only; keyword-only functions over a caller's session."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlmodel import Session, col, func, or_, select

from app.core.events import Event
from app.core.ids import event_workflow_id
from app.store.models import EventRecord, SpooledEvent
from app.store.projection import new_event_row


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


def enqueue(
    session: Session, *, event: Event, body: str, received_at: datetime
) -> Literal["queued", "duplicate"]:
    """Keep `event` until Temporal answers: `queued` in the log plus a spool row, once per id.

    An event the log already has as processed or ignored is a duplicate, as Temporal would say.
    """
    row = session.get(EventRecord, event.event_id)
    if row is None:
        session.add(
            new_event_row(
                event,
                body=body,
                workflow_id=event_workflow_id(event.event_id),
                received_at=received_at,
                status="queued",
            )
        )
    elif row.status in ("processed", "ignored", "processing"):
        return "duplicate"
    else:
        row.status = "queued"
    spooled = session.exec(
        select(SpooledEvent.id).where(SpooledEvent.event_id == event.event_id)
    ).first()
    if spooled is None:
        session.add(SpooledEvent(event_id=event.event_id, received_at=received_at))
    return "queued"


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
        row.status = "failed"
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
