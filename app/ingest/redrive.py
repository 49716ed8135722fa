"""Redrive: run logged events through the normal path again.

A failed event runs again; a queued one is started now (and leaves the spool); an ignored one
runs again so that a newer flexhook can process a type it did not know; a processed one stays a
no-op (Temporal answers `duplicate`). Alerts already sent are never sent again: the ledger
remembers them. The API, the dashboard and `flexhook redrive` all go through `redrive_event`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from app.core.events import parse_event
from app.core.statuses import EventStatus, StartStatus
from app.ingest.errors import EventNotFound, PayloadRemoved
from app.ingest.starter import EventStarter
from app.store import db, spool
from app.store.filters import ANY_EVENT, EventFilter
from app.store.models import EventRecord
from app.store.retention import PAYLOAD_REMOVED

log = logging.getLogger("flexhook.web")


@dataclass(frozen=True)
class Candidate:
    event_id: str
    status: str
    body: str | None  # None: removed by payload retention
    received_at: datetime


def candidates(session: Session, *, where: EventFilter = ANY_EVENT) -> list[Candidate]:
    """Logged events matching the filter, oldest received first."""
    rows = session.exec(where.apply(select(EventRecord)).order_by(col(EventRecord.received_at)))
    return [Candidate(r.event_id, r.status, r.payload, r.received_at) for r in rows.all()]


async def redrive_event(
    *, engine: Engine, starter: EventStarter, candidate: Candidate
) -> StartStatus:
    """Start the candidate's workflow again: `accepted` or `duplicate`. A queued candidate leaves
    the spool. Raises `TemporalUnavailable` when Temporal does not take it, `PayloadRemoved`
    when payload retention removed its body (nothing changes either way)."""
    status = await _start(candidate, starter=starter)
    if candidate.status == EventStatus.QUEUED:
        await db.in_session(engine, spool.forget, commit=True, event_id=candidate.event_id)
    log.info(
        "event %s redriven by an operator: %s",
        candidate.event_id,
        status,
        extra={"event_id": candidate.event_id},
    )
    return status


async def redrive_by_id(*, engine: Engine, starter: EventStarter, event_id: str) -> StartStatus:
    """`redrive_event` of one logged event; raises `EventNotFound` (a `LookupError`) if the log
    has no such event."""
    found = await db.in_session(engine, candidates, where=EventFilter(event_id=event_id))
    if not found:
        raise EventNotFound(f"no event {event_id}")
    return await redrive_event(engine=engine, starter=starter, candidate=found[0])


async def _start(candidate: Candidate, *, starter: EventStarter) -> StartStatus:
    """Only the start of `redrive_event` (no spool clean-up, no log line)."""
    if candidate.body is None:
        raise PayloadRemoved(f"event {candidate.event_id}: its payload was {PAYLOAD_REMOVED}")
    event = parse_event(candidate.body.encode("utf-8"))
    result = await starter.start(
        event,
        body=candidate.body,
        received_at=candidate.received_at,
        rerun=candidate.status == EventStatus.IGNORED,
    )
    return result.status
