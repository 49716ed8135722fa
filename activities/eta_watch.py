"""The ETA watch's side of the activities: what event processing tells a shipment's watch, and
the `eta_missed` alert the watch plans when its timer fires with no arrival.

Event processing reaches the watch through an `EtaWatchFeed` it is given (Temporal signals,
`workflows.eta_feed`), so that this layer names no workflow.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Protocol

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from temporalio import activity

from activities.delivery import NotificationActivities
from activities.exceptions import (
    ExceptionRules,
    ExceptionWatchFeed,
    missed_eta_event_id,
    tell_watches,
)
from activities.types import Delivery, EtaMissedInput
from app.core.alert import Alert
from app.core.exception_families import MISSED_ETA_TYPE, exception_effect
from app.core.outcome import EventOutcome
from app.core.statuses import EventStatus
from app.core.taxonomy import classify
from app.store import exceptions
from app.store.models import EtaObservation, EventRecord, Milestone, Shipment
from app.store.projection import make_stamp

# The milestones that end a watch: the shipment is there.
ENDS_WATCH: Final = frozenset({"arrived", "delivered"})
HEADLINE: Final = "ETA passed, no arrival"


class EtaWatchFeed(Protocol):
    """Tells a shipment's ETA watch what an applied event changed. Both calls may be repeated
    (an activity retried): the watch ignores an ETA it has and one older than it has."""

    def watch(
        self,
        *,
        shipment_id: str,
        estimated_arrival: str,
        stamp: str,
        event_id: str,
        grace: timedelta,
    ) -> None:
        """Watch this ETA (ISO-8601, UTC), starting the shipment's watch if none runs."""

    def end(self, *, shipment_id: str, event_id: str, milestone: str) -> None:
        """The shipment arrived or was delivered: end its watch, if one runs."""


def tell_watch(
    feed: EtaWatchFeed, outcome: EventOutcome, *, grace: timedelta, now: datetime
) -> None:
    """Feed the shipment's watch from an applied event: news only. An event older than the
    shipment's status, and an ETA already past its grace when flexhook learns it (history, a
    backfill, a replay), arm nothing."""
    shipment_id = outcome.shipment_id
    if outcome.status != EventStatus.PROCESSED or outcome.late or shipment_id is None:
        return
    if outcome.milestone in ENDS_WATCH:
        feed.end(shipment_id=shipment_id, event_id=outcome.event_id, milestone=outcome.milestone)
        return
    eta, stamp = outcome.estimated_arrival, outcome.eta_stamp
    if not outcome.eta_changed or eta is None or stamp is None:
        return
    if datetime.fromisoformat(eta) + grace <= now:
        return
    feed.watch(
        shipment_id=shipment_id,
        estimated_arrival=eta,
        stamp=stamp,
        event_id=outcome.event_id,
        grace=grace,
    )


def _not_missed(session: Session, input: EtaMissedInput) -> str | None:
    """Why the watched ETA deserves no alert after all, from the records: an arrival or a
    delivery newer than the ETA, or a newer, different ETA (whose own signal re-arms the watch,
    or arms nothing when it came in already past). None when it was missed."""
    ends = session.exec(
        select(Milestone).where(
            Milestone.shipment_id == input.shipment_id, col(Milestone.milestone).in_(ENDS_WATCH)
        )
    ).all()
    for milestone in ends:
        if milestone.occurred_at and make_stamp(milestone.occurred_at, milestone.event_id) > (
            input.stamp
        ):
            return f"{milestone.milestone} recorded (event {milestone.event_id})"
    newest = session.exec(
        select(EtaObservation)
        .where(EtaObservation.shipment_id == input.shipment_id)
        .order_by(col(EtaObservation.stamp).desc())
        .limit(1)
    ).first()
    watched = datetime.fromisoformat(input.estimated_arrival)
    if newest is not None and newest.stamp > input.stamp and newest.estimated_arrival != watched:
        return f"the ETA is now {newest.estimated_arrival.isoformat()}"
    return None


def missed_alert(input: EtaMissedInput, *, shipment: Shipment | None, event_type: str) -> Alert:
    """The `eta_missed` alert: once per shipment and ETA (its dedup key names both)."""
    eta = datetime.fromisoformat(input.estimated_arrival).astimezone(UTC)
    observed = datetime.fromisoformat(input.observed_at)
    return Alert(
        kind="eta_missed",
        event_id=input.event_id,
        event_type=event_type,
        shipment_id=input.shipment_id,
        headline=HEADLINE,
        occurred_at=observed.isoformat(),
        shipment_name=shipment.name if shipment else None,
        place_name=shipment.location_name if shipment else None,
        place_country=shipment.location_country if shipment else None,
        place_timezone=shipment.location_timezone if shipment else None,
        estimated_arrival=eta.isoformat(),
        late_hours=round((observed - eta).total_seconds() / 3600, 1),
        fact_key=f"shipment-{input.shipment_id}:eta_missed:{eta.isoformat()}",
    )


class EtaWatchActivities:
    """Sync activities of the ETA watch over an injected engine and alert planner; a missed
    ETA is reported to the exception inbox (family `missed_eta`) with `exception_rules`, and
    `exception_watch` hears of it (None: no watch)."""

    def __init__(
        self,
        engine: Engine,
        notifications: NotificationActivities,
        *,
        exception_rules: ExceptionRules | None = None,
        exception_watch: ExceptionWatchFeed | None = None,
    ) -> None:
        self._engine = engine
        self._notifications = notifications
        self._exception_rules = exception_rules or ExceptionRules()
        self._exception_watch = exception_watch

    @activity.defn(name="alert_eta_missed", no_thread_cancel_exception=True)
    def alert_eta_missed(self, input: EtaMissedInput) -> list[Delivery]:
        """Plan the `eta_missed` alert of the watched ETA unless the records say the shipment
        arrived or has a newer ETA, and report the missed ETA as an exception (event id
        `flexhook:eta_missed:<shipment>:<ETA>`, so a retry reports nothing twice) in the same
        transaction; return the deliveries not yet sent."""
        now = datetime.now(UTC)
        with Session(self._engine) as session:
            reason = _not_missed(session, input)
            if reason is not None:
                activity.logger.info(
                    "shipment %s: ETA %s not missed after all: %s",
                    input.shipment_id,
                    input.estimated_arrival,
                    reason,
                )
                return []
            outcomes = exceptions.record_event(
                session,
                shipment_id=input.shipment_id,
                event_id=missed_eta_event_id(input.shipment_id, input.estimated_arrival),
                occurred_at=datetime.fromisoformat(input.observed_at),
                effect=exception_effect(MISSED_ETA_TYPE, classify(MISSED_ETA_TYPE), None),
                severities=self._exception_rules.severities,
                now=now,
                # An arrival after the ETA was announced settles it, however late it is
                # reported: the same rule as `_not_missed`.
                about=input.stamp,
            )
            record = session.get(EventRecord, input.event_id)
            alert = missed_alert(
                input,
                shipment=session.get(Shipment, input.shipment_id),
                event_type=record.type if record else "",
            )
            alert = dataclasses.replace(alert, exception_id=outcomes[-1].exception_id)
            deliveries = self._notifications.plan(session, [alert], now=now)
            session.commit()
        tell_watches(self._exception_watch, outcomes)
        return deliveries

    def all(self) -> list[Callable[..., Any]]:
        return [self.alert_eta_missed]
