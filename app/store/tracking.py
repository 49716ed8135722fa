"""What the tracking page reads of a shipment: only the columns `app.core.tracking`'s public view
is built from, copied out of the rows here so that nothing else (names, parties, payloads,
invoices, documents, event ids, exceptions' notes and people) leaves the store on this path."""

from __future__ import annotations

from sqlmodel import Session, col, select

from app.core.eta_history import eta_chart, eta_history
from app.core.tracking import (
    ContainerFacts,
    MilestoneFacts,
    OpenException,
    ShipmentFacts,
    TrackingFacts,
)
from app.store.eta_reads import eta_reports
from app.store.exception_models import ShipmentExceptionRow
from app.store.models import Container, Milestone, Shipment

# A shipment's open exceptions read at most (one per family: a dozen in practice).
MAX_OPEN_EXCEPTIONS = 100


def _shipment(row: Shipment) -> ShipmentFacts:
    return ShipmentFacts(
        id=row.id,
        transportation_mode=row.transportation_mode,
        status=row.status,
        status_at=row.status_at,
        location_name=row.location_name,
        location_unlocode=row.location_unlocode,
        location_country=row.location_country,
        location_timezone=row.location_timezone,
        estimated_arrival=row.estimated_arrival,
        actual_arrival=row.actual_arrival,
        delivered_at=row.delivered_at,
    )


def _milestones(session: Session, shipment_id: str) -> tuple[MilestoneFacts, ...]:
    rows = session.exec(
        select(Milestone)
        .where(col(Milestone.shipment_id) == shipment_id)
        .order_by(col(Milestone.occurred_at), col(Milestone.id))
    ).all()
    return tuple(
        MilestoneFacts(
            milestone=row.milestone,
            occurred_at=row.occurred_at,
            location_name=row.location_name,
            location_unlocode=row.location_unlocode,
            location_country=row.location_country,
            location_timezone=row.location_timezone,
        )
        for row in rows
    )


def _containers(session: Session, shipment_id: str) -> tuple[ContainerFacts, ...]:
    rows = session.exec(
        select(Container)
        .where(col(Container.shipment_id) == shipment_id)
        .order_by(col(Container.number))
    ).all()
    return tuple(
        ContainerFacts(
            number=row.number,
            container_type=row.container_type,
            container_size=row.container_size,
            last_event=row.last_event,
            last_event_at=row.last_event_at,
            location_name=row.location_name,
            location_unlocode=row.location_unlocode,
            location_country=row.location_country,
        )
        for row in rows
    )


def _open_exceptions(session: Session, shipment_id: str) -> tuple[OpenException, ...]:
    """The family and opening time of each exception not resolved: no note, no name."""
    row = ShipmentExceptionRow
    rows = session.exec(
        select(row.family, row.opened_at)
        .where(col(row.shipment_id) == shipment_id)
        .where(col(row.state) != "resolved")
        .order_by(col(row.opened_at), col(row.id))
        .limit(MAX_OPEN_EXCEPTIONS)
    ).all()
    return tuple(OpenException(family=name, opened_at=opened) for name, opened in rows)


def tracking_facts(session: Session, *, shipment_id: str) -> TrackingFacts | None:
    """The public view's inputs for one shipment; None when there is no such shipment."""
    shipment = session.get(Shipment, shipment_id)
    if shipment is None:
        return None
    arrival = shipment.actual_arrival
    history = eta_history(
        eta_reports(session.connection(), shipment_id=shipment_id), actual_arrival=arrival
    )
    return TrackingFacts(
        shipment=_shipment(shipment),
        milestones=_milestones(session, shipment_id),
        containers=_containers(session, shipment_id),
        eta_estimates=tuple(point.estimate for point in history),
        open_exceptions=_open_exceptions(session, shipment_id),
        eta_chart=eta_chart(history, actual_arrival=arrival),
    )
