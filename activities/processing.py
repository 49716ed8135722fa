"""Activities that keep the records: each one short, idempotent, in one database transaction.

`process_event` is the current path: record, apply and plan alerts in one local activity and one
transaction, parsing the body once. `record_event`, `apply_event` and `mark_event_failed` are
the path before it, kept registered for workflow runs that started on it.

Every synchronous activity of flexhook's is defined with `no_thread_cancel_exception=True`: the
SDK would otherwise cancel it by raising inside its thread, at any bytecode, in the middle of a
database transaction or between taking the engine's writer lock and noting that it holds it.
A cancelled activity finishes its short transaction instead; its result is then ignored."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

from opentelemetry import trace
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.delivery import NotificationActivities
from activities.eta_watch import EtaWatchFeed, tell_watch
from activities.exceptions import (
    ExceptionRules,
    ExceptionWatchFeed,
    record_exceptions,
    tell_watches,
)
from activities.types import (
    ApplyEventInput,
    MarkFailedInput,
    ProcessedEvent,
    ProcessEventInput,
    RecordEventInput,
)
from app.core import ops_alerts
from app.core.alert_rules import decide_alerts
from app.core.errors import EventDataError
from app.core.events import Event, parse_event, storable
from app.core.limits import failure_reason
from app.core.outcome import EventOutcome
from app.core.statuses import EventStatus
from app.core.trace_attributes import event_attributes
from app.store import db, event_failures, projection
from app.store.models import EventRecord

# How long after a shipment's ETA an arrival may still come before the watch alerts
# (`FLEXHOOK_ETA_GRACE`); the default of the setting.
DEFAULT_ETA_GRACE = timedelta(hours=6)
# `event_failures.record_failed` or `record_attempt`: what to write of an event that failed.
LogWrite = Callable[..., None]


def _log(
    session: Session, event: Event, input: RecordEventInput | ProcessEventInput
) -> EventRecord:
    """The event's entry in the log, written (or brought back to processing) in `session`."""
    return projection.record_event(
        session,
        event=event,
        body=input.body,
        workflow_id=input.workflow_id,
        received_at=datetime.fromisoformat(input.received_at),
    )


def apply_and_decide(
    session: Session, *, event_id: str, now: datetime, eta_slip_hours: float, event: Event | None
) -> EventOutcome:
    """Project the event onto the records (the store), then ask the core which alerts it
    deserves, and keep them with the event: applied again, it answers the alerts of the first
    time."""
    applied = projection.apply_event(session, event_id=event_id, now=now, event=event)
    if applied.decided is not None:
        return dataclasses.replace(applied.outcome, alerts=applied.decided)
    alerts = []
    if applied.change is not None:
        alerts = decide_alerts(
            applied.event,
            change=applied.change,
            place=applied.place,
            occurred_at=applied.occurred_at,
            eta_slip_hours=eta_slip_hours,
        )
    projection.keep_alerts(session, event_id=event_id, alerts=alerts)
    return dataclasses.replace(applied.outcome, alerts=alerts)


def _recorded(row: EventRecord, event: Event) -> EventOutcome:
    """The outcome of an event that is logged and not (yet) applied."""
    return EventOutcome(
        event_id=row.event_id,
        status=row.status,
        category=row.category,
        shipment_id=row.shipment_id,
        milestone=event.milestone,
    )


def _past_deadline(input: ProcessEventInput, now: datetime) -> bool:
    return input.fail_after is not None and now >= datetime.fromisoformat(input.fail_after)


class RecordActivities:
    """The first shape's activities (`EventWorkflowV1`), kept for runs that started on it: sync,
    on the worker's thread pool, over one injected engine."""

    def __init__(self, engine: Engine, *, eta_slip_hours: float = 24.0) -> None:
        self._engine = engine
        self._eta_slip_hours = eta_slip_hours

    @activity.defn(name="record_event", no_thread_cancel_exception=True)
    def record_event(self, input: RecordEventInput) -> EventOutcome:
        """Store the event in the log; unknown types are stored as `ignored`."""
        event = parse_event(input.body.encode("utf-8"))
        with Session(self._engine) as session:
            outcome = _recorded(_log(session, event, input), event)
            session.commit()
        return outcome

    @activity.defn(name="apply_event", no_thread_cancel_exception=True)
    def apply_event(self, input: ApplyEventInput) -> EventOutcome:
        """Update the records the event speaks of; return the alerts it deserves."""
        with Session(self._engine) as session:
            outcome = apply_and_decide(
                session,
                event_id=input.event_id,
                now=datetime.now(UTC),
                eta_slip_hours=self._eta_slip_hours,
                event=None,
            )
            session.commit()
        return outcome

    @activity.defn(name="mark_event_failed", no_thread_cancel_exception=True)
    def mark_event_failed(self, input: MarkFailedInput) -> None:
        with Session(self._engine) as session:
            projection.mark_failed(session, event_id=input.event_id, error=input.error)
            session.commit()

    def all(self) -> list[Callable[..., Any]]:
        return [self.record_event, self.apply_event, self.mark_event_failed]


