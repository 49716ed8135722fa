"""The attributes flexhook puts on its trace spans: which event, of which type, about which
shipment. Ids only: never a payload, a secret, a token or a destination's URL."""

from __future__ import annotations

from typing import Final

EVENT_ID: Final = "flexhook.event_id"
EVENT_TYPE: Final = "flexhook.event_type"
SHIPMENT_ID: Final = "flexhook.shipment_id"
ALERT_KIND: Final = "flexhook.alert_kind"
DESTINATION_ID: Final = "flexhook.destination_id"  # "url-" + a hash of the URL, never the URL
DESTINATION_SCHEME: Final = "flexhook.destination_scheme"


def event_attributes(*, event_id: str, event_type: str, shipment_id: str | None) -> dict[str, str]:
    """The event's ids as span attributes (an event about no shipment has no shipment id)."""
    attributes = {EVENT_ID: event_id, EVENT_TYPE: event_type}
    if shipment_id:
        attributes[SHIPMENT_ID] = shipment_id
    return attributes
