"""What processing one event did: the event workflow's result. Plain data."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from app.core.alert import Alert
from app.core.facts import Location


@dataclass(frozen=True)
class EventOutcome:
    """What processing one event did; returned to the workflow."""

    event_id: str
    status: str
    category: str
    shipment_id: str | None = None
    milestone: str | None = None
    late: bool = False
    alerts: list[Alert] = field(default_factory=list)
    # The shipment's ETA after the event (ISO-8601, UTC), the version stamp of the observation
    # that set it, and whether this event set it (first set, or moved): what the ETA watch hears.
    estimated_arrival: str | None = None
    eta_stamp: str | None = None
    eta_changed: bool = False


@dataclass(frozen=True)
class ShipmentChange:
    """What applying an event did to its shipment, as alert decisions need to know it."""

    shipment_id: str
    shipment_name: str | None
    place: Location  # where the shipment is now
    late: bool  # the event is older than the shipment's status
    eta_before: datetime | None
    eta_after: datetime | None
    leg_id: str | None = None
    # The same leg's same milestone recorded before under other event ids: their times.
    earlier_reports: tuple[datetime, ...] = ()
