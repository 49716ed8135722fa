"""One filter over the event log, shared by the read API, the dashboard and redrive."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlmodel import col
from sqlmodel.sql.expression import Select, SelectOfScalar

from app.store.models import EventRecord

S = TypeVar("S", Select[Any], SelectOfScalar[Any])


@dataclass(frozen=True)
class EventFilter:
    """Every field that is set must match; an empty filter matches every event.

    `since` is inclusive and `until` exclusive, both on `received_at`."""

    event_id: str | None = None
    status: str | None = None
    event_type: str | None = None
    shipment_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def apply(self, statement: S) -> S:
        """`statement` narrowed to the events this filter matches."""
        if self.event_id:
            statement = statement.where(col(EventRecord.event_id) == self.event_id)
        if self.status:
            statement = statement.where(col(EventRecord.status) == self.status)
        if self.event_type:
            statement = statement.where(col(EventRecord.type) == self.event_type)
        if self.shipment_id:
            statement = statement.where(col(EventRecord.shipment_id) == self.shipment_id)
        if self.since:
            statement = statement.where(col(EventRecord.received_at) >= self.since)
        if self.until:
            statement = statement.where(col(EventRecord.received_at) < self.until)
        return statement


ANY_EVENT = EventFilter()