class EventActivities:
    """The one local activity that processes an event, over an injected engine and planner."""

    def __init__(
        self,
        engine: Engine,
        notifications: NotificationActivities,
        *,
        eta_slip_hours: float,
        eta_grace: timedelta = DEFAULT_ETA_GRACE,
        watch: EtaWatchFeed | None = None,
        exception_rules: ExceptionRules | None = None,
        exception_watch: ExceptionWatchFeed | None = None,
    ) -> None:
        """`exception_watch` hears of each exception an event touched (None: no watch)."""
        self._engine = engine
        self._notifications = notifications
        self._eta_slip_hours = eta_slip_hours
        self._eta_grace = eta_grace
        self._watch = watch
        self._exception_rules = exception_rules or ExceptionRules()
        self._exception_watch = exception_watch

    @activity.defn(name="process_event", no_thread_cancel_exception=True)
    def process_event(self, input: ProcessEventInput) -> ProcessedEvent:
        """Log the event, project it onto the records and plan its alerts, all in one
        transaction. An event the database cannot store as it is (a value too long), a value
        that cannot be read or a database error about the data marks the event failed
        (committed, with what of it fits) and raises a non-retryable error. Other trouble is
        retried, the error kept on the log row, until the run's deadline (`fail_after`): then
        the event is failed the same way. The exceptions the event opens, reports or clears
        are written in the same transaction (`activities.exceptions`). Once committed, an
        applied event tells its shipment's ETA watch and the watch of each exception it
        touched what changed (a retry tells them again)."""
        event = parse_event(input.body.encode("utf-8"))
        trace.get_current_span().set_attributes(  # RunActivity's span, when tracing is on
            event_attributes(
                event_id=event.event_id, event_type=event.type, shipment_id=event.shipment_id
            )
        )
        now = datetime.now(UTC)
        if event.defect is not None:
            self._fail(event, input, error=event.defect, now=now)
            raise ApplicationError(event.defect, type="EventDataError", non_retryable=True)
        if _past_deadline(input, now) and activity.info().attempt > 1:
            # The attempts so far failed or timed out: this one would be past the deadline too.
            self._give_up(event, input, error=self._last_error(event), now=now)
        try:
            return self._process(event, input, now=now)
        except ApplicationError:
            raise  # a value that cannot be read: already failed, not retried
        except SQLAlchemyError as exc:
            if db.is_data_error(exc):
                reason = failure_reason(str(exc))
                self._fail(event, input, error=reason, now=now)
                raise ApplicationError(reason, type="StoreDataError", non_retryable=True) from None
            error: Exception = exc
        except Exception as exc:
            error = exc
        reason = failure_reason(f"{type(error).__name__}: {error}")
        now = datetime.now(UTC)
        if _past_deadline(input, now):
            self._give_up(event, input, error=reason, now=now)
        self._note_attempt(event, input, error=reason)
        raise error

    def _give_up(
        self, event: Event, input: ProcessEventInput, *, error: str, now: datetime
    ) -> NoReturn:
        """Fail the event for good (ops told once) and end the attempts: the run fails. While
        the database cannot take the failed row, its error propagates instead and the attempt
        is retried: an event is never given up on before it is logged (and redrive can find
        it)."""
        reason = f"not processed within its deadline: {error}"
        self._fail(event, input, error=reason, now=now)
        raise ApplicationError(failure_reason(reason), type="ProcessDeadline", non_retryable=True)

    def _last_error(self, event: Event) -> str:
        """The error the last failed attempt kept on the log row (`_note_attempt`)."""
        try:
            with Session(self._engine) as session:
                row = session.get(EventRecord, event.event_id)
                error = row.error if row is not None else None
        except SQLAlchemyError:
            error = None
        return error or "its attempts timed out"

    def _note_attempt(self, event: Event, input: ProcessEventInput, *, error: str) -> None:
        """Keep the failed attempt's error on the log row, `processing` (best effort): the event
        is visible, and the ops watch notices if it stays there."""
        with contextlib.suppress(SQLAlchemyError):  # the database away: the retry will tell
            self._write_log(event_failures.record_attempt, event, input, error=error)

    def _write_log(
        self, write: LogWrite, event: Event, input: ProcessEventInput, *, error: str
    ) -> None:
        """`write` (an `event_failures` function) for `event` in a transaction of its own."""
        with Session(self._engine) as session:
            write(
                session,
                event=event,
                body=input.body,
                workflow_id=input.workflow_id,
                received_at=datetime.fromisoformat(input.received_at),
                error=error,
            )
            session.commit()

    def _process(self, event: Event, input: ProcessEventInput, *, now: datetime) -> ProcessedEvent:
        with Session(self._engine) as session:
            # Read before `_log` changes it (which then finds the row in the session). A
            # failed event redelivered while Temporal was away comes back through the spool.
            earlier = session.get(EventRecord, event.event_id)
            was_failed = earlier is not None and earlier.status in (
                EventStatus.FAILED,
                EventStatus.QUEUED,
            )
            row = _log(session, event, input)
            if row.status == EventStatus.IGNORED:
                session.commit()
                return ProcessedEvent(outcome=_recorded(row, event), deliveries=[])
            try:
                outcome = apply_and_decide(
                    session,
                    event_id=event.event_id,
                    now=now,
                    eta_slip_hours=self._eta_slip_hours,
                    event=event,
                )
            except EventDataError as exc:
                # Nothing of the projection stays; the log says why, for a redrive.
                session.rollback()
                _log(session, event, input)
                projection.mark_failed(session, event_id=event.event_id, error=str(exc))
                session.commit()
                self._report_failed(event, error=str(exc), now=now)
                raise ApplicationError(
                    str(exc), type="EventDataError", non_retryable=True
                ) from None
            recorded = record_exceptions(
                session,
                event=event,
                outcome=outcome,
                severities=self._exception_rules.severities,
                now=now,
            )
            outcome = dataclasses.replace(outcome, alerts=recorded.alerts(outcome.alerts))
            deliveries = self._notifications.plan(session, outcome.alerts, now=now)
            session.commit()
        if was_failed:
            self._report_recovered(event, now=now)
        if self._watch is not None:
            tell_watch(self._watch, outcome, grace=self._eta_grace, now=now)
        tell_watches(self._exception_watch, recorded.outcomes)
        return ProcessedEvent(outcome=outcome, deliveries=deliveries)

    def _fail(
        self,
        event: Event,
        input: ProcessEventInput,
        *,
        error: str,
        now: datetime,
    ) -> None:
        """Log the event failed with what of it fits, then tell the operators. A log row the
        database refuses even so does not keep the operators from hearing of it."""
        reason = failure_reason(error)
        try:
            self._write_log(event_failures.record_failed, event, input, error=reason)
        except SQLAlchemyError as exc:
            if not db.is_data_error(exc):
                raise
            activity.logger.error(
                "event %s could not be logged as failed: %s",
                event.event_id,
                failure_reason(str(exc)),
            )
        self._report_failed(storable(event), error=reason, now=now)

    def _report_failed(self, event: Event, *, error: str, now: datetime) -> None:
        """Tell the operators, once per event however often it fails (best effort)."""
        if self._notifications.ops is None:
            return
        alert = ops_alerts.event_failed(
            event_id=event.event_id,
            event_type=event.type,
            shipment_id=event.shipment_id,
            error=error,
            failed_at=now,
        )
        self._notifications.ops.incident(alert, now=now)

    def _report_recovered(self, event: Event, *, now: datetime) -> None:
        """A failed event processed after all (a redrive): the operators who heard of the
        failure hear of this too."""
        if self._notifications.ops is None:
            return
        self._notifications.ops.recovered(
            ops_alerts.event_failed_key(event.event_id),
            lambda incident: ops_alerts.event_recovered(
                event_id=event.event_id,
                event_type=event.type,
                shipment_id=event.shipment_id,
                failed_at=incident.opened_at,
                processed_at=now,
            ),
            now=now,
        )

    def all(self) -> list[Callable[..., Any]]:
        return [self.process_event]
