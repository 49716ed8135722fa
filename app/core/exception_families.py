"""Which shipment problem an event opens or clears: the exception families. Pure standard library.

A family groups Flexport's exception, delay and customs-hold types the way an operator thinks of
them (a customs hold, a departure delay...). `FAMILIES` is the one table: each family's types,
its default severity and the milestones that clear it; docs/exceptions.md reproduces it, and a
test keeps the two equal. The types come from Flexport's milestone reference
(`app.core.flexport_types.REFERENCE`); every exception type and customs hold there belongs to
exactly one family.

Seven vessel, flight, weather and strike delays mean different things before and after the
shipment leaves: reported before its departure they delay the departure, after it the arrival.
The event's own facts (the shipment's actual departure) decide. A milestone clears a family only
when the event's facts say the shipment itself reached it: a pre-carriage truck leaving the
factory (`/shipment_leg#departed` with no actual departure on the shipment) clears no vessel
delay.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

from app.core.facts import Facts
from app.core.flexport_types import CUSTOMS_HOLDS, REFERENCE
from app.core.taxonomy import Classification, normalize_type

Severity = Literal["critical", "high", "normal", "low"]
SEVERITIES: Final[tuple[Severity, ...]] = ("critical", "high", "normal", "low")

# The type flexhook's own ETA watch reports when an ETA passes with no arrival.
MISSED_ETA_TYPE: Final = "flexhook#eta_missed"

_SHIPMENT = "/shipment#"
_DEPARTURE_OR_ARRIVAL: Final = frozenset(
    _SHIPMENT + name
    for name in (
        "flight_delay_mechanical",
        "flight_delay_schedule_updated_by_carrier",
        "port_strike_delay",
        "vessel_delay_mechanical",
        "vessel_delay_port_congestion",
        "vessel_delay_schedule_updated_by_carrier",
        "weather_delay",
    )
)


def _types(*names: str) -> frozenset[str]:
    return frozenset(_SHIPMENT + name for name in names)


@dataclass(frozen=True)
class Family:
    """One kind of shipment problem: the types that open it and the milestones that clear it."""

    name: str
    label: str
    severity: Severity
    types: frozenset[str]
    cleared_by: tuple[str, ...]  # milestones (`app.core.taxonomy.MILESTONES`); () = by hand only
    # Types that open this family once the shipment has departed (before: another family).
    types_once_departed: frozenset[str] = frozenset()

    @property
    def clears_itself(self) -> bool:
        return bool(self.cleared_by)


FAMILIES: Final[tuple[Family, ...]] = (
    Family(
        "customs_hold",
        "Customs hold",
        "critical",
        (CUSTOMS_HOLDS - _types("export_country_customs_exam", "export_country_magnetism_exam"))
        | _types("pending_customs_clearance_from_nominated_broker"),
        ("customs_cleared", "delivered"),
    ),
    Family(
        "export_customs_exam",
        "Export customs exam",
        "high",
        _types("export_country_customs_exam", "export_country_magnetism_exam"),
        ("departed", "arrived", "delivered"),
    ),
    Family(
        "departure_delay",
        "Departure delay",
        "high",
        _DEPARTURE_OR_ARRIVAL
        | _types(
            "cargo_bumped_from_booked_flight",
            "cargo_ready_date_changed_exception",
            "cargo_rolled_from_booked_vessel",
            "equipment_unavailable",
            "supplier_late_gate_in",
        ),
        ("departed", "arrived", "delivered"),
    ),
    Family(
        "arrival_delay",
        "Arrival delay",
        "high",
        _types(
            "shipment_rerouted_by_carrier",
            "shipment_rerouted_per_client_request",
            "transshipment_delay",
        ),
        ("arrived", "delivered"),
        types_once_departed=_DEPARTURE_OR_ARRIVAL,
    ),
    Family(
        "missed_eta",
        "Missed ETA",
        "high",
        frozenset({MISSED_ETA_TYPE}),
        ("arrived", "delivered"),
    ),
    Family(
        "inland_delay",
        "Inland delay (port, rail, transload)",
        "normal",
        _types(
            "ocean_port_dwell_delay",
            "rail_car_equipment_breakdown",
            "rail_interchange_delay",
            "rail_transfer_delay",
            "transload_delay",
            "warehouse_devan_delay",
        ),
        ("delivered",),
    ),
    Family(
        "trucking",
        "Trucking problem",
        "normal",
        _types(
            "dry_run_pickup",
            "trucker_rejected",
            "truckers_hours_expired",
            "trucking_delay_chassis_problem",
            "trucking_delay_mechanical_problem",
            "trucking_delay_other",
            "trucking_delay_port_congestion",
            "trucking_delay_strike",
            "trucking_delay_traffic",
        ),
        ("delivered",),
    ),
    Family(
        "delivery_appointment",
        "Delivery appointment",
        "normal",
        _types(
            "dry_run_delivery_attempt_not_completed",
            "missed_appointment",
            "no_appointments_available",
            "no_attempt_made",
            "pending_delivery_appointment_confirmation",
        ),
        ("out_for_delivery", "delivered"),
    ),
    Family(
        "cargo_problem",
        "Cargo problem",
        "high",
        _types(
            "cargo_breakdown_delay",
            "cargo_contamination_delay",
            "cargo_not_available",
            "missing_cargo",
        ),
        (),
    ),
    Family(
        "documents",
        "Documents",
        "normal",
        _types("late_bill_of_lading_release", "supplier_late_documents"),
        ("delivered",),
    ),
    Family(
        "charges",
        "Charges",
        "normal",
        frozenset(
            {"/ocean/shipment_container#free_time_expired", "/invoice#invoice_payment_failed"}
        ),
        (),
    ),
    # Exception and customs-hold types Flexport adds later (`app.core.taxonomy.classify`).
    Family("other", "Other problem", "normal", frozenset(), ()),
)

FAMILY_NAMES: Final[tuple[str, ...]] = tuple(family.name for family in FAMILIES)
_BY_NAME: Final[dict[str, Family]] = {family.name: family for family in FAMILIES}
_BY_TYPE: Final[dict[str, Family]] = {t: f for f in FAMILIES for t in f.types}
_ONCE_DEPARTED: Final[dict[str, Family]] = {t: f for f in FAMILIES for t in f.types_once_departed}


def family(name: str) -> Family:
    """The family called `name` (`KeyError` for a name not in `FAMILIES`)."""
    return _BY_NAME[name]


@dataclass(frozen=True)
class ExceptionEffect:
    """What one event does to a shipment's exceptions."""

    opens: str | None = None  # a family name
    clears: frozenset[str] = frozenset()  # family names


