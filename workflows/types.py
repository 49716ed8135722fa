"""The inputs of flexhook's workflows: one dataclass per workflow, crossing Temporal as JSON."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EventInput:
    event_id: str
    body: str
    received_at: str  # ISO-8601; the workflow sandbox cannot decode datetime fields
    # How long `process_event` may keep retrying before the event is failed
    # (`FLEXHOOK_PROCESS_DEADLINE`); None: the default in `workflows.policies`.
    process_deadline_seconds: float | None = None


@dataclass(frozen=True)
class EtaUpdate:
    """The `eta` signal of `EtaWatchWorkflow`: the shipment's ETA as an applied event set it."""

    estimated_arrival: str  # ISO-8601, UTC
    stamp: str  # the ETA observation's version stamp: sortable, so an older one is ignored
    event_id: str  # the event that set it
    grace_seconds: float  # how long after the ETA an arrival may still come before it alerts


@dataclass(frozen=True)
class ArrivalNotice:
    """The `arrived` signal of `EtaWatchWorkflow`: an arrival or delivery ends the watch."""

    event_id: str
    milestone: str  # arrived | delivered


@dataclass(frozen=True)
class EtaWatchInput:
    """What an ETA watch starts with, and what a run hands the next (continue-as-new)."""

    shipment_id: str
    eta: EtaUpdate | None = None


@dataclass(frozen=True)
class ExceptionWatchInput:
    """What an exception's watch (workflow type `ExceptionWatch`) starts with, and what a run
    hands the next (continue-as-new): the exception's id; the row holds the rest."""

    exception_id: int


@dataclass(frozen=True)
class ReconcileInput:
    """The window: `since`..`until` (ISO-8601) when given, else the `lookback_seconds` before the
    run starts (each bound defaults on its own: `until` to the start of the run)."""

    lookback_seconds: float = 72 * 3600.0
    since: str | None = None
    until: str | None = None
    trigger: str = "schedule"
