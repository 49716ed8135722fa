"""The input and output of `PayloadRetentionWorkflow` and its activity: plain dataclasses that
cross Temporal as JSON. Add fields with defaults, never rename or remove one."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PayloadRetentionInput:
    """Remove the payloads of events received more than `retention_seconds` before the run."""

    retention_seconds: float
    trigger: str = "schedule"


@dataclass(frozen=True)
class RemovePayloadsInput:
    received_before: str  # ISO-8601, UTC


@dataclass(frozen=True)
class RemovedPayloads:
    received_before: str  # ISO-8601, UTC
    removed: int
