"""Redrive: run logged events through the normal path again.

A failed event runs again; a queued one is started now; an ignored one runs again so that a
newer flexhook can process a type it did not know; a processed one stays a no-op (Temporal
answers `duplicate`). Alerts already sent are never sent again: the ledger remembers them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from app.events import parse_event
from app.models import EventRecord
from app.starter import EventStarter

REPLAYABLE_STATUSES = ("failed", "queued", "ignored", "processed", "processing")


@dataclass(frozen=True)
class Candidate:
    event_id: str
    status: str
    body: str
    received_at: datetime


def candidates(
    session: Session,
    *,
    status: str | None = None,
    event_type: str | None = None,
    shipment_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    event_id: str | None = None,
) -> list[Candidate]:
    """Logged events matching every given filter, oldest received first."""
    statement = select(EventRecord)
    if event_id:
        statement = statement.where(EventRecord.event_id == event_id)
    if status:
        statement = statement.where(EventRecord.status == status)
    if event_type:
        statement = statement.where(EventRecord.type == event_type)
    if shipment_id:
        statement = statement.where(EventRecord.shipment_id == shipment_id)
    if since:
        statement = statement.where(EventRecord.received_at >= since)
    if until:
        statement = statement.where(EventRecord.received_at < until)
    rows = session.exec(statement.order_by(col(EventRecord.received_at))).all()
    return [Candidate(r.event_id, r.status, r.payload, r.received_at) for r in rows]


async def replay(candidate: Candidate, *, starter: EventStarter) -> str:
    """Start the candidate's workflow again; `accepted` or `duplicate` (raises
    `TemporalUnavailable` when Temporal does not take it)."""
    event = parse_event(candidate.body.encode("utf-8"))
    result = await starter.start(
        event,
        body=candidate.body,
        received_at=candidate.received_at,
        rerun=candidate.status == "ignored",
    )
    return result.status
