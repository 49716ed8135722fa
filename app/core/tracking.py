"""What the public tracking page (`/track/<token>`) may show of a shipment, and nothing else.

Whoever holds a share link sees this view model, rendered; nobody signs in. It is an allowlist:
`build_view` copies, field by field, what a stakeholder may read (`PUBLIC_FIELDS`): status in
words, the current place, the ETA and how it moved, the milestone timeline, the containers and
the open problems, each time in its place's own zone. Its inputs (`TrackingFacts`) already hold
only the columns these need: parties, names, commercial values, invoices, documents, payloads,
event ids, internal notes, Temporal or dashboard links never reach it.

Open problems are the shipment's exceptions that are not resolved (`app.core.exception_state`):
each as its family's label and since when it has been open, in the shipment's zone; never its
notes, who acknowledged it, who it is assigned to, its Flexport events or its state beyond
"open". Charges (a failed invoice payment, free time expired) are commercial and stay off the
page, as invoices do.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Final

from app.core.display import CONTAINER_SIZES, in_zone, span, time_text
from app.core.eta_history import ChartMark, EtaChart, Label, Tick
from app.core.exception_families import FAMILY_NAMES, family
from app.core.taxonomy import MILESTONES

# -- inputs: the columns the view is built from ---------------------------------------------------


@dataclass(frozen=True)
class ShipmentFacts:
    id: str
    transportation_mode: str | None = None
    status: str | None = None  # the last milestone reached (`MILESTONES`), None before any
    status_at: datetime | None = None
    location_name: str | None = None
    location_unlocode: str | None = None
    location_country: str | None = None
    location_timezone: str | None = None
    estimated_arrival: datetime | None = None
    actual_arrival: datetime | None = None
    delivered_at: datetime | None = None


@dataclass(frozen=True)
class MilestoneFacts:
    milestone: str
    occurred_at: datetime | None = None
    location_name: str | None = None
    location_unlocode: str | None = None
    location_country: str | None = None
    location_timezone: str | None = None


@dataclass(frozen=True)
class ContainerFacts:
    number: str
    container_type: str | None = None
    container_size: str | None = None
    last_event: str | None = None
    last_event_at: datetime | None = None
    location_name: str | None = None
    location_unlocode: str | None = None
    location_country: str | None = None


@dataclass(frozen=True)
class OpenException:
    """One of the shipment's exceptions that is not resolved: its family and when it opened."""

    family: str  # `app.core.exception_families.FAMILY_NAMES`
    opened_at: datetime


@dataclass(frozen=True)
class TrackingFacts:
    shipment: ShipmentFacts
    milestones: tuple[MilestoneFacts, ...] = ()  # chronological
    containers: tuple[ContainerFacts, ...] = ()
    eta_estimates: tuple[datetime, ...] = ()  # the ETA's history (`eta_history`), in order
    open_exceptions: tuple[OpenException, ...] = ()  # oldest first
    eta_chart: EtaChart | None = None  # that history drawn (times and geometry, no event ids)


# -- the view model: exactly what the page shows --------------------------------------------------


@dataclass(frozen=True)
class LocalTime:
    text: str  # `15 Mar 2026 05:42 PDT`: in the place's zone when known, else UTC
    iso: str  # for `<time datetime=...>`


@dataclass(frozen=True)
class Step:
    milestone: str  # in words
    reached: bool
    time: LocalTime | None
    place: str


@dataclass(frozen=True)
class ContainerLine:
    number: str
    kind: str  # `40 ft HC dry`
    last_event: str  # in words
    last_event_time: LocalTime | None
    place: str


@dataclass(frozen=True)
class EtaLine:
    current: LocalTime | None
    original: LocalTime | None  # the first estimate reported
    moved: str  # `2 d 4 h later than first estimated`; empty when it has not moved
    arrived: LocalTime | None


@dataclass(frozen=True)
class Problem:
    text: str  # the family's label: `Customs hold`
    since: LocalTime | None


@dataclass(frozen=True)
class TrackingView:
    reference: str  # Flexport's shipment id, which the stakeholder's paperwork carries
    mode: str
    status: str
    status_time: LocalTime | None
    place: str
    eta: EtaLine
    timeline: tuple[Step, ...]
    containers: tuple[ContainerLine, ...]
    problems: tuple[Problem, ...]
    eta_chart: EtaChart | None


