"""The inputs of flexhook's workflows: one dataclass per workflow, crossing Temporal as JSON."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EventInput:
    event_id: str
    body: str
    received_at: str  # ISO-8601; the workflow sandbox cannot decode datetime fields
