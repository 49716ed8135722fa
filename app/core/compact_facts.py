"""The facts of an event in the compact format (`family.event`)."""

from __future__ import annotations

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
from app.core.values import Json, amount, company_name, ident, obj, parse_date, parse_datetime, text


def _compact_location(data: Json) -> Location | None:
    location = obj(data.get("location"))
    if not location:
        return None
    return Location(
        name=text(location.get("name")),
        unlocode=text(location.get("unlocode")),
        country=text(location.get("country")),
        timezone=text(location.get("timezone")),
    )


def compact_facts(event_type: str, data: Json) -> Facts:
    family, _, part = event_type.partition(".")
    shipment_id = ident(data.get("shipment_id"))
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
    if family == "booking" and ident(data.get("booking_id")):
        booking = BookingFacts(
            booking_id=str(data["booking_id"]),
            shipment_id=shipment_id,
            status=text(data.get("status")) or (part or None),
            cargo_ready_date=parse_date(data.get("cargo_ready_date"), "cargo_ready_date"),
        )
    elif family == "purchase_order" and ident(data.get("purchase_order_id")):
        purchase_order = PurchaseOrderFacts(
            purchase_order_id=str(data["purchase_order_id"]),
            name=text(data.get("name")),
            status=text(data.get("status")) or ("archived" if part == "archived" else None),
            buyer=company_name(data.get("buyer")),
            seller=company_name(data.get("seller")),
            cargo_ready_date=parse_date(data.get("cargo_ready_date"), "cargo_ready_date"),
            must_arrive_date=parse_date(data.get("must_arrive_date"), "must_arrive_date"),
        )
    elif family == "invoice" and ident(data.get("invoice_id")):
        invoice = InvoiceFacts(
            invoice_id=str(data["invoice_id"]),
            shipment_id=shipment_id,
            name=text(data.get("name")),
            status=text(data.get("status")),
            amount=amount(data.get("amount")),
            currency=text(data.get("currency")),
            due_date=parse_date(data.get("due_date"), "due_date"),
        )
    elif family == "document" and ident(data.get("document_id")):
        document = DocumentFacts(
            document_id=str(data["document_id"]),
            shipment_id=shipment_id,
            document_type=text(data.get("document_type")),
            file_name=text(data.get("file_name")),
            link=text(data.get("file_link")),
        )
    elif family == "container" and text(data.get("container_number")):
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
