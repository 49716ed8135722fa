"""What an alert says, independent of the channel it goes out on. Pure standard library."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

# Alerts of this kind are the team's own: an exception not acknowledged (or, acknowledged, not
# resolved) within its SLA. Configured URLs hear them by this tag alone, internal recipients
# only, never a shipment's subscribers.
ESCALATION: Final = "escalation"
# The kinds of alert; Apprise tags of the same names route them.
KINDS: Final = (
    "departed",
    "arrived",
    "delivered",
    "eta",
    "customs",
    "exception",
    "eta_missed",
    ESCALATION,
)
# A notice to one person (at their token's contact) about an exception: not routed by tags,
# so no destination subscribes to it and it is not among `KINDS`.
NOTICE_KIND: Final = "exception_notice"


@dataclass(frozen=True)
class Alert:
    """One alert about one shipment, decided when its event was applied.

    Times are ISO-8601 strings in UTC so the value crosses Temporal unchanged.
    """

    kind: str
    event_id: str
    event_type: str
    shipment_id: str
    headline: str  # what happened, in words: "Departed", "Customs hold: agriculture hold"
    occurred_at: str
    shipment_name: str | None = None
    place_name: str | None = None
    place_country: str | None = None
    place_timezone: str | None = None  # IANA name, for the local time at the place
    estimated_arrival: str | None = None  # the shipment's current ETA
    previous_estimated_arrival: str | None = None  # eta alerts: the ETA before the move
    eta_shift_hours: float | None = None  # eta alerts: new minus old, in hours
    late_hours: float | None = None  # eta_missed alerts: how long ago the ETA passed, in hours
    # Milestone alerts decided since alerts are about facts: the fact's key (shipment, kind, leg,
    # time), and for a correction the time it corrects. Older alerts have neither.
    fact_key: str | None = None
    corrects: str | None = None
    # The exception (`app.store.exception_models`) the alert is about: exception, customs and
    # missed-ETA alerts, escalations and notices; None for the others and for older alerts.
    exception_id: int | None = None
    # A notice's one reader: a token's name (its contact is looked up when sending); None:
    # routed by kind and shipment as every other alert.
    person: str | None = None

    @property
    def dedup_key(self) -> str:
        """Alerts with the same key go to a destination at most once."""
        if self.kind == "delivered":
            return f"shipment-{self.shipment_id}:delivered"
        if self.fact_key is not None:
            return self.fact_key
        return f"{self.event_id}:{self.kind}"


@dataclass(frozen=True)
class Links:
    """Where a reader can look further; empty strings when flexhook does not know its URLs."""

    shipment_url: str = ""  # the shipment on flexhook's dashboard (signed-in readers)
    workflow_url: str = ""
    flexport_url: str = ""  # the shipment in Flexport's own app
    tracking_url: str = ""  # the shipment's tracking page: opens without signing in
    # A follower's one-click unsubscribe link (`app.core.follow`); "" for every other destination.
    unsubscribe_url: str = ""
    exception_url: str = ""  # the exception in the dashboard's inbox (signed-in readers)
