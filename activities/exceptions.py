"""The exception inbox's side of the activities: the exceptions an applied event opens and
clears (in its own transaction), telling each exception's watch after the commit, and the
watch's own steps: read its clock, perform what is due, plan the notices to persons.

Event processing reaches the watches through an `ExceptionWatchFeed` it is given (Temporal
signal-with-start, `workflows.exception_feed`), so that this layer names no workflow.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Protocol

from sqlalchemy.engine import Engine
from sqlmodel import Session
from temporalio import activity

from activities.delivery import NotificationActivities
from activities.types import (
    ExceptionClock,
    ExceptionDueInput,
    ExceptionWatchStep,
)
from app.core.alert import NOTICE_KIND, Alert
from app.core.errors import EventDataError
from app.core.events import Event
from app.core.exception_clock import (
    DEFAULT_ACK_SLA,
    DEFAULT_RESOLVE_SLA,
    go_duration,
    parse_severity_durations,
)
from app.core.exception_families import ExceptionEffect, Severity, exception_effect, family
from app.core.exception_state import FLEXHOOK_EVENT_PREFIX
from app.core.outcome import EventOutcome
from app.core.statuses import EventStatus
from app.store import exception_watch, exceptions
from app.store.exception_models import ShipmentExceptionRow
from app.store.exceptions import Outcome
from app.store.models import Shipment

# The alerts an event decides about a problem: they carry the exception's id.
PROBLEM_KINDS: Final = frozenset({"exception", "customs"})


def _default_ack() -> Mapping[Severity, timedelta]:
    return parse_severity_durations(DEFAULT_ACK_SLA)


def _default_resolve() -> Mapping[Severity, timedelta]:
    return parse_severity_durations(DEFAULT_RESOLVE_SLA)


@dataclass(frozen=True)
class ExceptionRules:
    """The settings of the inbox, parsed: severity overrides per family
    (FLEXHOOK_EXCEPTION_SEVERITY) and the SLAs per severity (FLEXHOOK_EXCEPTION_ACK_SLA,
    FLEXHOOK_EXCEPTION_RESOLVE_SLA; a severity left out has no clock)."""

    severities: Mapping[str, Severity] = field(default_factory=dict)
    ack_sla: Mapping[Severity, timedelta] = field(default_factory=_default_ack)
    resolve_sla: Mapping[Severity, timedelta] = field(default_factory=_default_resolve)


class ExceptionWatchFeed(Protocol):
    """Tells an exception's watch that its row changed (signal-with-start `changed`). May be
    repeated: the watch only reads the row again."""

    def changed(self, exception_id: int) -> None: ...


def event_effect(event: Event) -> ExceptionEffect:
    """What the parsed `event` opens and clears; facts that cannot be read clear nothing."""
    try:
        facts = event.facts()
    except EventDataError:
        facts = None
    return exception_effect(event.type, event.classification, facts)


@dataclass(frozen=True)
class Recorded:
    """What an event did to its shipment's exceptions: each write's outcome, the id of the
    exception it reported (opened, or added an occurrence to), if any, and whether that report
    was news (it opened the exception or reopened it) rather than one more occurrence of a
    problem still open."""

    outcomes: tuple[Outcome, ...] = ()
    reported: int | None = None
    news: bool = True

    def alerts(self, alerts: Iterable[Alert]) -> list[Alert]:
        """The event's alerts as they go out: those about the problem carry the exception's id,
        and a repeat report of an open problem alerts nobody again (it is an occurrence in the
        inbox, where the problem is already seen)."""
        if self.reported is None:
            return list(alerts)
        return [
            dataclasses.replace(a, exception_id=self.reported) if a.kind in PROBLEM_KINDS else a
            for a in alerts
            if self.news or a.kind not in PROBLEM_KINDS
        ]


def record_exceptions(
    session: Session,
    *,
    event: Event,
    outcome: EventOutcome,
    severities: Mapping[str, Severity],
    now: datetime,
) -> Recorded:
    """The exceptions the applied `event` opens, reports and clears, in `session` (the
    event's own transaction). Idempotent per event id. An ignored event, or one of no
    shipment, touches none."""
    shipment_id = outcome.shipment_id
    if outcome.status != EventStatus.PROCESSED or shipment_id is None:
        return Recorded()
    effect = event_effect(event)
    if effect.opens is None and not effect.clears:
        return Recorded()
    outcomes = exceptions.record_event(
        session,
        shipment_id=shipment_id,
        event_id=event.event_id,
        occurred_at=event.occurred_at() or now,
        effect=effect,
        severities=severities,
        now=now,
    )
    if effect.opens is None:
        return Recorded(outcomes)
    report = outcomes[-1]  # `record_event` reports the opened family last
    # Processed again (a retried attempt, a redrive): what the first time wrote says it.
    what = report.what or exceptions.entries_by(
        session, exception_id=report.exception_id, who=f"flexport:{event.event_id}"
    )
    return Recorded(outcomes, report.exception_id, news="occurrence" not in what)


def tell_watches(feed: ExceptionWatchFeed | None, outcomes: Iterable[Outcome]) -> None:
    """After the commit: each exception the event touched hears `changed` (a redelivery too,
    so that a watch whose first signal was lost starts all the same)."""
    if feed is None:
        return
    for exception_id in sorted({o.exception_id for o in outcomes}):
        feed.changed(exception_id)


def missed_eta_event_id(shipment_id: str, estimated_arrival: str) -> str:
    """The id flexhook's own missed-ETA report goes by: one per shipment and ETA."""
    return f"{FLEXHOOK_EVENT_PREFIX}eta_missed:{shipment_id}:{estimated_arrival}"


def _about(shipment: Shipment | None) -> dict[str, Any]:
    """The shipment's name and place, as the alerts of its events carry them."""
    if shipment is None:
        return {}
    return {
        "shipment_name": shipment.name,
        "place_name": shipment.location_name,
        "place_country": shipment.location_country,
        "place_timezone": shipment.location_timezone,
    }


def _escalation(overdue: exception_watch.Overdue, shipment: Shipment | None) -> Alert:
    label = family(overdue.family).label
    sla = go_duration(overdue.sla)
    if overdue.kind == "escalation":
        headline = f"{label} not acknowledged within {sla}"
    else:
        headline = f"{label} acknowledged, not resolved within {sla}"
    episode = overdue.opened_at.astimezone(UTC).isoformat()
    return Alert(
        kind="escalation",
        event_id=overdue.reported_by,
        event_type=overdue.family,
        shipment_id=overdue.shipment_id,
        headline=headline,
        occurred_at=(overdue.opened_at + overdue.sla).astimezone(UTC).isoformat(),
        exception_id=overdue.exception_id,
        fact_key=f"exception-{overdue.exception_id}:{episode}:{overdue.kind}",
        **_about(shipment),
    )


NOTICE_HEADLINES: Final = {
    "resolved": "{label} you acknowledged was resolved by {by}",
    "assigned": "{label} assigned to you",
}


def _notice(
    row: ShipmentExceptionRow, notice: exception_watch.PendingNotice, shipment: Shipment | None
) -> Alert:
    assert row.id is not None
    headline = NOTICE_HEADLINES.get(notice.kind, "{label}: " + notice.kind).format(
        label=family(row.family).label, by=row.resolved_by or "Flexport"
    )
    return Alert(
        kind=NOTICE_KIND,
        event_id=f"exception-{row.id}",
        event_type=row.family,
        shipment_id=row.shipment_id,
        headline=headline,
        occurred_at=notice.when,
        exception_id=row.id,
        person=notice.to,
        fact_key=f"exception-{row.id}:{notice.version}:{notice.kind}",
        **_about(shipment),
    )


class ExceptionActivities:
    """Sync activities of `ExceptionWatch` over an injected engine, planner and rules."""

    def __init__(
        self, engine: Engine, notifications: NotificationActivities, rules: ExceptionRules
    ) -> None:
        self._engine = engine
        self._notifications = notifications
        self._rules = rules

    @activity.defn(name="read_exception_clock", no_thread_cancel_exception=True)
    def read_exception_clock(self, input: ExceptionDueInput) -> ExceptionClock:
        """The exception's state for its watch: resolved, next due time and what, notices
        waiting; an id with no row reads as resolved (nothing to watch)."""
        with Session(self._engine) as session:
            try:
                clock = exception_watch.read_clock(
                    session,
                    exception_id=input.exception_id,
                    ack_sla=self._rules.ack_sla,
                    resolve_sla=self._rules.resolve_sla,
                )
            except exceptions.UnknownException:
                return ExceptionClock(resolved=True)
        return ExceptionClock(
            resolved=clock.resolved,
            due_at=clock.due_at.isoformat() if clock.due_at else None,
            due=clock.due,
            notices=clock.notices,
        )

    @activity.defn(name="perform_exception_due", no_thread_cancel_exception=True)
    def perform_exception_due(self, input: ExceptionDueInput) -> ExceptionWatchStep:
        """What is due at `input.at`: wake a snooze, escalate or remind (each once per episode,
        on the row and its timeline in the transaction that plans the alert); then the notices
        waiting. Returns the deliveries not yet sent."""
        at = datetime.fromisoformat(input.at)
        with Session(self._engine) as session:
            overdue = exception_watch.mark_overdue(
                session,
                exception_id=input.exception_id,
                at=at,
                ack_sla=self._rules.ack_sla,
                resolve_sla=self._rules.resolve_sla,
            )
            alerts = [_escalation(o, session.get(Shipment, o.shipment_id)) for o in overdue]
            deliveries = self._notifications.plan(session, alerts, now=datetime.now(UTC))
            session.commit()
        return ExceptionWatchStep(deliveries=deliveries)

    @activity.defn(name="plan_exception_notices", no_thread_cancel_exception=True)
    def plan_exception_notices(self, input: ExceptionDueInput) -> ExceptionWatchStep:
        """Plan the notices in the exception's outbox (each to its person) and mark them
        planned, in one transaction; the ledger sends each once, and a retry after a lost
        result plans them again. Returns the deliveries not yet sent."""
        with Session(self._engine) as session:
            taken = exception_watch.plan_notices(session, exception_id=input.exception_id)
            if not taken:
                return ExceptionWatchStep(deliveries=[])
            row = session.get(ShipmentExceptionRow, input.exception_id)
            assert row is not None  # plan_notices found it
            shipment = session.get(Shipment, row.shipment_id)
            alerts = [_notice(row, notice, shipment) for notice in taken]
            deliveries = self._notifications.plan(session, alerts, now=datetime.now(UTC))
            session.commit()
        return ExceptionWatchStep(deliveries=deliveries)

    def all(self) -> list[Callable[..., Any]]:
        return [self.read_exception_clock, self.perform_exception_due, self.plan_exception_notices]