# The allowlist, checked by the tests against the dataclasses above: adding a field is a
# decision to publish it, made here and in docs/sharing.md.
PUBLIC_FIELDS: Final[dict[str, frozenset[str]]] = {
    "TrackingView": frozenset(
        {
            "reference",
            "mode",
            "status",
            "status_time",
            "place",
            "eta",
            "timeline",
            "containers",
            "problems",
            "eta_chart",
        }
    ),
    "EtaLine": frozenset({"current", "original", "moved", "arrived"}),
    "Step": frozenset({"milestone", "reached", "time", "place"}),
    "ContainerLine": frozenset({"number", "kind", "last_event", "last_event_time", "place"}),
    "LocalTime": frozenset({"text", "iso"}),
    "Problem": frozenset({"text", "since"}),
    # The ETA chart (`app.core.eta_history`), shared with the dashboard: geometry, preformatted
    # times and words; its points' event ids stay out of it.
    "EtaChart": frozenset(
        {
            "width",
            "height",
            "left",
            "top",
            "right",
            "bottom",
            "original_path",
            "revised_path",
            "marks",
            "x_ticks",
            "y_ticks",
            "slip_days",
            "slip",
            "title",
            "description",
        }
    ),
    "ChartMark": frozenset(
        {"kind", "x", "y", "estimate", "reported", "estimate_iso", "reported_iso", "label"}
    ),
    "Tick": frozenset({"at", "label"}),
    "Label": frozenset({"x", "y", "anchor", "text"}),
}
VIEW_TYPES: Final = (
    TrackingView,
    EtaLine,
    Step,
    ContainerLine,
    LocalTime,
    Problem,
    EtaChart,
    ChartMark,
    Tick,
    Label,
)

# Families whose exceptions the public page never shows: commercial matters.
PRIVATE_FAMILIES: Final = frozenset({"charges"})

STATUS_WORDS: Final = {
    None: "Booked",
    "cargo_ready": "Cargo ready",
    "departed": "Departed",
    "arrived": "Arrived",
    "customs_cleared": "Cleared customs",
    "out_for_delivery": "Out for delivery",
    "delivered": "Delivered",
}
MODE_WORDS: Final = {"ocean": "Ocean", "air": "Air", "truck": "Truck", "rail": "Rail"}
NOT_KNOWN: Final = "—"


def view_field_names() -> dict[str, frozenset[str]]:
    """The fields the view model's types have, as `PUBLIC_FIELDS` spells them."""
    return {t.__name__: frozenset(f.name for f in fields(t)) for t in VIEW_TYPES}


# -- formatting -----------------------------------------------------------------------------------


def local_time(value: datetime | None, timezone: str | None) -> LocalTime | None:
    """`26 Feb 2026 21:20 CST` in the place's zone when known, else in UTC."""
    if value is None:
        return None
    return LocalTime(text=time_text(value, timezone), iso=in_zone(value, timezone).isoformat())


def words(value: str | None) -> str:
    """`loaded_on_board` -> `Loaded on board`."""
    if not value:
        return NOT_KNOWN
    text = value.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def place(name: str | None, unlocode: str | None, country: str | None) -> str:
    """A place as the public may read it: by name when it has a UN/LOCODE (a port, an airport,
    a town), else by its country alone: the name of any other place (a warehouse, a factory)
    is a party's, such as `Acme Outfitters DC - Ontario`."""
    if name and unlocode:
        return name
    return country or NOT_KNOWN


def container_kind(size: str | None, kind: str | None) -> str:
    shown = CONTAINER_SIZES.get(size.replace("forty", "fourty"), words(size)) if size else ""
    both = " ".join(part for part in (shown, kind.replace("_", " ") if kind else "") if part)
    return both or NOT_KNOWN


# -- building the view ----------------------------------------------------------------------------


def _zones(facts: TrackingFacts) -> dict[str, str]:
    """UN/LOCODE -> IANA zone, from every row that names both (containers carry no zone)."""
    rows: tuple[ShipmentFacts | MilestoneFacts, ...] = (facts.shipment, *facts.milestones)
    return {
        r.location_unlocode: r.location_timezone
        for r in rows
        if r.location_unlocode and r.location_timezone
    }


