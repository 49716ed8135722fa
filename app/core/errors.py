"""The errors of the event core."""

from __future__ import annotations


class EventError(Exception):
    """Base error of the event core."""


class MalformedEvent(EventError):
    """The body is not an event: not UTF-8 JSON, not an object, or without a `type`."""


class EventDataError(EventError):
    """The event is well formed but a value in it cannot be read (a bad timestamp, say)."""
