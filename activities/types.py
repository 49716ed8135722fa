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


@dataclass(frozen=True)
class ProcessedEvent:
    """What processing did, and the alerts still to send, one per destination."""

    outcome: EventOutcome
    deliveries: list[Delivery]
