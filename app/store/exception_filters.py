"""The exception inbox's filters and its order (most severe first, then oldest, then id), shared
by its reads (`app.store.exception_reads`) and its bulk actions (`app.store.exceptions`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import col

from app.core.exception_families import SEVERITIES
from app.store.exception_models import ShipmentExceptionRow


@dataclass(frozen=True)
class ExceptionFilter:
    """The list's filters; None matches everything."""

    state: str | None = None
    family: str | None = None
    severity: str | None = None
    shipment_id: str | None = None
    assignee: str | None = None


def filtered_by(query: Any, where: ExceptionFilter) -> Any:
    row = ShipmentExceptionRow
    if where.state is not None:
        query = query.where(row.state == where.state)
    if where.family is not None:
        query = query.where(row.family == where.family)
    if where.severity is not None:
        rank = SEVERITIES.index(where.severity) if where.severity in SEVERITIES else -1
        query = query.where(row.severity_rank == rank)
    if where.shipment_id is not None:
        query = query.where(row.shipment_id == where.shipment_id)
    if where.assignee is not None:
        query = query.where(row.assignee == where.assignee)
    return query


def in_inbox_order(query: Any) -> Any:
    row = ShipmentExceptionRow
    return query.order_by(col(row.severity_rank), col(row.opened_at), col(row.id))
