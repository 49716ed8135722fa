"""Parse a Flexport delivery into an `Event` and the facts it asserts. Pure standard library.

Two envelopes are accepted: Flexport's own Event object (`{"_object": "/event", "type":
"/shipment_leg#departed", "data": {...}}`) and the compact one (`{"type": "shipment.milestone",
"data": {...}}`). Parsing is tolerant of nulls and extra fields; it never raises for a value it
merely does not know, only for a body that is not an event at all (`MalformedEvent`) or a value
that cannot be read (`EventDataError`, raised when facts are extracted).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any, Literal

from app.core.taxonomy import Classification, classify, classify_compact

Json = dict[str, Any]


class EventError(Exception):
    """Base error of the event core."""


class MalformedEvent(EventError):
    """The body is not an event: not UTF-8 JSON, not an object, or without a `type`."""


class EventDataError(EventError):
    """The event is well formed but a value in it cannot be read (a bad timestamp, say)."""


@dataclass(frozen=True)
class Location:
    name: str | None = None
    unlocode: str | None = None
    country: str | None = None
    timezone: str | None = None


@dataclass(frozen=True)
class ShipmentFacts:
    shipment_id: str
    name: str | None = None
    transportation_mode: str | None = None
    estimated_departure: datetime | None = None
    actual_departure: datetime | None = None
    estimated_arrival: datetime | None = None
    actual_arrival: datetime | None = None
    delivered_at: datetime | None = None
    # What the sender says the ETA was before this event (compact `previous_estimated_arrival`).
    previous_estimated_arrival: datetime | None = None


@dataclass(frozen=True)
class BookingFacts:
    booking_id: str
    shipment_id: str | None = None
    status: str | None = None
    cargo_ready_date: date | None = None


@dataclass(frozen=True)
class PurchaseOrderFacts:
    purchase_order_id: str
    name: str | None = None
    status: str | None = None
    buyer: str | None = None
    seller: str | None = None
    cargo_ready_date: date | None = None
    must_arrive_date: date | None = None


@dataclass(frozen=True)
class InvoiceFacts:
    invoice_id: str
    shipment_id: str | None = None
    name: str | None = None
    status: str | None = None
    amount: str | None = None
    currency: str | None = None
    due_date: date | None = None


@dataclass(frozen=True)
class DocumentFacts:
    document_id: str
    shipment_id: str | None = None
    document_type: str | None = None
    file_name: str | None = None
    link: str | None = None


@dataclass(frozen=True)
class ContainerFacts:
    container_number: str
    shipment_id: str | None = None
    flexport_id: str | None = None
    container_type: str | None = None
    container_size: str | None = None
    seal_number: str | None = None
    estimated_arrival: datetime | None = None
    actual_arrival: datetime | None = None
    actual_delivery: datetime | None = None
    last_free_day: date | None = None
    empty_returned: date | None = None
    # Set only on the container(s) the event itself is about.
    last_event: str | None = None


@dataclass(frozen=True)
class Facts:
    """Everything an event asserts about records, each fact stamped by the event's time."""

    shipment: ShipmentFacts | None = None
    location: Location | None = None
    leg_id: str | None = None
    booking: BookingFacts | None = None
    purchase_order: PurchaseOrderFacts | None = None
    invoice: InvoiceFacts | None = None
    document: DocumentFacts | None = None
    containers: tuple[ContainerFacts, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Event:
    """One delivery, parsed: the envelope, what kind of event it is, and its raw JSON."""

    event_id: str
    type: str
    format: Literal["flexport", "compact"]
    classification: Classification
    shipment_id: str | None
    occurred_at_raw: str | None
    payload: Json

    @property
    def category(self) -> str:
        return self.classification.category

    @property
    def milestone(self) -> str | None:
        return self.classification.milestone

    @property
    def known(self) -> bool:
        return self.classification.known

    def occurred_at(self) -> datetime | None:
        """When it happened, in UTC (`EventDataError` when the value is not a timestamp)."""
        return parse_datetime(self.occurred_at_raw, "occurred_at")

    def facts(self) -> Facts:
        """The facts this event asserts (`EventDataError` when a value cannot be read)."""
        if self.format == "compact":
            return _compact_facts(self.type, _obj(self.payload.get("data")))
        return _flexport_facts(self.classification, _obj(self.payload.get("data")))


def body_digest_id(body: bytes) -> str:
    """The id of an event that carries none: derived from its exact bytes."""
    return "sha256-" + hashlib.sha256(body).hexdigest()


def parse_event(body: bytes) -> Event:
    """Parse a delivery body into an `Event`, or raise `MalformedEvent` saying why."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedEvent(f"body is not UTF-8 ({exc.reason} at byte {exc.start})") from None
    try:
        payload = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except RecursionError:
        raise MalformedEvent("body is nested too deeply") from None
    except ValueError as exc:
        raise MalformedEvent(f"body is not JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise MalformedEvent(f"body is a JSON {type(payload).__name__}, not an object")
    if "\\u" in text and _has_lone_surrogate(payload):
        raise MalformedEvent("body holds an unpaired UTF-16 surrogate escape")
    if "\\u0000" in text and _holds_nul(payload):
        # Valid JSON, but PostgreSQL's text columns cannot store it.
        raise MalformedEvent("body holds a NUL character (\\u0000)")
    event_type = payload.get("type")
    if not isinstance(event_type, str) or not event_type.strip():
        raise MalformedEvent("body has no `type` string")
    raw_id = payload.get("id")
    if isinstance(raw_id, bool) or not isinstance(raw_id, (int, str)) or raw_id == "":
        event_id = body_digest_id(body)
    else:
        event_id = str(raw_id)
    if len(event_id) > 200:
        raise MalformedEvent("`id` is longer than 200 characters")
    data = _obj(payload.get("data"))
    if event_type.startswith("/"):
        resource = _obj(data.get("resource"))
        classification = classify(event_type, resource_object=_str(resource.get("_object")))
        return Event(
            event_id=event_id,
            type=event_type,
            format="flexport",
            classification=classification,
            shipment_id=_flexport_shipment_id(data),
            occurred_at_raw=_str(payload.get("occurred_at")) or _str(payload.get("created_at")),
            payload=payload,
        )
    classification = classify_compact(event_type, milestone=_str(data.get("milestone")))
    return Event(
        event_id=event_id,
        type=event_type,
        format="compact",
        classification=classification,
        shipment_id=_id(data.get("shipment_id")),
        occurred_at_raw=_str(data.get("occurred_at")) or _str(payload.get("occurred_at")),
        payload=payload,
    )


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:20]} is out of range")
    return value


def _holds_nul(payload: Json) -> bool:
    """Whether any key or string in the document holds U+0000 (iterative: no recursion limit)."""
    pending: list[object] = [payload]
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            if "\x00" in value:
                return True
        elif isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return False


def _has_lone_surrogate(payload: Json) -> bool:
    """JSON may escape half a UTF-16 pair (`\\ud800`); such text cannot be stored or re-encoded."""
    try:
        json.dumps(payload, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def parse_datetime(value: object, what: str) -> datetime | None:
    """An ISO-8601 timestamp (or plain date) as an aware UTC datetime; naive values are UTC."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise EventDataError(f"{what} is not a timestamp: {value!r:.60}")
    try:
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise EventDataError(f"{what} is not a timestamp: {value!r:.60}") from None


def parse_date(value: object, what: str) -> date | None:
    """A plain ISO date; a timestamp is cut to its date."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise EventDataError(f"{what} is not a date: {value!r:.60}")
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        raise EventDataError(f"{what} is not a date: {value!r:.60}") from None


# -- helpers for tolerant reading -------------------------------------------------------------


def _obj(value: object) -> Json:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value != "" else None


def _id(value: object) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, str)) and value != "":
        return str(value)
    return None


def _amount(value: object) -> str | None:
    """Money as written; a JSON number keeps its shortest decimal form rather than vanishing."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        return value or None
    if isinstance(value, (int, float)):
        return str(value)
    return None


def _ref_id(value: object) -> str | None:
    """The id of an `/api/refs/object` (or of an embedded object)."""
    return _id(_obj(value).get("id"))


def _name(value: object) -> str | None:
    """A company given as an object with a name, or as a plain string."""
    if isinstance(value, str):
        return value or None
    return _str(_obj(value).get("name"))


# -- the Flexport envelope --------------------------------------------------------------------


def _flexport_shipment_id(data: Json) -> str | None:
    resource = _obj(data.get("resource"))
    if resource.get("_object") in ("/shipment", "/shipments"):
        return _id(resource.get("id"))
    for candidate in (
        _ref_id(data.get("shipment")),
        _ref_id(resource.get("shipment")),
        _ref_id(resource.get("shipments")),
    ):
        if candidate:
            return candidate
    for container in _list(data.get("containers")):
        candidate = _ref_id(_obj(container).get("shipment"))
        if candidate:
            return candidate
    return None


def _node_location(node: object) -> Location | None:
    place = _obj(_obj(node).get("place"))
    if not place:
        return None
    address = _obj(place.get("address"))
    return Location(
        name=_str(place.get("name")) or _str(address.get("city")),
        unlocode=_str(address.get("unlocode")),
        country=_str(address.get("country_code")),
        timezone=_str(address.get("timezone")),
    )


def _flexport_location(classification: Classification, data: Json) -> Location | None:
    location = _node_location(data.get("location"))
    if location is not None:
        return location
    # A leg event without `location`: the leg's own end tells where it happened.
    resource = _obj(data.get("resource"))
    if classification.milestone == "departed":
        return _node_location(resource.get("origin"))
    if classification.milestone in ("arrived", "delivered"):
        return _node_location(resource.get("destination"))
    return None


def _shipment_facts(shipment: Json) -> ShipmentFacts | None:
    shipment_id = _id(shipment.get("id"))
    if shipment_id is None:
        return None
    return ShipmentFacts(
        shipment_id=shipment_id,
        name=_str(shipment.get("name")),
        transportation_mode=_str(shipment.get("transportation_mode")),
        estimated_departure=parse_datetime(
            shipment.get("estimated_departure_date"), "estimated_departure_date"
        ),
        actual_departure=parse_datetime(
            shipment.get("actual_departure_date"), "actual_departure_date"
        ),
        estimated_arrival=parse_datetime(
            shipment.get("estimated_arrival_date"), "estimated_arrival_date"
        ),
        actual_arrival=parse_datetime(shipment.get("actual_arrival_date"), "actual_arrival_date"),
        delivered_at=parse_datetime(
            shipment.get("actual_delivered_in_full_date"), "actual_delivered_in_full_date"
        ),
    )


def _flexport_container(container: Json, shipment_id: str | None) -> ContainerFacts | None:
    number = _str(container.get("container_number"))
    if number is None:
        return None
    return ContainerFacts(
        container_number=number,
        shipment_id=_ref_id(container.get("shipment")) or shipment_id,
        flexport_id=_id(container.get("id")),
        container_type=_str(container.get("container_type")),
        container_size=_str(container.get("container_size")),
        seal_number=_str(container.get("seal_number")),
        estimated_arrival=parse_datetime(
            container.get("estimated_arrival_date"), "estimated_arrival_date"
        ),
        actual_arrival=parse_datetime(container.get("actual_arrival_date"), "actual_arrival_date"),
        actual_delivery=parse_datetime(
            container.get("actual_delivery_date"), "actual_delivery_date"
        ),
        last_free_day=parse_date(container.get("last_free_day_date"), "last_free_day_date"),
        empty_returned=parse_date(container.get("empty_returned_date"), "empty_returned_date"),
    )


def _flexport_facts(classification: Classification, data: Json) -> Facts:
    resource = _obj(data.get("resource"))
    resource_object = resource.get("_object")
    shipment_json = _obj(data.get("shipment"))
    if not shipment_json and resource_object in ("/shipment", "/shipments"):
        shipment_json = resource
    shipment = _shipment_facts(shipment_json)
    shipment_id = shipment.shipment_id if shipment else _flexport_shipment_id(data)

    # The container(s) the event is about: the resource itself, or the one its container leg names.
    subject_ids: set[str] = set()
    if classification.category == "container":
        if resource_object == "/ocean/shipment_container":
            subject_ids.add(_id(resource.get("id")) or "")
        subject_id = _ref_id(resource.get("shipment_container"))
        if subject_id:
            subject_ids.add(subject_id)
    containers: list[ContainerFacts] = []
    seen: set[str] = set()
    candidates = [_obj(c) for c in _list(data.get("containers"))]
    if resource_object == "/ocean/shipment_container":
        candidates.insert(0, resource)
    for raw in candidates:
        facts = _flexport_container(raw, shipment_id)
        if facts is None or facts.container_number in seen:
            continue
        seen.add(facts.container_number)
        is_subject = facts.flexport_id in subject_ids or (
            classification.category == "container" and not subject_ids
        )
        if is_subject:
            facts = replace(facts, last_event=classification.name)
        containers.append(facts)

    booking = None
    booking_id = _ref_id(shipment_json.get("booking"))
    if booking_id:
        confirmed = classification.name == "booking_confirmed"
        booking = BookingFacts(
            booking_id=booking_id,
            shipment_id=shipment_id,
            status="confirmed" if confirmed else None,
            cargo_ready_date=parse_date(shipment_json.get("cargo_ready_date"), "cargo_ready_date"),
        )

    invoice = None
    if resource_object == "/invoice" and _id(resource.get("id")):
        total = _obj(resource.get("total"))
        invoice = InvoiceFacts(
            invoice_id=str(resource["id"]),
            shipment_id=_ref_id(resource.get("shipments")) or shipment_id,
            name=_str(resource.get("name")),
            status=_str(resource.get("status")),
            amount=_amount(total.get("amount")),
            currency=_str(total.get("currency_code")),
            due_date=parse_date(resource.get("due_date"), "due_date"),
        )

    document = None
    if resource_object == "/document" and _id(resource.get("id")):
        document = DocumentFacts(
            document_id=str(resource["id"]),
            shipment_id=_ref_id(resource.get("shipment")) or shipment_id,
            document_type=_str(resource.get("document_type")),
            file_name=_str(resource.get("file_name")),
            link=_str(resource.get("file_link")),
        )

    purchase_order = None
    if resource_object == "/purchase_order" and _id(resource.get("id")):
        purchase_order = PurchaseOrderFacts(
            purchase_order_id=str(resource["id"]),
            name=_str(resource.get("name")),
            status=_str(resource.get("status")),
            buyer=_name(resource.get("buyer")),
            seller=_name(resource.get("seller")),
            cargo_ready_date=parse_date(resource.get("cargo_ready_date"), "cargo_ready_date"),
            must_arrive_date=parse_date(resource.get("must_arrive_date"), "must_arrive_date"),
        )

    leg_id = None
    if resource_object == "/shipment_leg":
        leg_id = _id(resource.get("id"))
    elif resource_object == "/ocean/shipment_container_leg":
        leg_id = _ref_id(resource.get("leg"))

    if shipment is None and shipment_id is not None:
        shipment = ShipmentFacts(shipment_id=shipment_id)
    return Facts(
        shipment=shipment,
        location=_flexport_location(classification, data),
        leg_id=leg_id,
        booking=booking,
        purchase_order=purchase_order,
        invoice=invoice,
        document=document,
        containers=tuple(containers),
    )


# -- the compact envelope ---------------------------------------------------------------------


def _compact_location(data: Json) -> Location | None:
    location = _obj(data.get("location"))
    if not location:
        return None
    return Location(
        name=_str(location.get("name")),
        unlocode=_str(location.get("unlocode")),
        country=_str(location.get("country")),
        timezone=_str(location.get("timezone")),
    )


def _compact_facts(event_type: str, data: Json) -> Facts:
    family, _, part = event_type.partition(".")
    shipment_id = _id(data.get("shipment_id"))
    location = _compact_location(data)
    shipment = ShipmentFacts(shipment_id=shipment_id) if shipment_id else None

    if event_type == "shipment.milestone" and shipment_id:
        delivered = data.get("milestone") == "delivered"
        occurred = parse_datetime(data.get("occurred_at"), "occurred_at")
        shipment = ShipmentFacts(
            shipment_id=shipment_id, delivered_at=occurred if delivered else None
        )
    elif event_type == "shipment.eta_updated" and shipment_id:
        shipment = ShipmentFacts(
            shipment_id=shipment_id,
            estimated_departure=parse_datetime(
                data.get("estimated_departure"), "estimated_departure"
            ),
            estimated_arrival=parse_datetime(data.get("estimated_arrival"), "estimated_arrival"),
            actual_departure=parse_datetime(data.get("actual_departure"), "actual_departure"),
            previous_estimated_arrival=parse_datetime(
                data.get("previous_estimated_arrival"), "previous_estimated_arrival"
            ),
        )

    booking = purchase_order = invoice = document = None
    containers: tuple[ContainerFacts, ...] = ()
    if family == "booking" and _id(data.get("booking_id")):
        booking = BookingFacts(
            booking_id=str(data["booking_id"]),
            shipment_id=shipment_id,
            status=_str(data.get("status")) or (part or None),
            cargo_ready_date=parse_date(data.get("cargo_ready_date"), "cargo_ready_date"),
        )
    elif family == "purchase_order" and _id(data.get("purchase_order_id")):
        purchase_order = PurchaseOrderFacts(
            purchase_order_id=str(data["purchase_order_id"]),
            name=_str(data.get("name")),
            status=_str(data.get("status")) or ("archived" if part == "archived" else None),
            buyer=_name(data.get("buyer")),
            seller=_name(data.get("seller")),
            cargo_ready_date=parse_date(data.get("cargo_ready_date"), "cargo_ready_date"),
            must_arrive_date=parse_date(data.get("must_arrive_date"), "must_arrive_date"),
        )
    elif family == "invoice" and _id(data.get("invoice_id")):
        invoice = InvoiceFacts(
            invoice_id=str(data["invoice_id"]),
            shipment_id=shipment_id,
            name=_str(data.get("name")),
            status=_str(data.get("status")),
            amount=_amount(data.get("amount")),
            currency=_str(data.get("currency")),
            due_date=parse_date(data.get("due_date"), "due_date"),
        )
    elif family == "document" and _id(data.get("document_id")):
        document = DocumentFacts(
            document_id=str(data["document_id"]),
            shipment_id=shipment_id,
            document_type=_str(data.get("document_type")),
            file_name=_str(data.get("file_name")),
            link=_str(data.get("file_link")),
        )
    elif family == "container" and _str(data.get("container_number")):
        containers = (
            ContainerFacts(
                container_number=str(data["container_number"]),
                shipment_id=shipment_id,
                last_event=part or None,
            ),
        )
    return Facts(
        shipment=shipment,
        location=location,
        booking=booking,
        purchase_order=purchase_order,
        invoice=invoice,
        document=document,
        containers=containers,
    )
