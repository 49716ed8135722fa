"""Write side: turn an event's facts into records, idempotently and order-independently.

Every function takes an open `Session` and keyword arguments; the caller owns the transaction.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlmodel import Session, col, select

from app.core.alert import Alert
from app.core.errors import EventDataError
from app.core.events import Event, parse_event
from app.core.facts import Facts, Location
from app.core.outcome import EventOutcome, ShipmentChange
from app.core.stamps import stamp
from app.core.statuses import EventStatus
from app.store.models import (
    Booking,
    Container,
    Document,
    EtaObservation,
    EventRecord,
    Invoice,
    Milestone,
    PurchaseOrder,
    Shipment,
)
from app.store.retention import kept_payload


class Versioned(Protocol):
    versions: dict[str, str]
    updated_at: datetime | None


def make_stamp(occurred_at: datetime, event_id: str) -> str:
    """A sortable version: UTC time to the microsecond, ties broken by event id."""
    return stamp(occurred_at, event_id)


def merge(
    row: Versioned, stamp: str, values: dict[str, Any], *, now: datetime, whole: bool = False
) -> bool:
    """Set each value whose field was last set by an older stamp; True if any changed.

    Nulls are skipped (an event asserts what it knows), unless `whole`: then the values are one
    unit, like the parts of a place, and a null clears what an older event said.
    """
    versions = dict(row.versions or {})
    changed = False
    for name, value in values.items():
        if (value is None and not whole) or stamp <= versions.get(name, ""):
            continue
        if getattr(row, name) != value:
            changed = True
        setattr(row, name, value)
        versions[name] = stamp
    row.versions = versions  # a new dict, so the JSON column is seen as changed
    if changed:
        row.updated_at = now
    return changed


def new_event_row(
    event: Event, *, body: str, workflow_id: str, received_at: datetime, status: str
) -> EventRecord:
    """An event-log row for `event`, not yet added to a session."""
    try:
        occurred_at = event.occurred_at()
    except EventDataError:
        occurred_at = None  # the apply step reports the bad value
    return EventRecord(
        event_id=event.event_id,
        type=event.type,
        category=event.category,
        name=event.classification.name,
        shipment_id=event.shipment_id,
        occurred_at=occurred_at,
        received_at=received_at,
        status=status,
        workflow_id=workflow_id,
        payload=body,
    )


def record_event(
    session: Session, *, event: Event, body: str, workflow_id: str, received_at: datetime
) -> EventRecord:
    """Store the event in the log (once per event id).

    A queued or failed event goes (back) to `processing`. An ignored one is classified again, so
    a redrive after an upgrade that knows its type processes it.
    """
    row = session.get(EventRecord, event.event_id)
    status = EventStatus.PROCESSING if event.known else EventStatus.IGNORED
    if row is None:
        row = new_event_row(
            event, body=body, workflow_id=workflow_id, received_at=received_at, status=status
        )
        session.add(row)
    elif row.status in (EventStatus.QUEUED, EventStatus.FAILED, EventStatus.IGNORED):
        row.status = status
        row.category = event.category
        row.name = event.classification.name
        row.workflow_id = workflow_id
    if not event.known:
        refresh_shipment_details(session, event=event, now=received_at)
    return row


def refresh_shipment_details(session: Session, *, event: Event, now: datetime) -> bool:
    """Take the details of `data.shipment` (name, mode, dates) from an event of a type flexhook
    does not know, where they are newer than what the shipment has; its status, place and ETA
    stay as the known events set them. True if anything changed. A value that cannot be read
    changes nothing: the event is stored all the same."""
    try:
        occurred_at = event.occurred_at()
        shipment_facts = event.facts().shipment
    except EventDataError:
        return False
    if shipment_facts is None or occurred_at is None:
        return False
    details = asdict(shipment_facts)
    for key in ("shipment_id", "previous_estimated_arrival", "estimated_arrival"):
        details.pop(key)
    if all(value is None for value in details.values()):
        return False
    shipment = _get_for_update(session, Shipment, shipment_facts.shipment_id)
    shipment = shipment or Shipment(id=shipment_facts.shipment_id)
    changed = merge(shipment, make_stamp(occurred_at, event.event_id), details, now=now)
    session.add(shipment)
    return changed


def mark_failed(session: Session, *, event_id: str, error: str) -> None:
    row = session.get(EventRecord, event_id)
    if row is not None and row.status != EventStatus.PROCESSED:
        row.status = EventStatus.FAILED
        row.error = error[:2000]


@dataclass(frozen=True)
class Applied:
    """What applying an event did: its outcome (without alerts), and what the alert rules need to
    know of it. `decided` holds the alerts kept the first time it was applied (None: applied
    now, nothing decided yet)."""

    event: Event
    outcome: EventOutcome
    change: ShipmentChange | None
    place: Location | None
    occurred_at: datetime
    decided: list[Alert] | None


def apply_event(
    session: Session, *, event_id: str, now: datetime, event: Event | None = None
) -> Applied:
    """Project a recorded event onto the records. Running it twice changes nothing and answers
    the alerts kept the first time (`keep_alerts`). `event` is the recorded event already parsed
    (parsed again from the log when not given). The store decides no alert."""
    row = session.get(EventRecord, event_id)
    if row is None:
        raise LookupError(f"event {event_id} is not recorded")
    if event is None:
        event = parse_event(kept_payload(row).encode("utf-8"))
    occurred_at = event.occurred_at() or row.received_at
    if row.status in (EventStatus.PROCESSED, EventStatus.IGNORED):
        late = session.exec(select(Milestone.late).where(Milestone.event_id == event_id)).first()
        outcome = _outcome(session, row, event, late=bool(late))
        decided = [Alert(**alert) for alert in row.alerts or []]
        return Applied(event, outcome, None, None, occurred_at, decided)
    facts = event.facts()
    change = _apply_facts(
        session,
        facts=facts,
        event=event,
        occurred_at=occurred_at,
        stamp=make_stamp(occurred_at, event_id),
        now=now,
    )
    row.status = EventStatus.PROCESSED
    row.processed_at = now
    row.error = None
    if facts.shipment and not row.shipment_id:
        row.shipment_id = facts.shipment.shipment_id
    outcome = _outcome(session, row, event, late=change.late if change else False)
    return Applied(event, outcome, change, facts.location, occurred_at, None)


def keep_alerts(session: Session, *, event_id: str, alerts: list[Alert]) -> None:
    """Keep the alerts decided for an applied event: applied again, it answers these."""
    row = session.get(EventRecord, event_id)
    if row is None:
        raise LookupError(f"event {event_id} is not recorded")
    row.alerts = [asdict(alert) for alert in alerts]


def _outcome(session: Session, row: EventRecord, event: Event, *, late: bool) -> EventOutcome:
    return EventOutcome(
        event_id=row.event_id,
        status=row.status,
        category=row.category,
        shipment_id=row.shipment_id,
        milestone=event.milestone,
        late=late,
        **_eta_news(session, event_id=row.event_id, shipment_id=row.shipment_id),
    )


def _eta_news(session: Session, *, event_id: str, shipment_id: str | None) -> dict[str, Any]:
    """The outcome's ETA fields: the shipment's current ETA, the stamp of the observation that
    set it, and whether this event set it (its observation is the newest and differs from the one
    before). Applied again, an event answers the same unless a newer ETA came in since."""
    if shipment_id is None:
        return {}
    newest = session.exec(
        select(EtaObservation)
        .where(EtaObservation.shipment_id == shipment_id)
        .order_by(col(EtaObservation.stamp).desc())
        .limit(2)
    ).all()
    if not newest:
        return {}
    current = newest[0]
    changed = current.event_id == event_id and (
        len(newest) == 1 or newest[1].estimated_arrival != current.estimated_arrival
    )
    return {
        "estimated_arrival": current.estimated_arrival.astimezone(UTC).isoformat(),
        "eta_stamp": current.stamp,
        "eta_changed": changed,
    }


def _location_values(location: Location | None) -> dict[str, Any]:
    if location is None or not (location.name or location.unlocode):
        return {}
    return {
        "location_name": location.name,
        "location_unlocode": location.unlocode,
        "location_country": location.country,
    }


def _merge_record(
    session: Session, model: Any, facts: Any, *, key: str, stamp: str, now: datetime
) -> None:
    """Create or lock the row that `facts.<key>` names and merge the other facts into it."""
    values = asdict(facts)
    ident = values.pop(key)
    row = _get_for_update(session, model, ident) or model(id=ident)
    merge(row, stamp, values, now=now)
    session.add(row)


def _get_for_update(session: Session, model: Any, key: str) -> Any:
    primary_key = next(iter(model.__table__.primary_key.columns)).name
    statement = select(model).where(getattr(model, primary_key) == key).with_for_update()
    return session.exec(statement).first()


def _apply_facts(
    session: Session,
    *,
    facts: Facts,
    event: Event,
    occurred_at: datetime,
    stamp: str,
    now: datetime,
) -> ShipmentChange | None:
    change = None
    if facts.shipment is not None:
        change = _apply_shipment(
            session, facts=facts, event=event, occurred_at=occurred_at, stamp=stamp, now=now
        )
    if facts.booking is not None:
        _merge_record(session, Booking, facts.booking, key="booking_id", stamp=stamp, now=now)
    if facts.purchase_order is not None:
        _merge_record(
            session,
            PurchaseOrder,
            facts.purchase_order,
            key="purchase_order_id",
            stamp=stamp,
            now=now,
        )
    if facts.invoice is not None:
        _merge_record(session, Invoice, facts.invoice, key="invoice_id", stamp=stamp, now=now)
    if facts.document is not None:
        _merge_record(session, Document, facts.document, key="document_id", stamp=stamp, now=now)
    for container_facts in facts.containers:
        container = _get_for_update(session, Container, container_facts.container_number)
        container = container or Container(number=container_facts.container_number)
        values = asdict(container_facts)
        values.pop("container_number")
        if container_facts.last_event:
            values["last_event_at"] = occurred_at
        merge(container, stamp, values, now=now)
        if container_facts.last_event:
            merge(container, stamp, _location_values(facts.location), now=now, whole=True)
        session.add(container)
    return change


def _apply_shipment(
    session: Session,
    *,
    facts: Facts,
    event: Event,
    occurred_at: datetime,
    stamp: str,
    now: datetime,
) -> ShipmentChange:
    assert facts.shipment is not None
    shipment_facts = facts.shipment
    shipment = _get_for_update(session, Shipment, shipment_facts.shipment_id)
    if shipment is None:
        shipment = Shipment(id=shipment_facts.shipment_id)
    # Older than the shipment's status: history, never news.
    late = shipment.status_at is not None and occurred_at < shipment.status_at
    eta_before = shipment.estimated_arrival
    details = asdict(shipment_facts)
    for key in ("shipment_id", "previous_estimated_arrival", "estimated_arrival"):
        details.pop(key)
    merge(shipment, stamp, details, now=now)

    # Where the shipment is: the place of its latest milestone. An ETA names where it is going,
    # and a container's empty return is the container's news, not the shipment's.
    location = _location_values(facts.location)
    if event.milestone is not None and location and facts.location is not None:
        location["location_timezone"] = facts.location.timezone
        merge(shipment, stamp, location, now=now, whole=True)

    earlier: tuple[datetime, ...] = ()
    if event.milestone is not None:
        earlier = _earlier_reports(session, event=event, shipment_id=shipment.id, leg=facts.leg_id)
        merge(shipment, stamp, {"status": event.milestone, "status_at": occurred_at}, now=now)
        _add_milestone(
            session,
            event=event,
            shipment_id=shipment.id,
            facts=facts,
            occurred_at=occurred_at,
            late=late,
        )

    if shipment_facts.estimated_arrival is not None:
        if session.get(EtaObservation, event.event_id) is None:
            session.add(
                EtaObservation(
                    event_id=event.event_id,
                    shipment_id=shipment.id,
                    stamp=stamp,
                    estimated_arrival=shipment_facts.estimated_arrival,
                    previous_hint=shipment_facts.previous_estimated_arrival,
                )
            )
            session.flush()
        _derive_eta(session, shipment=shipment, now=now)
    session.add(shipment)
    return ShipmentChange(
        shipment_id=shipment.id,
        shipment_name=shipment.name,
        place=Location(
            name=shipment.location_name,
            unlocode=shipment.location_unlocode,
            country=shipment.location_country,
            timezone=shipment.location_timezone,
        ),
        late=late,
        eta_before=eta_before,
        eta_after=shipment.estimated_arrival,
        leg_id=facts.leg_id,
        earlier_reports=earlier,
    )


def _add_milestone(
    session: Session,
    *,
    event: Event,
    shipment_id: str,
    facts: Facts,
    occurred_at: datetime,
    late: bool,
) -> None:
    """The event's row in the shipment's milestone history (once per event)."""
    assert event.milestone is not None
    if session.exec(select(Milestone.id).where(Milestone.event_id == event.event_id)).first():
        return
    place = facts.location or Location()
    session.add(
        Milestone(
            event_id=event.event_id,
            shipment_id=shipment_id,
            leg_id=facts.leg_id,
            milestone=event.milestone,
            occurred_at=occurred_at,
            location_name=place.name,
            location_unlocode=place.unlocode,
            location_country=place.country,
            location_timezone=place.timezone,
            late=late,
        )
    )


def _earlier_reports(
    session: Session, *, event: Event, shipment_id: str, leg: str | None
) -> tuple[datetime, ...]:
    """When the same milestone of the same leg was reported before, under other event ids."""
    statement = select(Milestone.occurred_at).where(
        Milestone.shipment_id == shipment_id,
        Milestone.milestone == event.milestone,
        Milestone.event_id != event.event_id,
        col(Milestone.leg_id).is_(None) if leg is None else Milestone.leg_id == leg,
    )
    return tuple(when for when in session.exec(statement).all() if when is not None)


def _derive_eta(session: Session, *, shipment: Shipment, now: datetime) -> None:
    """Current ETA: the newest observation. Previous: the newest older one that differs."""
    observations = session.exec(
        select(EtaObservation)
        .where(EtaObservation.shipment_id == shipment.id)
        .order_by(col(EtaObservation.stamp).desc())
    ).all()
    if not observations:
        return
    current = observations[0]
    previous = next(
        (
            o.estimated_arrival
            for o in observations[1:]
            if o.estimated_arrival != current.estimated_arrival
        ),
        current.previous_hint,
    )
    if (shipment.estimated_arrival, shipment.previous_estimated_arrival) != (
        current.estimated_arrival,
        previous,
    ):
        shipment.estimated_arrival = current.estimated_arrival
        shipment.previous_estimated_arrival = previous
        shipment.updated_at = now