def exception_effect(
    event_type: str, classification: Classification, facts: Facts | None
) -> ExceptionEffect:
    """The family `event_type` opens (with `classification` and `facts` as `app.core.events`
    gives them) and the families it clears. `facts` is None when they could not be read: then
    no Flexport-format milestone clears anything (nothing says the shipment itself moved)."""
    compact = not event_type.startswith("/") and event_type != MISSED_ETA_TYPE
    reached = _milestones_reached(classification, facts, compact=compact)
    clears = frozenset(f.name for f in FAMILIES if reached.intersection(f.cleared_by))
    return ExceptionEffect(opens=_opened_family(event_type, classification, facts), clears=clears)


def _opened_family(
    event_type: str, classification: Classification, facts: Facts | None
) -> str | None:
    normalized = normalize_type(event_type)
    departed = facts is not None and facts.shipment is not None and facts.shipment.actual_departure
    if departed and normalized in _ONCE_DEPARTED:
        return _ONCE_DEPARTED[normalized].name
    known = _BY_TYPE.get(normalized)
    if known is not None:
        return known.name
    if normalized in REFERENCE:
        return None  # documented, and not a problem
    if classification.urgent:
        return "customs_hold"  # a customs hold or exam Flexport added later
    if classification.category == "exception":
        return "other"
    return None


def _milestones_reached(
    classification: Classification, facts: Facts | None, *, compact: bool
) -> frozenset[str]:
    """The milestones the shipment itself reached, by this event's word and its facts."""
    shipment = facts.shipment if facts is not None else None
    reached: set[str] = set()
    milestone = classification.milestone
    if compact:
        # The compact format speaks of the whole shipment; an ETA update may carry its departure.
        if milestone is not None:
            reached.add(milestone)
        if shipment is not None and shipment.actual_departure is not None:
            reached.add("departed")
        return frozenset(reached)
    if shipment is None or milestone is None:
        return frozenset()
    if milestone == "departed" and shipment.actual_departure is not None:
        reached.add("departed")
    elif milestone == "arrived" and shipment.actual_arrival is not None:
        reached.add("arrived")
    elif milestone == "customs_cleared":
        reached.add("customs_cleared")
    elif milestone in ("out_for_delivery", "delivered") and (
        shipment.actual_arrival is not None or shipment.delivered_at is not None
    ):
        # Delivery legs after the main carriage, or the shipment delivered in full.
        reached.add(milestone)
    return frozenset(reached)


def parse_severity_overrides(value: str) -> dict[str, Severity]:
    """`customs_hold=high,charges=low` as {family: severity}; `ValueError` naming the entry
    with an unknown family or severity, or a family given twice. Empty: no overrides."""
    overrides: dict[str, Severity] = {}
    for entry in (e.strip() for e in value.split(",") if e.strip()):
        name, sep, severity = (part.strip() for part in entry.partition("="))
        if not sep or name not in _BY_NAME:
            raise ValueError(
                f"{entry!r}: expected <family>=<severity>, family one of {FAMILY_NAMES}"
            )
        if severity not in SEVERITIES:
            raise ValueError(f"{entry!r}: severity must be one of {SEVERITIES}")
        if name in overrides:
            raise ValueError(f"family {name!r} appears twice")
        overrides[name] = _severity(severity)
    return overrides


def _severity(value: str) -> Severity:
    for severity in SEVERITIES:
        if value == severity:
            return severity
    raise ValueError(value)


def severity_of(name: str, overrides: Mapping[str, Severity]) -> Severity:
    """A family's severity: the override if there is one, else its default."""
    return overrides.get(name, _BY_NAME[name].severity)
