"""Read side: records as the API serves them (ISO-8601 times with offset, ids as strings)."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any, Final

from sqlalchemy import BindParameter, Connection, bindparam
from sqlmodel import Session, SQLModel, col, select

from app.store.filters import ANY_EVENT, EventFilter
from app.store.models import (
    Booking,
    Container,
    Document,
    EventRecord,
    Invoice,
    Milestone,
    Notification,
    PurchaseOrder,
    Shipment,
)
from app.store.paging import (
    Page,
    TimeCursor,
    cut,
    newest_first,
    older_than,
    shipment_cursor,
    without_documents,
)
from app.store.retention import PAYLOAD_REMOVED

MAX_LIMIT = 500


def _value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def as_json(row: SQLModel, *, exclude: tuple[str, ...] = ("versions",)) -> dict[str, Any]:
    """A row's columns as JSON-ready values."""
    return {
        name: _value(getattr(row, name)) for name in type(row).model_fields if name not in exclude
    }


def _clamp(limit: int | None, default: int = 100) -> int:
    if limit is None:
        return default
    return max(1, min(limit, MAX_LIMIT))


def _location(row: Any, *, zoned: bool = True) -> dict[str, Any] | None:
    """The row's place; `zoned` for rows with a `location_timezone` (containers have none)."""
    if not (row.location_name or row.location_unlocode):
        return None
    location = {
        "name": row.location_name,
        "unlocode": row.location_unlocode,
        "country": row.location_country,
    }
    if zoned:
        location["timezone"] = row.location_timezone
    return location


def _shipment_summary(shipment: Any) -> dict[str, Any]:
    """A `Shipment`, or a row of `SHIPMENT_COLUMNS`, as the API shows it."""
    return {
        "id": shipment.id,
        "name": shipment.name,
        "transportation_mode": shipment.transportation_mode,
        "status": shipment.status,
        "status_at": _value(shipment.status_at),
        "location": _location(shipment),
        "estimated_departure": _value(shipment.estimated_departure),
        "actual_departure": _value(shipment.actual_departure),
        "estimated_arrival": _value(shipment.estimated_arrival),
        "previous_estimated_arrival": _value(shipment.previous_estimated_arrival),
        "actual_arrival": _value(shipment.actual_arrival),
        "delivered_at": _value(shipment.delivered_at),
        "updated_at": _value(shipment.updated_at),
    }


def _milestone(milestone: Any) -> dict[str, Any]:
    """A `Milestone`, or a row of `_MILESTONES`."""
    return {
        "event_id": milestone.event_id,
        "milestone": milestone.milestone,
        "leg_id": milestone.leg_id,
        "occurred_at": _value(milestone.occurred_at),
        "location": _location(milestone),
        "late": milestone.late,
    }


def _container(container: Container) -> dict[str, Any]:
    data = as_json(
        container, exclude=("versions", "location_name", "location_unlocode", "location_country")
    )
    data["location"] = _location(container, zoned=False)
    return data


def shipment_page(
    session: Session,
    *,
    status: str | None = None,
    after: TimeCursor | None = None,
    limit: int | None = None,
) -> Page[dict[str, Any]]:
    """Most recently updated first (`ix_shipment_updated`, or `ix_shipment_status_updated` with a
    status), the page after `after`."""
    shown = _clamp(limit)
    updated, key = col(Shipment.updated_at), col(Shipment.id)
    statement = select(Shipment).options(*without_documents())
    statement = statement.where(older_than(updated, key, after))
    if status:
        statement = statement.where(Shipment.status == status)
    rows = session.exec(statement.order_by(*newest_first(updated, key)).limit(shown + 1)).all()
    page = cut(rows, shown, shipment_cursor)
    return Page([_shipment_summary(s) for s in page.rows], page.next)


def list_shipments(
    session: Session, *, status: str | None = None, limit: int | None = None
) -> list[dict[str, Any]]:
    """The first page of `shipment_page`."""
    return shipment_page(session, status=status, limit=limit).rows


# `get_shipment` reads plain column tuples with statements built once, on a Core connection: no
# session, ORM objects or identity map, no `versions` to decode, no statement to build.
_SHIPMENT_ID: BindParameter[str] = bindparam("shipment_id")
# A shipment's own fields as the API shows them: its document's and the CSV export's columns.
SHIPMENT_COLUMNS: Final = (
    "id",
    "name",
    "transportation_mode",
    "status",
    "status_at",
    "location_name",
    "location_unlocode",
    "location_country",
    "location_timezone",
    "estimated_departure",
    "actual_departure",
    "estimated_arrival",
    "previous_estimated_arrival",
    "actual_arrival",
    "delivered_at",
    "updated_at",
)
_SHIPMENT = select(*(getattr(Shipment, name) for name in SHIPMENT_COLUMNS)).where(
    col(Shipment.id) == _SHIPMENT_ID
)
_MILESTONE_COLUMNS = (
    "event_id",
    "milestone",
    "leg_id",
    "occurred_at",
    "location_name",
    "location_unlocode",
    "location_country",
    "location_timezone",
    "late",
)
_MILESTONES = (
    select(*(getattr(Milestone, name) for name in _MILESTONE_COLUMNS))
    .where(col(Milestone.shipment_id) == _SHIPMENT_ID)
    .order_by(col(Milestone.occurred_at), col(Milestone.event_id))
)
_CONTAINER_LOCATION = ("location_name", "location_unlocode", "location_country")
# The container's fields in `as_json` order; its location goes last, as `_container` puts it.
_CONTAINER_FIELDS = tuple(
    name for name in Container.model_fields if name not in ("versions", *_CONTAINER_LOCATION)
)
_CONTAINERS = (
    select(*(getattr(Container, name) for name in (*_CONTAINER_FIELDS, *_CONTAINER_LOCATION)))
    .where(col(Container.shipment_id) == _SHIPMENT_ID)
    .order_by(col(Container.number))
)


