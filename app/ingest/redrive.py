"""Redrive: run logged events through the normal path again.

A failed event runs again; a queued one is started now; an ignored one runs again so that a
newer flexhook can process a type it did not know; a processed one stays a no-op (Temporal
answers `duplicate`). Alerts already sent are never sent again: the ledger remembers them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from app.core.events import parse_event
from app.ingest.starter import EventStarter
from app.store.filters import ANY_EVENT, EventFilter
from app.store.models import EventRecord

REPLAYABLE_STATUSES = ("failed", "queued", "ignored", "processed", "processing")


@dataclass(frozen=True)
class Candidate:
    event_id: str
    status: str
    body: str
    received_at: datetime


def candidates(session: Session, *, where: EventFilter = ANY_EVENT) -> list[Candidate]:
    """Logged events matching the filter, oldest received first."""
    rows = session.exec(where.apply(select(EventRecord)).order_by(col(EventRecord.received_at)))
    return [Candidate(r.event_id, r.status, r.payload, r.received_at) for r in rows.all()]


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
