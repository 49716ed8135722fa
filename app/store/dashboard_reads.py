"""Read side of the dashboard: rows as the HTML pages show them. Data access, keyword-only.

Unlike `app.store.reads` (JSON for the API), these return model rows and small dataclasses with real
`datetime`s, so the templates can show each time in the zone of its place.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

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
from app.store.paging import (
    TimeCursor,
    cut,
    newest_first,
    older_than,
    shipment_cursor,
    without_documents,
)

MAX_LIMIT = 500
DEFAULT_LIMIT = 200

# Events that need a person's eyes come first: failed, then queued (waiting in the spool for
# Temporal), then still processing; then the rest. Each rank is read on its own, newest first,
# from the index of its status (or of the page's other filter), so no page sorts the log.
RANKED_STATUSES = (EventStatus.FAILED, EventStatus.QUEUED, EventStatus.PROCESSING)
REST = len(RANKED_STATUSES)  # the rank of every other status


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


# The substring indexes (SQLite's FTS5 trigram table, PostgreSQL's pg_trgm) find texts of three
# characters or more; a shorter search finds the shipment with exactly that id, if any.
MIN_SEARCH = 3


@dataclass(frozen=True)
class ShipmentList:
    """One page of the shipment list, and where the next one starts (None: the last)."""

    shipments: list[Shipment]
    next: TimeCursor | None
    too_short: bool = False  # the text was too short to search names: exact ids only


# Past this many matches the search walks the list's index instead (see `search_matching`).
DENSE_MATCHES = 2000


def search_matching(session: Session, text: str) -> sa.ColumnElement[bool]:
    """Shipments whose id or name contains `text` (at least `MIN_SEARCH` characters, case-
    insensitive), found on the database's substring index (migration 0014).

    The matches are then sorted, newest updated first: fine for a few, not for a text half the
    shipments hold. On SQLite, when the FTS5 table finds `DENSE_MATCHES` or more, the page walks
    `ix_shipment_updated` and tests each row instead, which finds a page of a dense match within
    a few thousand rows (PostgreSQL's planner makes that choice itself, from pg_trgm's
    statistics, planned for each text)."""
    if session.get_bind().dialect.name != "sqlite":
        # pg_trgm's indexes. The plan depends on the text (how many rows hold it): a plan cached
        # for a common text would walk every shipment for a rare one, so plan it each time.
        session.execute(sa.text("SET LOCAL plan_cache_mode = force_custom_plan"))
        return cast("sa.ColumnElement[bool]", shipments_matching(text))
    phrase = '"' + text.replace('"', '""') + '"'  # FTS5 reads a quoted phrase literally
    found: sa.Select[str] = sa.select(sa.column("shipment_id", sa.String)).select_from(
        sa.table("shipment_name_search")
    )
    found = found.where(sa.text("shipment_name_search MATCH :phrase").bindparams(phrase=phrase))
    dense = session.execute(
        sa.select(sa.func.count()).select_from(found.limit(DENSE_MATCHES).subquery())
    ).scalar_one()
    if dense >= DENSE_MATCHES:
        return cast("sa.ColumnElement[bool]", shipments_matching(text))
    return col(Shipment.id).in_(found)


def search_shipments(
    session: Session,
    *,
    text: str | None = None,
    status: str | None = None,
    after: TimeCursor | None = None,
    limit: int | None = None,
) -> ShipmentList:
    """Shipments whose id or name contains `text` (case-insensitive), most recently updated
    first, the page after `after`; an exact id match comes before the rest, on the first page."""
    shown = _clamp(limit)
    text = (text or "").strip().lstrip("#")
    updated, key = col(Shipment.updated_at), col(Shipment.id)
    statement = select(Shipment).options(*without_documents())
    statement = statement.where(older_than(updated, key, after))
    if text:
        # Without a searchable text only the exact id below is listed.
        searchable = len(text) >= MIN_SEARCH
        statement = statement.where(search_matching(session, text) if searchable else sa.false())
        statement = statement.where(key != text)
    if status:
        statement = statement.where(col(Shipment.status) == status)
    rows = list(session.exec(statement.order_by(*newest_first(updated, key)).limit(shown + 1)))
    exact = session.get(Shipment, text) if text and after is None else None
    if exact is not None and (not status or exact.status == status):
        rows.insert(0, exact)
        shown += 1
    page = cut(rows, shown, shipment_cursor)
    return ShipmentList(page.rows, page.next, too_short=0 < len(text) < MIN_SEARCH)


def shipment_statuses(session: Session) -> list[str]:
    """The statuses shipments have now, for the filter: one step of `ix_shipment_status_updated`
    per status (a loose index scan), however many shipments there are."""
    return _distinct(session, col(Shipment.status))


def _distinct(session: Session, column: Any) -> list[str]:
    """The values of an indexed column, each found by one seek past the one before (a recursive
    query both databases run on the column's index), in order."""
    seen = sa.select(sa.func.min(column).label("value")).cte("seen", recursive=True)
    after = sa.select(sa.func.min(column)).where(column > seen.c.value).scalar_subquery()
    seen = seen.union_all(sa.select(after).where(seen.c.value.is_not(None)))
    values = session.execute(sa.select(seen.c.value).where(seen.c.value.is_not(None)))
    return [str(value) for value in values.scalars() if value]


@dataclass(frozen=True)
class EventCursor:
    """Where a page of the event list ended: its last event's rank, received time and id."""

    rank: int
    at: datetime
    event_id: str


@dataclass(frozen=True)
class EventList:
    """One page of the event list, and where the next one starts (None: the last)."""

    events: list[EventSummary]
    next: EventCursor | None


def _ranks(status: str | None, first: int) -> list[int]:
    """The ranks a page reads, in order, from `first`: the filtered status's alone."""
    if not status:
        return list(range(first, REST + 1))
    rank = RANKED_STATUSES.index(status) if status in RANKED_STATUSES else REST
    return [rank] if rank >= first else []


def _in_rank(rank: int) -> sa.ColumnElement[bool]:
    status = col(EventRecord.status)
    return status == RANKED_STATUSES[rank] if rank < REST else status.not_in(RANKED_STATUSES)


def event_list(
    session: Session,
    *,
    where: EventFilter = ANY_EVENT,
    after: EventCursor | None = None,
    limit: int | None = None,
) -> EventList:
    """The event log: failed events first, then queued, then those still processing, then the
    rest; newest first within each; the page after `after`."""
    shown = _clamp(limit)
    # Payloads are large and lists do not show them.
    payload = cast("QueryableAttribute[str]", EventRecord.payload)  # an ORM attribute, typed str
    received, key = col(EventRecord.received_at), col(EventRecord.event_id)
    found: list[tuple[int, EventRecord]] = []
    for rank in _ranks(where.status, after.rank if after else 0):
        resume = after is not None and after.rank == rank
        start = TimeCursor(after.at, after.event_id) if after and resume else None
        statement = where.apply(select(EventRecord).options(defer(payload)))
        statement = statement.where(_in_rank(rank), older_than(received, key, start))
        statement = statement.order_by(*newest_first(received, key))
        found += [(rank, row) for row in session.exec(statement.limit(shown + 1 - len(found)))]
        if len(found) > shown:
            break
    following = None
    if len(found) > shown:
        rank, last = found[shown - 1]
        following = EventCursor(rank, last.received_at, last.event_id)
    return EventList([_summary(row) for _, row in found[:shown]], following)


def list_events(
    session: Session, *, where: EventFilter = ANY_EVENT, limit: int | None = None
) -> list[EventSummary]:
    """The first page of `event_list`."""
    return event_list(session, where=where, limit=limit).events


def event_types(session: Session) -> list[str]:
    """The event types in the log, for the filter: one step of `ix_event_type_received` per
    type (a loose index scan), however long the log."""
    return _distinct(session, col(EventRecord.type))


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
