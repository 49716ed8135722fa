"""Activities that send alerts: plan the destinations, then send to each one exactly once.

The ledger (`Notification`, one row per alert and destination) is what makes "once" true across
activity retries, workflow replays, redeliveries and redrives: a row that is `sent` is never sent
again, and a row being sent belongs to one workflow at a time.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.types import Delivery, DeliveryFailure, PlanInput
from app.core.alert import Alert
from app.core.statuses import NotificationStatus
from app.store.models import Notification, Subscription
from notifications.notifier import (
    DeliveryFailed,
    Destination,
    InvalidDestination,
    Notifier,
    check_url,
    load_config,
    route,
)

UNKNOWN_OUTCOME = (
    "delivery outcome unknown: the worker stopped while sending; not sent again, so that no "
    "one hears it twice"
)


def _ledger_row(session: Session, delivery: Delivery) -> Notification | None:
    statement = (
        select(Notification)
        .where(Notification.dedup_key == delivery.alert.dedup_key)
        .where(Notification.destination_id == delivery.destination_id)
        .with_for_update()
    )
    return session.exec(statement).first()


class NotificationActivities:
    """Sync activities over an injected engine, notifier and Apprise configuration file."""

    def __init__(self, engine: Engine, notifier: Notifier, *, config_path: Path | None) -> None:
        self._engine = engine
        self._notifier = notifier
        self._config_path = config_path

    def _destinations(self, session: Session, alert: Alert) -> list[Destination]:
        """Who hears about `alert`: configured URLs tagged with its kind or shipment, and the
        shipment's subscribers. The same URL twice is one destination."""
        configured = load_config(self._config_path) if self._config_path else []
        found = {d.id: d for d in route(configured, kind=alert.kind, shipment_id=alert.shipment_id)}
        subscriptions = session.exec(
            select(Subscription).where(Subscription.shipment_id == alert.shipment_id)
        ).all()
        for subscription in subscriptions:
            if subscription.kinds is not None and alert.kind not in subscription.kinds:
                continue
            try:
                destination = check_url(subscription.url)
            except InvalidDestination:
                activity.logger.warning(
                    "subscription %s (%s) is no longer accepted by Apprise",
                    subscription.id,
                    subscription.privacy_url,
                )
                continue
            found.setdefault(destination.id, destination)
        return list(found.values())

    def _find(self, session: Session, alert: Alert, destination_id: str) -> Destination | None:
        return next((d for d in self._destinations(session, alert) if d.id == destination_id), None)

    def plan(self, session: Session, alerts: list[Alert], *, now: datetime) -> list[Delivery]:
        """Write a ledger row per alert and destination in `session` (the caller commits);
        return the deliveries not yet sent."""
        deliveries: list[Delivery] = []
        for alert in alerts:
            for destination in self._destinations(session, alert):
                delivery = Delivery(alert=alert, destination_id=destination.id)
                row = _ledger_row(session, delivery)
                if row is None:
                    row = Notification(
                        dedup_key=alert.dedup_key,
                        destination_id=destination.id,
                        destination=destination.privacy_url,
                        kind=alert.kind,
                        event_id=alert.event_id,
                        shipment_id=alert.shipment_id,
                        created_at=now,
                    )
                    session.add(row)
                if row.status not in (NotificationStatus.SENT, NotificationStatus.SKIPPED):
                    deliveries.append(delivery)
        return deliveries

    @activity.defn(name="plan_notifications")
    def plan_notifications(self, input: PlanInput) -> list[Delivery]:
        """Write a ledger row per alert and destination; return those not yet sent. (The
        workflow's path before `process_event`; kept for runs that started on it.)"""
        with Session(self._engine) as session:
            deliveries = self.plan(session, input.alerts, now=datetime.now(UTC))
            session.commit()
        return deliveries

    @activity.defn(name="send_notification")
    def send_notification(self, delivery: Delivery) -> str:
        """Send one alert to one destination unless the ledger says it went out already."""
        claimant = activity.info().workflow_id
        with Session(self._engine) as session:
            row = _ledger_row(session, delivery)
            if row is None or row.status in ("sent", "skipped"):
                return row.status if row else "skipped"
            if row.status == "sending":
                if row.claimed_by != claimant:
                    return "sending"  # another event's workflow holds it (a second `delivered`)
                # Our own earlier attempt died between handing the message over and recording
                # it: it may have gone out. Never twice beats at least once: record the doubt.
                row.status = "failed"
                row.last_error = UNKNOWN_OUTCOME
                session.commit()
                return "failed"
            destination = self._find(session, delivery.alert, delivery.destination_id)
            if destination is None:
                row.status = "skipped"
                row.last_error = "destination no longer configured"
                session.commit()
                return "skipped"
            row.status = "sending"
            row.claimed_by = claimant
            row.attempts += 1
            session.commit()

        try:
            self._notifier.send(destination, delivery.alert)
        except InvalidDestination as exc:
            self._finish(delivery, status="failed", error=str(exc))
            raise ApplicationError(
                str(exc), type="InvalidDestination", non_retryable=True
            ) from None
        except DeliveryFailed as exc:
            self._finish(delivery, status="pending", error=str(exc))  # known unsent: retry it
            raise
        self._finish(delivery, status="sent", error=None)
        return "sent"

    @activity.defn(name="mark_notification_failed")
    def mark_notification_failed(self, failure: DeliveryFailure) -> None:
        self._finish(failure.delivery, status="failed", error=failure.error)

    def _finish(self, delivery: Delivery, *, status: str, error: str | None) -> None:
        with Session(self._engine) as session:
            row = _ledger_row(session, delivery)
            if row is None or row.status == "sent":
                return
            row.status = status
            row.last_error = error[:1000] if error else None
            if status == "sent":
                row.sent_at = datetime.now(UTC)
            session.commit()

    def all(self) -> list[Callable[..., Any]]:
        return [self.plan_notifications, self.send_notification, self.mark_notification_failed]
