"""Read side of the ETA history: one shipment's ETA observations and its actual arrival, as the
core's `EtaReport`s (`app.core.eta_history` orders them by stamp and draws the chart), and the
history as the API serves it.

Data access, keyword-only, on a Core connection (`db.read_by_key` for the API; a session's
connection for the dashboard) with statements built once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BindParameter, Connection, bindparam
from sqlmodel import col, select

from app.core.eta_history import EtaReport, eta_history
from app.store.models import EtaObservation, Shipment

_SHIPMENT_ID: BindParameter[str] = bindparam("shipment_id")
_ARRIVAL = select(Shipment.actual_arrival).where(col(Shipment.id) == _SHIPMENT_ID)
# By the `shipment_id` index. No order: the core orders by stamp, so the history never depends
# on the order rows were written in.
_OBSERVATIONS = select(
    EtaObservation.event_id, EtaObservation.stamp, EtaObservation.estimated_arrival
).where(col(EtaObservation.shipment_id) == _SHIPMENT_ID)


@dataclass(frozen=True)
class ShipmentEta:
    """What the ETA history of one shipment is made of."""

    actual_arrival: datetime | None
    reports: tuple[EtaReport, ...]


def eta_reports(connection: Connection, *, shipment_id: str) -> tuple[EtaReport, ...]:
    """Every ETA observation of the shipment, in no particular order."""
    return tuple(
        EtaReport(event_id=row.event_id, stamp=row.stamp, estimate=row.estimated_arrival)
        for row in connection.execute(_OBSERVATIONS, {"shipment_id": shipment_id})
    )


def shipment_eta(connection: Connection, *, shipment_id: str) -> ShipmentEta | None:
    """The shipment's actual arrival and every ETA observation of it; None for no shipment."""
    shipment = connection.execute(_ARRIVAL, {"shipment_id": shipment_id}).first()
    if shipment is None:
        return None
    return ShipmentEta(
        actual_arrival=shipment.actual_arrival,
        reports=eta_reports(connection, shipment_id=shipment_id),
    )


def eta_history_document(connection: Connection, *, shipment_id: str) -> dict[str, Any] | None:
    """`{"points": [{"estimate", "reported_at", "event_id"}, ...]}` in reporting order, times
    in ISO 8601 UTC; None for no shipment."""
    found = shipment_eta(connection, shipment_id=shipment_id)
    if found is None:
        return None
    points = eta_history(found.reports, actual_arrival=found.actual_arrival)
    return {
        "points": [
            {
                "estimate": point.estimate.isoformat(),
                "reported_at": point.reported_at.isoformat(),
                "event_id": point.event_id,
            }
            for point in points
        ]
    }
