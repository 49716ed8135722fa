"""The facts an event asserts about records, as plain values. Pure standard library."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime


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
