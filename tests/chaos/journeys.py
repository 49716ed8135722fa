"""Whole journeys of shipment 418563, copied under fresh ids, and the records a calm run of them
leaves behind (the oracle the chaos runs are held to)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlmodel import Session

from app.core.events import parse_event
from app.core.ids import event_workflow_id
from app.store import db, projection, reads
from app.store.models import Document, Invoice
from tests.helpers import load_sample
from tests.integration.harness import JOURNEY

SHIPMENT_ID = "418563"
CONTAINER_NUMBER = "CSNU7261843"
INVOICE_ID = "q7Xk2LpRTu-9vWc0aB1n3g"
DOCUMENT_ID = "Hf3kQ9ZrT2mWx8"


@dataclass(frozen=True)
class Delivery:
    """One signed-to-be webhook body and what it is about."""

    event_id: str
    shipment_id: str
    sample: str
    body: bytes


@dataclass(frozen=True)
class Copy:
    """One copy of the journey: a shipment of its own, with its invoice and document."""

    shipment_id: str
    invoice_id: str
    document_id: str
    deliveries: tuple[Delivery, ...]


class Journeys:
    """Copies of the journey, each under a shipment id (in `data.shipment`, the resource, every
    ref and link), container number, invoice and document id of its own, with fresh event ids."""

    def __init__(self) -> None:
        self.salt = uuid.uuid4().int % 10**6

    def copy(self, index: int) -> Copy:
        assert 0 <= index < 100
        serial = self.salt * 100 + index
        shipment_id = str(900_000_000 + serial)  # nine digits: still a JSON number in place
        invoice_id = f"{INVOICE_ID}-{shipment_id}"
        document_id = f"{DOCUMENT_ID}-{shipment_id}"
        replacements = {
            SHIPMENT_ID: shipment_id,
            CONTAINER_NUMBER: f"CHAU{serial % 10**7:07d}",
            INVOICE_ID: invoice_id,
            DOCUMENT_ID: document_id,
        }
        deliveries = []
        for name in JOURNEY:
            text = json.dumps(load_sample(name))
            for old, new in replacements.items():
                text = text.replace(old, new)
            payload: dict[str, Any] = json.loads(text)
            event_id = f"chaos-{shipment_id}-{payload['id']}"
            payload["id"] = event_id
            body = json.dumps(payload).encode("utf-8")
            assert parse_event(body).shipment_id == shipment_id, name
            deliveries.append(Delivery(event_id, shipment_id, name, body))
        return Copy(shipment_id, invoice_id, document_id, tuple(deliveries))

    def copies(self, count: int) -> list[Copy]:
        return [self.copy(index) for index in range(count)]


def deliveries_of(copies: list[Copy]) -> list[Delivery]:
    return [delivery for copy in copies for delivery in copy.deliveries]


@dataclass(frozen=True)
class Records:
    """What the API shows of each copy, in a comparable form."""

    shipments: dict[str, dict[str, Any]]
    invoices: dict[str, dict[str, Any]]
    documents: dict[str, dict[str, Any]]


def comparable(record: dict[str, Any]) -> dict[str, Any]:
    """A record without what legitimately depends on when or in which order events came:
    `updated_at` (wall clock) and a milestone's `late` flag (arrival order)."""
    record = json.loads(json.dumps(record))
    record.pop("updated_at", None)
    for milestone in record.get("milestones", []):
        milestone.pop("late", None)
    for container in record.get("containers", []):
        container.pop("updated_at", None)
    return record


def calm_records(copies: list[Copy], database: Path) -> Records:
    """Apply every event once, in file order, with `app.store.projection` on an SQLite file of
    its own: since records do not depend on arrival order, this is what any run must end with."""
    engine = db.create_db_engine(f"sqlite:///{database}")
    db.upgrade(engine)
    now = datetime.now(UTC)
    try:
        for delivery in deliveries_of(copies):
            event = parse_event(delivery.body)
            with Session(engine) as session:
                row = projection.record_event(
                    session,
                    event=event,
                    body=delivery.body.decode("utf-8"),
                    workflow_id=event_workflow_id(event.event_id),
                    received_at=now,
                )
                status = row.status
                session.commit()
            assert status == "processing", f"{delivery.sample} is not a known event type"
            with Session(engine) as session:
                projection.apply_event(session, event_id=event.event_id, now=now)
                session.commit()
        with Session(engine) as session:
            shipments = {}
            for copy in copies:
                shipment = reads.get_shipment(session.connection(), shipment_id=copy.shipment_id)
                assert shipment is not None
                shipments[copy.shipment_id] = comparable(shipment)
            invoices = {
                c.invoice_id: comparable(_record(session, Invoice, c.invoice_id)) for c in copies
            }
            documents = {
                c.document_id: comparable(_record(session, Document, c.document_id)) for c in copies
            }
    finally:
        engine.dispose()
    return Records(shipments, invoices, documents)


def _record(session: Session, model: Any, key: str) -> dict[str, Any]:
    found = reads.get_record(session, model=model, key=key)
    assert found is not None, f"the calm run has no {model.__name__} {key}"
    return found
