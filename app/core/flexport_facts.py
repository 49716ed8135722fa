"""The facts of an event in Flexport's own Event format (`/resource#event`)."""

from __future__ import annotations

from dataclasses import replace

from app.core.facts import (
    BookingFacts,
    ContainerFacts,
    DocumentFacts,
    Facts,
    InvoiceFacts,
    Location,
    PurchaseOrderFacts,
    ShipmentFacts,
)
from app.core.taxonomy import Classification
from app.core.values import (
    Json,
    amount,
    as_list,
    company_name,
    ident,
    obj,
    parse_date,
    parse_datetime,
    ref_id,
    text,
)

# The resource a type names, where the type's spelling differs from the resource's `_object`.
_RESOURCE_OF_TYPE = {
    "/shipments": "/shipment",
    "/shipment_container_leg": "/ocean/shipment_container_leg",
    "/ocean/shipment_leg": "/shipment_leg",
}


def resource_object(event_type: str, resource: Json) -> str | None:
    """What `data.resource` is: its `_object` (`/shipments` read as `/shipment`), or, for a
    hand-built resource without one, the resource the type names (`/invoice#...` -> `/invoice`)."""
    declared = text(resource.get("_object"))
    if declared is not None:
        return "/shipment" if declared == "/shipments" else declared
    if not resource:
        return None
    named = event_type.partition("#")[0]
    return _RESOURCE_OF_TYPE.get(named, named) or None


def flexport_shipment_id(data: Json, *, kind: str | None) -> str | None:
    """The shipment an event is about; `kind` is the resource's `resource_object`."""
    resource = obj(data.get("resource"))
    if kind == "/shipment":
        return ident(resource.get("id"))
    for candidate in (
        ref_id(data.get("shipment")),
        ref_id(resource.get("shipment")),
        ref_id(resource.get("shipments")),
    ):
        if candidate:
            return candidate
    for container in as_list(data.get("containers")):
        candidate = ref_id(obj(container).get("shipment"))
        if candidate:
            return candidate
    return None


def _node_location(node: object) -> Location | None:
    place = obj(obj(node).get("place"))
    if not place:
        # Hand-built and older payloads name the node without a `place`.
        name = text(obj(node).get("name"))
        return Location(name=name) if name else None
    address = obj(place.get("address"))
    return Location(
        name=text(place.get("name")) or text(address.get("city")),
        unlocode=text(address.get("unlocode")),
        country=text(address.get("country_code")),
        timezone=text(address.get("timezone")),
    )


def _flexport_location(classification: Classification, data: Json) -> Location | None:
    location = _node_location(data.get("location"))
    if location is not None:
        return location
    # A leg event without `location`: the leg's own end tells where it happened.
    resource = obj(data.get("resource"))
    if classification.milestone == "departed":
        return _node_location(resource.get("origin"))
    if classification.milestone in ("arrived", "delivered"):
        return _node_location(resource.get("destination"))
    return None


