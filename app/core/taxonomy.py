"""Which kind of thing each Flexport event type is about. Pure standard library.

Every documented type string maps to a category and, for the moments a shipment passes through,
to a normalized milestone. Types Flexport adds later fall back on the resource they carry, or on
`other` (stored, acknowledged, ignored).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

CATEGORIES: Final = (
    "milestone",
    "transit",
    "booking",
    "purchase_order",
    "invoice",
    "document",
    "container",
    "customs",
    "exception",
    "other",
)

# In the order a shipment normally passes through them.
MILESTONES: Final = (
    "cargo_ready",
    "departed",
    "arrived",
    "customs_cleared",
    "out_for_delivery",
    "delivered",
)

MILESTONE_TYPES: Final[dict[str, str]] = {
    "/shipment_leg#departed": "departed",
    "/shipment_leg#arrived": "arrived",
    "/shipment_leg#out_for_delivery": "out_for_delivery",
    "/shipment_leg#delivered": "delivered",
    "/shipment_leg#delivery_completed": "delivered",
    "/shipment#delivered_in_full": "delivered",
    "/shipment#customs_entry_release_status_released": "customs_cleared",
}

_TRANSIT = (
    "/shipment#schedule_confirmed",
    "/shipment#updated_route",
    "/shipment_leg#updated_estimated_time_of_departure",
    "/shipment_leg#updated_estimated_time_of_arrival",
    "/shipment_leg#updated_estimated_out_for_delivery",
    "/shipment_container_leg#updated_estimated_available_for_pickup",
    "/shipment_leg#delivery_appointment_requested",
    "/shipment_leg#delivery_appointment_scheduled",
)
_BOOKING = (
    "/shipment#created",
    "/shipment#booking_confirmed",
    "/shipment#cargo_ready_date_changed",
    "/shipment#updated_cargo_ready_date",
)
_DOCUMENT = (
    "/shipment#documents_sent_to_nominated_broker",
    "/shipment#commercial_invoices_digitized",
)
_CONTAINER = (
    "/ocean/shipment_container_leg#loaded_on_board",
    "/ocean/shipment_container_leg#unloaded_off_board",
    "/ocean/shipment_container_leg#available_for_pickup",
    "/ocean/shipment_leg#loaded_on_truck",
    "/ocean/shipment_container#free_time_to_expire",
    "/ocean/shipment_container#free_time_expired",
    "/ocean/shipment_container#empty_returned",
)
_CUSTOMS = (
    "/shipment#customs_entry_release_status_released",
    "/shipment#customs_agriculture_hold",
    "/shipment#customs_entry_release_status_document_required",
    "/shipment#customs_entry_release_status_entry_docs_required",
    "/shipment#customs_entry_release_status_pending_intensive_exam",
    "/shipment#customs_entry_release_status_release_suspended",
    "/shipment#customs_entry_release_status_under_cbp_review",
    "/shipment#customs_undergoing_x_ray_exam",
    "/shipment#export_country_customs_exam",
    "/shipment#filing_submitted_for_in_bond_transportation",
    "/shipment#ftz_admission",
    "/shipment#returned_to_shipper",
)
_EXCEPTION = (
    "/shipment#weather_delay",
    "/shipment#port_strike_delay",
    "/shipment#vessel_delay_port_congestion",
    "/shipment#cargo_rolled_from_booked_vessel",
    "/shipment#missed_appointment",
    "/shipment#trucking_delay_traffic",
    "/shipment#equipment_unavailable",
    "/shipment#transshipment_delay",
)

TYPE_CATEGORIES: Final[dict[str, str]] = {
    **{t: "milestone" for t in MILESTONE_TYPES},
    **{t: "transit" for t in _TRANSIT},
    **{t: "booking" for t in _BOOKING},
    **{t: "document" for t in _DOCUMENT},
    **{t: "container" for t in _CONTAINER},
    **{t: "customs" for t in _CUSTOMS},
    **{t: "exception" for t in _EXCEPTION},
}

# Flexport's own examples sometimes write the plural resource name.
_RESOURCE_ALIASES: Final = {"/shipments": "/shipment"}

# Types whose resource part alone says what they are about, whatever the event part.
_RESOURCE_CATEGORIES: Final = {
    "/invoice": "invoice",
    "/document": "document",
    "/purchase_order": "purchase_order",
    "/ocean/shipment_container": "container",
    "/ocean/shipment_container_leg": "container",
}

COMPACT_FAMILIES: Final[dict[str, str]] = {
    "booking": "booking",
    "purchase_order": "purchase_order",
    "invoice": "invoice",
    "document": "document",
    "container": "container",
}

_NAMES: Final = {
    "/shipment_leg#updated_estimated_time_of_arrival": "eta_updated",
    "/shipment_leg#updated_estimated_time_of_departure": "etd_updated",
    "shipment.eta_updated": "eta_updated",
}


@dataclass(frozen=True)
class Classification:
    """What an event type means to flexhook."""

    category: str
    milestone: str | None
    name: str

    @property
    def known(self) -> bool:
        return self.category != "other"


def normalize_type(event_type: str) -> str:
    """`/shipments#x` -> `/shipment#x`; other spellings unchanged."""
    resource, sep, part = event_type.partition("#")
    return _RESOURCE_ALIASES.get(resource, resource) + sep + part


def classify(event_type: str, *, resource_object: str | None = None) -> Classification:
    """Classify a Flexport type string (`/resource#event`)."""
    event_type = normalize_type(event_type)
    resource, _, part = event_type.partition("#")
    milestone = MILESTONE_TYPES.get(event_type)
    category = TYPE_CATEGORIES.get(event_type)
    if milestone == "customs_cleared":
        category = "customs"
    if category is None:
        category = _RESOURCE_CATEGORIES.get(resource)
    if category is None and resource_object is not None:
        category = _RESOURCE_CATEGORIES.get(_RESOURCE_ALIASES.get(resource_object, resource_object))
    if category is None and resource == "/shipment" and part.endswith("_delay"):
        category = "exception"
    name = milestone or _NAMES.get(event_type) or part or event_type
    return Classification(category=category or "other", milestone=milestone, name=name)


def classify_compact(event_type: str, *, milestone: str | None = None) -> Classification:
    """Classify a compact type string (`family.event`); `milestone` is `data.milestone`."""
    family, _, part = event_type.partition(".")
    if event_type == "shipment.milestone" and milestone in MILESTONES:
        category = "customs" if milestone == "customs_cleared" else "milestone"
        return Classification(category=category, milestone=milestone, name=milestone)
    if event_type == "shipment.eta_updated":
        return Classification(category="transit", milestone=None, name="eta_updated")
    category = COMPACT_FAMILIES.get(family, "other")
    return Classification(category=category, milestone=None, name=part or event_type)
