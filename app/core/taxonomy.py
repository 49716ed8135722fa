"""Which kind of thing each Flexport event type is about. Pure standard library.

Every documented type string maps to a category and, for the moments a shipment passes through,
to a normalized milestone. Types Flexport adds later fall back on the resource they carry, or on
`other` (stored, acknowledged, ignored).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from app.core.flexport_types import CUSTOMS_HOLDS, REFERENCE

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

# Every documented type, from Flexport's milestone reference.
TYPE_CATEGORIES: Final[dict[str, str]] = {t: row[0] for t, row in REFERENCE.items()}
MILESTONE_TYPES: Final[dict[str, str]] = {
    t: row[1] for t, row in REFERENCE.items() if row[1] is not None
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
    headline: str = ""  # what happened, for people: "Vessel delayed: port congestion"
    documented: bool = False  # in Flexport's milestone reference (or the compact format)
    urgent: bool = False  # a customs hold or exam

    @property
    def known(self) -> bool:
        return self.category != "other"


def normalize_type(event_type: str) -> str:
    """`/shipments#x` -> `/shipment#x`; other spellings unchanged."""
    resource, sep, part = event_type.partition("#")
    return _RESOURCE_ALIASES.get(resource, resource) + sep + part


# What a type Flexport adds later is taken for, by its name alone. Explicit, and only for
# shipment events: a new `..._delay` is an exception; a new customs hold or exam is a hold.
_EXCEPTION_SUFFIXES: Final = ("_delay", "_exception")
_HOLD_WORDS: Final = ("hold", "exam", "required", "suspended", "review")


def words(name: str) -> str:
    """`weather_delay` -> `Weather delay`."""
    return name.replace("_", " ").strip().capitalize()


def classify(event_type: str, *, resource_object: str | None = None) -> Classification:
    """Classify a Flexport type string (`/resource#event`)."""
    event_type = normalize_type(event_type)
    resource, _, part = event_type.partition("#")
    name = _NAMES.get(event_type) or part or event_type
    row = REFERENCE.get(event_type)
    if row is not None:
        category, milestone, headline = row
        return Classification(
            category=category,
            milestone=milestone,
            name=milestone or name,
            headline=headline,
            documented=True,
            urgent=event_type in CUSTOMS_HOLDS,
        )
    fallback = _RESOURCE_CATEGORIES.get(resource)
    if fallback is None and resource_object is not None:
        fallback = _RESOURCE_CATEGORIES.get(_RESOURCE_ALIASES.get(resource_object, resource_object))
    urgent = False
    if fallback is None and resource == "/shipment":
        if part.endswith(_EXCEPTION_SUFFIXES):
            fallback = "exception"
        elif part.startswith("customs_") and any(word in part for word in _HOLD_WORDS):
            fallback, urgent = "customs", True
    return Classification(
        category=fallback or "other",
        milestone=None,
        name=name,
        headline=words(name),
        urgent=urgent,
    )


def classify_compact(event_type: str, *, milestone: str | None = None) -> Classification:
    """Classify a compact type string (`family.event`); `milestone` is `data.milestone`."""
    family, _, part = event_type.partition(".")
    if event_type == "shipment.milestone" and milestone in MILESTONES:
        category = "customs" if milestone == "customs_cleared" else "milestone"
        return Classification(
            category=category,
            milestone=milestone,
            name=milestone,
            headline=words(milestone),
            documented=True,
        )
    if event_type == "shipment.eta_updated":
        return Classification(
            category="transit",
            milestone=None,
            name="eta_updated",
            headline="Estimated arrival updated",
            documented=True,
        )
    family_category = COMPACT_FAMILIES.get(family)
    name = part or event_type
    return Classification(
        category=family_category or "other",
        milestone=None,
        name=name,
        headline=words(name),
        documented=family_category is not None,
    )
