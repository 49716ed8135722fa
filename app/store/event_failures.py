"""Events that failed for good, and events stuck in `processing`: the log's side of a poison
event. Keyword-only functions over a caller's session; the caller commits."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, func, select

from app.core.events import Event, storable
from app.core.limits import failure_reason
from app.core.statuses import EventStatus
from app.store.models import EventRecord
from app.store.projection import new_event_row


def _log_row(
    session: Session,
    *,
    event: Event,
    body: str,
    workflow_id: str,
    received_at: datetime,
    status: EventStatus,
) -> tuple[EventRecord, bool]:
    """The event's log row and whether it is new (added with `status` and what of the event
    fits the columns)."""
    row = session.get(EventRecord, event.event_id)
    if row is not None:
        return row, False
    row = new_event_row(
        storable(event), body=body, workflow_id=workflow_id, received_at=received_at, status=status
    )
    session.add(row)
    return row, True


def record_failed(
    session: Session,
    *,
    event: Event,
    body: str,
    workflow_id: str,
    received_at: datetime,
    error: str,
) -> None:
    """Log `event` as `failed` with the reason (its first line, no bound parameters), storing of
    it what fits the columns; an event processed meanwhile stays processed."""
    row, new = _log_row(
        session,
        event=event,
        body=body,
        workflow_id=workflow_id,
        received_at=received_at,
        status=EventStatus.FAILED,
    )
    if new or row.status != EventStatus.PROCESSED:
        row.status = EventStatus.FAILED
        row.error = failure_reason(error)


def record_attempt(
    session: Session,
    *,
    event: Event,
    body: str,
    workflow_id: str,
    received_at: datetime,
    error: str,
) -> None:
    """Keep a failed attempt's error on the event's log row, `processing` (the event is retried):
    a new row for an event the log does not have yet, the error on a queued, failed or
    processing one."""
    row, new = _log_row(
        session,
        event=event,
        body=body,
        workflow_id=workflow_id,
        received_at=received_at,
        status=EventStatus.PROCESSING,
    )
    if not new and row.status not in (
        EventStatus.QUEUED,
        EventStatus.FAILED,
        EventStatus.PROCESSING,
    ):
        return
    row.status = EventStatus.PROCESSING
    row.error = failure_reason(error)


def stuck_processing(session: Session, *, received_before: datetime) -> tuple[int, str | None]:
    """How many events received before `received_before` are still `processing`, and the id of
    the oldest (None when there is none)."""
    stuck = (
        col(EventRecord.status) == EventStatus.PROCESSING,
        col(EventRecord.received_at) < received_before,
    )
    count = session.exec(select(func.count()).select_from(EventRecord).where(*stuck)).one()
    if not count:
        return 0, None
    oldest = session.exec(
        select(EventRecord.event_id).where(*stuck).order_by(col(EventRecord.received_at)).limit(1)
    ).first()
    return int(count), oldest
