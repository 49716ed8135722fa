"""The inputs and outputs of `RecipientWorkflow` and its activities: plain dataclasses that cross
Temporal as JSON. Add fields with defaults, never rename or remove one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from activities.types import Delivery

RECIPIENT_WORKFLOW: Final = "RecipientWorkflow"


def recipient_workflow_id(destination_id: str) -> str:
    """One recipient workflow per destination (URL): `recipient-url-0123456789abcdef`."""
    return f"recipient-{destination_id}"


@dataclass(frozen=True)
class RecipientInput:
    destination_id: str


@dataclass(frozen=True)
class WakeInput:
    destination_id: str


@dataclass(frozen=True)
class RecipientWake:
    """What is due now, and when to look again."""

    releases: list[Delivery]  # held alerts whose wait is over, oldest first: send them in order
    digest_date: str | None  # send the digest of this local date (YYYY-MM-DD) now
    next_wake: str | None  # ISO-8601 UTC; None: nothing waits for this destination any more


@dataclass(frozen=True)
class DigestInput:
    destination_id: str
    local_date: str  # YYYY-MM-DD in the recipient's time zone


@dataclass(frozen=True)
class DigestFailure:
    digest: DigestInput
    error: str