def _shipment_facts(shipment: Json) -> ShipmentFacts | None:
    shipment_id = ident(shipment.get("id"))
    if shipment_id is None:
        return None
    return ShipmentFacts(
        shipment_id=shipment_id,
        name=text(shipment.get("name")),
        transportation_mode=text(shipment.get("transportation_mode")),
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
    number = text(container.get("container_number"))
    if number is None:
        return None
    return ContainerFacts(
        container_number=number,
        shipment_id=ref_id(container.get("shipment")) or shipment_id,
        flexport_id=ident(container.get("id")),
        container_type=text(container.get("container_type")),
        container_size=text(container.get("container_size")),
        seal_number=text(container.get("seal_number")),
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


def flexport_facts(classification: Classification, data: Json, *, event_type: str) -> Facts:
    resource = obj(data.get("resource"))
    kind = resource_object(event_type, resource)
    shipment_json = obj(data.get("shipment"))
    if not shipment_json and kind == "/shipment":
        shipment_json = resource
    shipment = _shipment_facts(shipment_json)
    shipment_id = shipment.shipment_id if shipment else flexport_shipment_id(data, kind=kind)

    leg_id = None
    if kind == "/shipment_leg":
        leg_id = ident(resource.get("id"))
    elif kind == "/ocean/shipment_container_leg":
        leg_id = ref_id(resource.get("leg"))

    if shipment is None and shipment_id is not None:
        shipment = ShipmentFacts(shipment_id=shipment_id)
    return Facts(
        shipment=shipment,
        location=_flexport_location(classification, data),
        leg_id=leg_id,
        booking=_booking(classification, shipment_json, shipment_id),
        purchase_order=_purchase_order(kind, resource),
        invoice=_invoice(kind, resource, shipment_id),
        document=_document(kind, resource, shipment_id),
        containers=_containers(classification, kind, resource, data, shipment_id),
    )


def _containers(
    classification: Classification,
    kind: str | None,
    resource: Json,
    data: Json,
    shipment_id: str | None,
) -> tuple[ContainerFacts, ...]:
    """The event's containers; the one(s) it is about carry its name as their last event: the
    resource itself, or the container its container leg names."""
    subject_ids: set[str] = set()
    if classification.category == "container":
        if kind == "/ocean/shipment_container":
            subject_ids.add(ident(resource.get("id")) or "")
        subject_id = ref_id(resource.get("shipment_container"))
        if subject_id:
            subject_ids.add(subject_id)
    containers: list[ContainerFacts] = []
    seen: set[str] = set()
    candidates = [obj(c) for c in as_list(data.get("containers"))]
    if kind == "/ocean/shipment_container":
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
    return tuple(containers)


def _booking(
    classification: Classification, shipment_json: Json, shipment_id: str | None
) -> BookingFacts | None:
    booking_id = ref_id(shipment_json.get("booking"))
    if not booking_id:
        return None
    confirmed = classification.name == "booking_confirmed"
    return BookingFacts(
        booking_id=booking_id,
        shipment_id=shipment_id,
        status="confirmed" if confirmed else None,
        cargo_ready_date=parse_date(shipment_json.get("cargo_ready_date"), "cargo_ready_date"),
    )


def _invoice(kind: str | None, resource: Json, shipment_id: str | None) -> InvoiceFacts | None:
    if kind != "/invoice" or not ident(resource.get("id")):
        return None
    total = obj(resource.get("total"))
    return InvoiceFacts(
        invoice_id=str(resource["id"]),
        shipment_id=ref_id(resource.get("shipments")) or shipment_id,
        name=text(resource.get("name")),
        status=text(resource.get("status")),
        amount=amount(total.get("amount")),
        currency=text(total.get("currency_code")),
        due_date=parse_date(resource.get("due_date"), "due_date"),
    )


def _document(kind: str | None, resource: Json, shipment_id: str | None) -> DocumentFacts | None:
    if kind != "/document" or not ident(resource.get("id")):
        return None
    return DocumentFacts(
        document_id=str(resource["id"]),
        shipment_id=ref_id(resource.get("shipment")) or shipment_id,
        document_type=text(resource.get("document_type")),
        file_name=text(resource.get("file_name")),
        link=text(resource.get("file_link")),
    )


def _purchase_order(kind: str | None, resource: Json) -> PurchaseOrderFacts | None:
    if kind != "/purchase_order" or not ident(resource.get("id")):
        return None
    return PurchaseOrderFacts(
        purchase_order_id=str(resource["id"]),
        name=text(resource.get("name")),
        status=text(resource.get("status")),
        buyer=company_name(resource.get("buyer")),
        seller=company_name(resource.get("seller")),
        cargo_ready_date=parse_date(resource.get("cargo_ready_date"), "cargo_ready_date"),
        must_arrive_date=parse_date(resource.get("must_arrive_date"), "must_arrive_date"),
    )
