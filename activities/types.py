"""The inputs and outputs of flexhook's activities: plain dataclasses that cross Temporal as JSON.

Renaming a field here changes what running workflows exchange with their activities: add fields
with defaults, never rename or remove one.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.core.alert import Alert
from app.core.outcome import EventOutcome


@dataclass(frozen=True)
class RecordEventInput:
    event_id: str
    body: str
    workflow_id: str
    received_at: str  # ISO-8601


@dataclass(frozen=True)
class ApplyEventInput:
    event_id: str


@dataclass(frozen=True)
class MarkFailedInput:
    event_id: str
    error: str


@dataclass(frozen=True)
class PlanInput:
    alerts: list[Alert]


@dataclass(frozen=True)
class Delivery:
    alert: Alert
    destination_id: str


@dataclass(frozen=True)
class DeliveryFailure:
    delivery: Delivery
    error: str


@dataclass(frozen=True)
class ProcessEventInput:
    """Record, apply and plan one event in one local activity (the workflow's current path)."""

    event_id: str
    body: str
    workflow_id: str
    received_at: str  # ISO-8601
    # ISO-8601: an attempt that fails after this fails the event instead of being retried
    # (`FLEXHOOK_PROCESS_DEADLINE` after the run started). None (runs started before): never.
    fail_after: str | None = None


@dataclass(frozen=True)
class ProcessedEvent:
    """What processing did, and the alerts still to send, one per destination."""

    outcome: EventOutcome
    deliveries: list[Delivery]


@dataclass(frozen=True)
class EtaMissedInput:
    """An ETA watch's timer fired with no arrival: the ETA it watched, and when it fired."""

    shipment_id: str
    estimated_arrival: str  # ISO-8601, UTC
    stamp: str  # the ETA observation's version stamp
    event_id: str  # the event that set the ETA
    observed_at: str  # ISO-8601: the workflow time the timer fired


@dataclass(frozen=True)
class ReconcilePageInput:
    since: str  # ISO-8601, inclusive bounds of occurred_at
    until: str
    next_url: str | None = None  # None: the window's first page


@dataclass(frozen=True)
class ReconcilePageResult:
    next_url: str | None  # None: that was the last page
    listed: int
    known: int
    missing: int
    started: int
    errors: list[str]


@dataclass(frozen=True)
class ReconcileReport:
    """A finished run, as `record_reconcile_run` stores it and the workflow returns it."""

    trigger: str  # "schedule" or "cli"
    since: str  # ISO-8601
    until: str
    started_at: str
    finished_at: str
    listed: int
    known: int
    missing: int
    started: int
    errors: list[str]
    workflow_id: str | None = None


@dataclass(frozen=True)
class ExceptionDueInput:
    """An exception's watch asks about its exception at `at` (ISO-8601: the workflow's time)."""

    exception_id: int
    at: str


@dataclass(frozen=True)
class ExceptionClock:
    """What an exception's watch needs of its row: resolved or not, when its next clock fires
    (ISO-8601; None: none runs) and what then (`escalate`, `remind`, `wake`), notices waiting."""

    resolved: bool
    due_at: str | None = None
    due: str | None = None
    notices: int = 0


@dataclass(frozen=True)
class ExceptionWatchStep:
    """The alerts a step of the watch planned and has still to send."""

    deliveries: list[Delivery]
