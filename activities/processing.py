"""Activities that keep the records: each one short, idempotent, in one database transaction."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session
from temporalio import activity

from activities.types import ApplyEventInput, MarkFailedInput, RecordEventInput
from app.core.events import parse_event
from app.core.outcome import EventOutcome
from app.store import projection as records


class RecordActivities:
    """Sync activities (run on the worker's thread pool) over one injected engine."""

    def __init__(self, engine: Engine, *, eta_slip_hours: float = 24.0) -> None:
        self._engine = engine
        self._eta_slip_hours = eta_slip_hours

    @activity.defn(name="record_event")
    def record_event(self, input: RecordEventInput) -> EventOutcome:
        """Store the event in the log; unknown types are stored as `ignored`."""
        event = parse_event(input.body.encode("utf-8"))
        with Session(self._engine) as session:
            row = records.record_event(
                session,
                event=event,
                body=input.body,
                workflow_id=input.workflow_id,
                received_at=datetime.fromisoformat(input.received_at),
            )
            outcome = EventOutcome(
                event_id=row.event_id,
                status=row.status,
                category=row.category,
                shipment_id=row.shipment_id,
                milestone=event.milestone,
            )
            session.commit()
        return outcome

    @activity.defn(name="apply_event")
    def apply_event(self, input: ApplyEventInput) -> EventOutcome:
        """Update the records the event speaks of; return the alerts it deserves."""
        with Session(self._engine) as session:
            outcome = records.apply_event(
                session,
                event_id=input.event_id,
                now=datetime.now(UTC),
                eta_slip_hours=self._eta_slip_hours,
            )
            session.commit()
        return outcome

    @activity.defn(name="mark_event_failed")
    def mark_event_failed(self, input: MarkFailedInput) -> None:
        with Session(self._engine) as session:
            records.mark_failed(session, event_id=input.event_id, error=input.error)
            session.commit()

    def all(self) -> list[Callable[..., Any]]:
        return [self.record_event, self.apply_event, self.mark_event_failed]