def _container_row(row: Any) -> dict[str, Any]:
    """A row of `_CONTAINERS` exactly as `_container` shows a `Container`."""
    data = {name: _value(getattr(row, name)) for name in _CONTAINER_FIELDS}
    data["location"] = _location(row, zoned=False)
    return data


def get_shipment(connection: Connection, *, shipment_id: str) -> dict[str, Any] | None:
    """A shipment with its milestones (chronological) and containers, or None."""
    bound = {"shipment_id": shipment_id}
    shipment = connection.execute(_SHIPMENT, bound).first()
    if shipment is None:
        return None
    return {
        **_shipment_summary(shipment),
        "milestones": [_milestone(m) for m in connection.execute(_MILESTONES, bound)],
        "containers": [_container_row(c) for c in connection.execute(_CONTAINERS, bound)],
    }


def encode(document: dict[str, Any]) -> str:
    """A document as the API sends it: compact UTF-8 JSON, as Starlette's `JSONResponse` writes."""
    return json.dumps(
        document, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
    )


_DOCUMENT = select(Shipment.document).where(col(Shipment.id) == _SHIPMENT_ID)


def shipment_document(connection: Connection, *, shipment_id: str) -> str | None:
    """`get_shipment` as JSON text, in one lookup of the document kept with the shipment (built
    live for a shipment written before documents were kept); None when there is no shipment."""
    row = connection.execute(_DOCUMENT, {"shipment_id": shipment_id}).first()
    if row is None:
        return None
    if row.document is not None:
        return str(row.document)
    built = get_shipment(connection, shipment_id=shipment_id)
    return None if built is None else encode(built)


def _event_summary(row: EventRecord) -> dict[str, Any]:
    return as_json(row, exclude=("payload",))


def event_page(
    session: Session,
    *,
    where: EventFilter = ANY_EVENT,
    after: TimeCursor | None = None,
    limit: int | None = None,
) -> Page[dict[str, Any]]:
    """The event log, newest received first, the page after `after`: each filter has an index
    with that order after it (`ix_event_*_received`)."""
    shown = _clamp(limit)
    received, key = col(EventRecord.received_at), col(EventRecord.event_id)
    statement = where.apply(select(EventRecord)).where(older_than(received, key, after))
    rows = session.exec(statement.order_by(*newest_first(received, key)).limit(shown + 1)).all()
    page = cut(rows, shown, lambda row: TimeCursor(row.received_at, row.event_id))
    return Page([_event_summary(row) for row in page.rows], page.next)


def list_events(
    session: Session, *, where: EventFilter = ANY_EVENT, limit: int | None = None
) -> list[dict[str, Any]]:
    """The first page of `event_page`."""
    return event_page(session, where=where, limit=limit).rows


def get_event(session: Session, *, event_id: str) -> dict[str, Any] | None:
    row = session.get(EventRecord, event_id)
    if row is None:
        return None
    if row.payload is None:
        return {**_event_summary(row), "payload": None, "payload_removed": PAYLOAD_REMOVED}
    return {**_event_summary(row), "payload": json.loads(row.payload), "payload_removed": None}


def list_notifications(
    session: Session,
    *,
    event_id: str | None = None,
    shipment_id: str | None = None,
    status: str | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """The alert ledger. Destinations are shown in Apprise's privacy form only."""
    statement = select(Notification)
    if event_id:
        statement = statement.where(Notification.event_id == event_id)
    if shipment_id:
        statement = statement.where(Notification.shipment_id == shipment_id)
    if status:
        statement = statement.where(Notification.status == status)
    statement = statement.order_by(col(Notification.id).desc()).limit(_clamp(limit))
    rows = session.exec(statement).all()
    return [as_json(row, exclude=("claimed_by",)) | {"id": str(row.id)} for row in rows]


def get_record(session: Session, *, model: type[SQLModel], key: str) -> dict[str, Any] | None:
    """A booking, purchase order, invoice or document by id, or a container by number."""
    row = session.get(model, key)
    if row is None:
        return None
    if isinstance(row, Container):
        return _container(row)
    return as_json(row)


RECORD_MODELS: dict[str, type[SQLModel]] = {
    "bookings": Booking,
    "purchase-orders": PurchaseOrder,
    "invoices": Invoice,
    "documents": Document,
    "containers": Container,
}
