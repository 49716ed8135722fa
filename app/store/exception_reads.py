"""Reads of the exception inbox for the dashboard, beyond `app.store.exceptions`: the inbox's
default list (every exception not resolved), the count behind its nav link, a shipment's
exceptions, one exception with what its page shows around it, and the people it can be
assigned to. Reads only; the writes are `app.store.exceptions`'.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlmodel import Session, col, func, select

from app.core import exception_state as core
from app.core.exception_families import SEVERITIES
from app.store import tokens
from app.store.exception_filters import ExceptionFilter, filtered_by, in_inbox_order
from app.store.exception_models import UNRESOLVED as UNRESOLVED_ROWS
from app.store.exception_models import ExceptionEntry, ShipmentExceptionRow
from app.store.exceptions import Cursor, Page, UnknownException
from app.store.models import Shipment

UNRESOLVED: Final[tuple[core.State, ...]] = ("open", "acknowledged", "snoozed")
EVERY_STATE: Final = "all"
# A shipment's exceptions read at most (one per family: a dozen in practice).
MAX_SHIPMENT_EXCEPTIONS: Final = 100


@dataclass(frozen=True)
class InboxFilter:
    """The inbox's filters. `state` None: every exception not resolved; `all`: every state."""

    state: str | None = None
    family: str | None = None
    severity: str | None = None
    shipment_id: str | None = None
    assignee: str | None = None


def _filtered(query: Any, where: InboxFilter) -> Any:
    """`query` narrowed to `where`, so that a page is the first entries of one index range in
    inbox order. The unresolved ones (the default) are the partial index
    `ix_shipment_exception_unresolved_inbox`, whose condition this one is word for word (SQLite
    uses a partial index only then); a severity is its rank, the inbox order's first column; a
    family or an assignee is the leading column of its inbox index, but among the unresolved
    ones it is tested on each entry of the partial index instead (`_tested`)."""
    row = ShipmentExceptionRow
    unresolved = where.state is None
    if unresolved:
        query = query.where(UNRESOLVED_ROWS)
    elif where.state != EVERY_STATE:
        query = query.where(row.state == where.state)
    if where.family is not None:
        query = query.where(_tested(row.family, unresolved) == where.family)
    if where.severity is not None:
        known = where.severity in SEVERITIES
        rank = SEVERITIES.index(where.severity) if known else -1
        query = query.where(row.severity_rank == rank)
    if where.shipment_id is not None:
        query = query.where(row.shipment_id == where.shipment_id)
    if where.assignee is not None:
        query = query.where(_tested(row.assignee, unresolved) == where.assignee)
    return query


def _tested(column: Any, unresolved: bool) -> Any:
    """`column`, or among the unresolved exceptions `column || ''`, which no index holds: the
    family's (or person's) inbox index starts with every exception of theirs ever resolved, in
    the same order, so a page would walk that history first; the planner (SQLite's, without
    statistics) cannot tell, so it is kept off it, onto the partial index of the unresolved
    ones, a walk bounded by the exceptions not resolved."""
    return col(column).concat("") if unresolved else col(column)


def inbox_page(
    session: Session, *, where: InboxFilter, after: Cursor | None = None, limit: int = 50
) -> Page:
    """One page of the inbox in its order (most severe, then oldest, then id), from just past
    `after`: a keyset, never an offset."""
    query = _filtered(select(ShipmentExceptionRow), where)
    return page_in_inbox_order(session, query, after=after, limit=limit)


def count_unresolved(session: Session, *, cap: int) -> int:
    """How many exceptions are not resolved, counted up to `cap + 1` at most (a bounded read:
    the nav link says `cap+` beyond)."""
    row = ShipmentExceptionRow
    # Ranges of the state index holding only unresolved rows (in no order: a count needs none).
    some = select(row.id).where(col(row.state).in_(UNRESOLVED)).limit(cap + 1).subquery()
    return int(session.exec(select(func.count()).select_from(some)).one())


def shipment_exceptions(session: Session, *, shipment_id: str) -> tuple[ShipmentExceptionRow, ...]:
    """Every exception of one shipment (resolved ones too), in inbox order."""
    row = ShipmentExceptionRow
    return tuple(
        session.exec(
            select(row)
            .where(row.shipment_id == shipment_id)
            .order_by(col(row.severity_rank), col(row.opened_at), col(row.id))
            .limit(MAX_SHIPMENT_EXCEPTIONS)
        ).all()
    )


@dataclass(frozen=True)
class ExceptionDetail:
    """One exception, its timeline (oldest first) and what its page says of the shipment."""

    exception: ShipmentExceptionRow
    timeline: Sequence[ExceptionEntry]
    shipment_name: str | None
    timezone: str | None  # the shipment's current place's zone, for local times


def exception_detail(session: Session, *, exception_id: int) -> ExceptionDetail | None:
    """One exception for its page; None when there is no such exception."""
    row = session.get(ShipmentExceptionRow, exception_id)
    if row is None:
        return None
    entries = session.exec(
        select(ExceptionEntry)
        .where(ExceptionEntry.exception_id == exception_id)
        .order_by(col(ExceptionEntry.id))
    ).all()
    shipment = session.get(Shipment, row.shipment_id)
    return ExceptionDetail(
        exception=row,
        timeline=entries,
        shipment_name=shipment.name if shipment is not None else None,
        timezone=shipment.location_timezone if shipment is not None else None,
    )


def assignable_people(session: Session, *, now: datetime) -> tuple[str, ...]:
    """The names of the active named tokens: the people an exception can be assigned to."""
    return tuple(row.name for row in tokens.list_tokens(session) if tokens.is_active(row, now=now))


def list_exceptions(
    session: Session, *, where: ExceptionFilter, after: Cursor | None = None, limit: int = 50
) -> Page:
    """One page of the exceptions `where` matches, in inbox order, from just past `after`."""
    return page_in_inbox_order(
        session, filtered_by(select(ShipmentExceptionRow), where), after=after, limit=limit
    )


def page_in_inbox_order(session: Session, query: Any, *, after: Cursor | None, limit: int) -> Page:
    """One page of `query`'s exceptions in inbox order (most severe, then oldest, then id),
    from just past `after`: a keyset, never an offset."""
    row = ShipmentExceptionRow
    if after is not None:
        rank, opened, last = after.severity_rank, after.opened_at, after.id
        query = query.where(
            (col(row.severity_rank) > rank)
            | ((col(row.severity_rank) == rank) & (col(row.opened_at) > opened))
            | (
                (col(row.severity_rank) == rank)
                & (col(row.opened_at) == opened)
                & (col(row.id) > last)
            )
        )
    rows = tuple(session.exec(in_inbox_order(query).limit(limit + 1)).all())
    if len(rows) <= limit:
        return Page(rows, None)
    end = rows[limit - 1]
    assert end.id is not None
    return Page(rows[:limit], Cursor(end.severity_rank, end.opened_at, end.id))


def get_exception(
    session: Session, *, exception_id: int
) -> tuple[ShipmentExceptionRow, Sequence[ExceptionEntry]]:
    """One exception and its whole timeline, oldest entry first (`UnknownException`)."""
    row = session.get(ShipmentExceptionRow, exception_id)
    if row is None:
        raise UnknownException(exception_id)
    entries = session.exec(
        select(ExceptionEntry)
        .where(ExceptionEntry.exception_id == exception_id)
        .order_by(col(ExceptionEntry.id))
    ).all()
    return row, entries
