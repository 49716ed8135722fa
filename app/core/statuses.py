"""Every status flexhook stores, named once. Stored as their string values (no schema change)."""

from __future__ import annotations

from enum import StrEnum


class EventStatus(StrEnum):
    """Where one event is in its processing."""

    QUEUED = "queued"  # in the spool: accepted while Temporal was away
    PROCESSING = "processing"  # recorded, not yet applied
    PROCESSED = "processed"
    IGNORED = "ignored"  # an unknown type: stored, acknowledged, applied to nothing
    FAILED = "failed"  # a value could not be read; a redelivery or a redrive runs it again


class NotificationStatus(StrEnum):
    """Where one alert to one destination is."""

    PENDING = "pending"
    HELD = "held"  # waits for the recipient's digest or the end of their quiet hours
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"


class StartStatus(StrEnum):
    """What the webhook (or a redrive) did with a verified event."""

    ACCEPTED = "accepted"  # a workflow was started
    DUPLICATE = "duplicate"  # its workflow is running or has succeeded
    QUEUED = "queued"  # kept in the spool until Temporal answers
