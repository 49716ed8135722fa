"""The errors of getting events into Temporal (the web layer maps them to status codes)."""

from __future__ import annotations


class IngestError(Exception):
    """Base error of the ingest package."""


class TemporalUnavailable(IngestError):
    """Temporal did not take the start request (unreachable, or no answer in time)."""


class EventRejected(IngestError):
    """Temporal answered and refused this event for good (it will never start it)."""


class EventTooLarge(EventRejected):
    """The event would exceed Temporal's payload limit once encoded as the workflow input."""


class Unavailable(IngestError):
    """Neither Temporal nor the database took the event: Flexport must deliver it again."""


class EventNotFound(IngestError, LookupError):
    """A redrive named an event the log does not have."""


class PayloadRemoved(IngestError):
    """A redrive named an event whose payload payload retention removed: nothing can run."""
