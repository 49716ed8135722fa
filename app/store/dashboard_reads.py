"""Read side of the dashboard: rows as the HTML pages show them. Data access, keyword-only.

Unlike `app.store.reads` (JSON for the API), these return model rows and small dataclasses with real
`datetime`s, so the templates can show each time in the zone of its place.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import cast

import sqlalchemy as sa
from sqlalchemy.orm import QueryableAttribute, defer
from sqlmodel import Session, col, select

from app.core.eta_history import EtaChart, eta_chart, eta_history
from app.core.statuses import EventStatus
from app.store.eta_reads import eta_reports
from app.store.filters import ANY_EVENT, EventFilter
from app.store.models import (
    Booking,
    Container,
    Document,
    EventRecord,
    Invoice,
    Milestone,
    Notification,
    Shipment,
)

MAX_LIMIT = 500
DEFAULT_LIMIT = 200

# Events that need a person's eyes come first: failed, then queued (waiting in the spool for
# Temporal), then still processing.
_EVENT_PRIORITY = sa.case(
    (col(EventRecord.status) == EventStatus.FAILED, 0),
    (col(EventRecord.status) == EventStatus.QUEUED, 1),
    (col(EventRecord.status) == EventStatus.PROCESSING, 2),
    else_=3,
)


@dataclass(frozen=True)
class EventSummary:
    """An event-log row without its payload."""

    event_id: str
    type: str
    category: str
    name: str
    shipment_id: str | None
    occurred_at: datetime | None
    received_at: datetime
    processed_at: datetime | None
    status: str
    error: str | None
    workflow_id: str


@dataclass(frozen=True)
class ShipmentPage:
    """Everything the page of one shipment shows."""

    shipment: Shipment
    milestones: list[Milestone]
    containers: list[Container]
    documents: list[Document]
    invoices: list[Invoice]
    bookings: list[Booking]
    notifications: list[Notification]
    events: list[EventSummary]
    # The ETA history's chart (None without an estimate), made here, off the event loop.
    eta_chart: EtaChart | None


def _summary(row: EventRecord) -> EventSummary:
    return EventSummary(
        event_id=row.event_id,
        type=row.type,
        category=row.category,
        name=row.name,
        shipment_id=row.shipment_id,
        occurred_at=row.occurred_at,
        received_at=row.received_at,
        processed_at=row.processed_at,
        status=row.status,
        error=row.error,
        workflow_id=row.workflow_id,
    )


def _clamp(limit: int | None) -> int:
    return DEFAULT_LIMIT if limit is None else max(1, min(limit, MAX_LIMIT))


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped.lower()}%"


def shipments_matching(text: str | None) -> sa.ColumnElement[bool] | None:
    """The search of the shipment list: id or name contains `text` (case-insensitive, a
    leading `#` ignored); None for no text."""
    text = (text or "").strip().lstrip("#")
    if not text:
        return None
    pattern = _like_pattern(text)
    return sa.or_(
        col(Shipment.id).like(pattern, escape="\\"),
        sa.func.lower(col(Shipment.name)).like(pattern, escape="\\"),
    )


def search_shipments(
    session: Session,
    *,
    text: str | None = None,
    status: str | None = None,
    limit: int | None = None,
) -> list[Shipment]:
    """Shipments whose id or name contains `text` (case-insensitive), most recently updated
    first; an exact id match comes before the rest."""
    statement = select(Shipment)
    text = (text or "").strip().lstrip("#")
    matching = shipments_matching(text)
    if matching is not None:
        statement = statement.where(matching)
    if status:
        statement = statement.where(col(Shipment.status) == status)
    exact_first = sa.case((col(Shipment.id) == text, 0), else_=1)
    statement = statement.order_by(
        exact_first,
        col(Shipment.updated_at).desc().nulls_last(),
        col(Shipment.id),
    ).limit(_clamp(limit))
    return list(session.exec(statement).all())


def shipment_statuses(session: Session) -> list[str]:
    """The statuses shipments have now, for the filter."""
    statement = select(Shipment.status).where(col(Shipment.status).is_not(None)).distinct()
    return sorted(status for status in session.exec(statement).all() if status)


def list_events(
    session: Session, *, where: EventFilter = ANY_EVENT, limit: int | None = None
) -> list[EventSummary]:
    """The event log: failed events first, then queued, then those still processing, then the rest;
    newest first within each."""
    # Payloads are large and lists do not show them.
    payload = cast("QueryableAttribute[str]", EventRecord.payload)  # an ORM attribute, typed str
    statement = where.apply(select(EventRecord).options(defer(payload)))
    statement = statement.order_by(
        _EVENT_PRIORITY, col(EventRecord.received_at).desc(), col(EventRecord.event_id)
    ).limit(_clamp(limit))
    return [_summary(row) for row in session.exec(statement).all()]


def event_types(session: Session) -> list[str]:
    """The event types in the log, for the filter."""
    return sorted(session.exec(select(EventRecord.type).distinct()).all())


def get_event(session: Session, *, event_id: str) -> EventRecord | None:
    """One event with its payload."""
    return session.get(EventRecord, event_id)


def list_notifications(session: Session, *, event_id: str) -> list[Notification]:
    """The alerts an event sent (destinations in Apprise's privacy form only)."""
    statement = (
        select(Notification)
        .where(col(Notification.event_id) == event_id)
        .order_by(col(Notification.id))
    )
    return list(session.exec(statement).all())


def get_shipment_page(session: Session, *, shipment_id: str) -> ShipmentPage | None:
    """A shipment with its milestones (chronological), records, alerts, events and ETA chart."""
    shipment = session.get(Shipment, shipment_id)
    if shipment is None:
        return None
    milestones = session.exec(
        select(Milestone)
        .where(col(Milestone.shipment_id) == shipment_id)
        .order_by(col(Milestone.occurred_at), col(Milestone.event_id))
    ).all()
    containers = session.exec(
        select(Container)
        .where(col(Container.shipment_id) == shipment_id)
        .order_by(col(Container.number))
    ).all()
    documents = session.exec(
        select(Document)
        .where(col(Document.shipment_id) == shipment_id)
        .order_by(col(Document.updated_at).desc(), col(Document.id))
    ).all()
    invoices = session.exec(
        select(Invoice)
        .where(col(Invoice.shipment_id) == shipment_id)
        .order_by(col(Invoice.due_date), col(Invoice.id))
    ).all()
    bookings = session.exec(
        select(Booking).where(col(Booking.shipment_id) == shipment_id).order_by(col(Booking.id))
    ).all()
    notifications = session.exec(
        select(Notification)
        .where(col(Notification.shipment_id) == shipment_id)
        .order_by(col(Notification.created_at).desc(), col(Notification.id).desc())
        .limit(MAX_LIMIT)
    ).all()
    return ShipmentPage(
        shipment=shipment,
        milestones=list(milestones),
        containers=list(containers),
        documents=list(documents),
        invoices=list(invoices),
        bookings=list(bookings),
        notifications=list(notifications),
        events=list_events(session, where=EventFilter(shipment_id=shipment_id), limit=MAX_LIMIT),
        eta_chart=_eta_chart(session, shipment),
    )


def _eta_chart(session: Session, shipment: Shipment) -> EtaChart | None:
    reports = eta_reports(session.connection(), shipment_id=shipment.id)
    arrival = shipment.actual_arrival
    return eta_chart(eta_history(reports, actual_arrival=arrival), actual_arrival=arrival)