def eta_line(facts: TrackingFacts) -> EtaLine:
    """The ETA now, the first one reported and how far it moved, in the arrival place's zone
    once a milestone there names it (else UTC)."""
    shipment = facts.shipment
    arrived = [m for m in facts.milestones if m.milestone in ("arrived", "delivered")]
    zone = next((m.location_timezone for m in reversed(arrived) if m.location_timezone), None)
    current = shipment.estimated_arrival or (
        facts.eta_estimates[-1] if facts.eta_estimates else None
    )
    original = facts.eta_estimates[0] if facts.eta_estimates else None
    moved = ""
    if current is not None and original is not None and current != original:
        direction = "later" if current > original else "earlier"
        moved = f"{span(current - original)} {direction} than first estimated"
    return EtaLine(
        current=local_time(current, zone),
        original=local_time(original, zone),
        moved=moved,
        arrived=local_time(shipment.actual_arrival, zone),
    )


def timeline(facts: TrackingFacts) -> tuple[Step, ...]:
    """The milestones in the order a shipment passes them: each one reached, with its time and
    place (one step per time it was reached), then those still ahead."""
    status = facts.shipment.status
    passed = MILESTONES.index(status) if status in MILESTONES else -1
    zones = _zones(facts)
    steps: list[Step] = []
    for index, milestone in enumerate(MILESTONES):
        rows = _one_per_moment([m for m in facts.milestones if m.milestone == milestone])
        if not rows:
            steps.append(Step(STATUS_WORDS[milestone], index <= passed, None, NOT_KNOWN))
        for row in rows:
            zone = row.location_timezone or zones.get(row.location_unlocode or "")
            steps.append(
                Step(
                    milestone=STATUS_WORDS[milestone],
                    reached=True,
                    time=local_time(row.occurred_at, zone),
                    place=place(row.location_name, row.location_unlocode, row.location_country),
                )
            )
    return tuple(steps)


def _one_per_moment(rows: list[MilestoneFacts]) -> list[MilestoneFacts]:
    """One row per moment a milestone was reached (two events often report one departure):
    the one that says most of its place (a UN/LOCODE, then a zone)."""
    best: dict[datetime | None, MilestoneFacts] = {}
    for row in rows:
        kept = best.get(row.occurred_at)
        if kept is None or _detail(row) > _detail(kept):
            best[row.occurred_at] = row
    return list(best.values())


def _detail(row: MilestoneFacts) -> tuple[bool, bool]:
    return (row.location_unlocode is not None, row.location_timezone is not None)


def containers(facts: TrackingFacts) -> tuple[ContainerLine, ...]:
    zones = _zones(facts)
    return tuple(
        ContainerLine(
            number=c.number,
            kind=container_kind(c.container_size, c.container_type),
            last_event=words(c.last_event),
            last_event_time=local_time(c.last_event_at, zones.get(c.location_unlocode or "")),
            place=place(c.location_name, c.location_unlocode, c.location_country),
        )
        for c in facts.containers
    )


def open_problems(facts: TrackingFacts) -> tuple[Problem, ...]:
    """The shipment's exceptions not resolved, in plain words: each family's label and since
    when, oldest first; charges left out (see the module's docstring)."""
    zone = facts.shipment.location_timezone
    return tuple(
        Problem(text=family(e.family).label, since=local_time(e.opened_at, zone))
        for e in sorted(facts.open_exceptions, key=lambda e: e.opened_at)
        if e.family in FAMILY_NAMES and e.family not in PRIVATE_FAMILIES
    )


def build_view(facts: TrackingFacts) -> TrackingView:
    """The public view of one shipment."""
    shipment = facts.shipment
    return TrackingView(
        reference=shipment.id,
        mode=MODE_WORDS.get(
            shipment.transportation_mode or "", words(shipment.transportation_mode)
        ),
        status=STATUS_WORDS.get(shipment.status, words(shipment.status)),
        status_time=local_time(shipment.status_at, shipment.location_timezone),
        place=place(shipment.location_name, shipment.location_unlocode, shipment.location_country),
        eta=eta_line(facts),
        timeline=timeline(facts),
        containers=containers(facts),
        problems=open_problems(facts),
        eta_chart=facts.eta_chart,
    )
