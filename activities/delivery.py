"""Activities that send alerts: plan the destinations, then send to each one exactly once.

The ledger (`Notification`, one row per alert and destination) is what makes "once" true across
activity retries, workflow replays, redeliveries and redrives: a row that is `sent` is never sent
again, and a row being sent belongs to one workflow at a time.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from opentelemetry import trace
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.preferences import preferences_for
from activities.tracking import TrackingLinks, alert_link_tokens
from activities.types import Delivery, DeliveryFailure, PlanInput
from app.core import ops_alerts
from app.core.alert import ESCALATION, Alert
from app.core.audience import Audience, parse_audience
from app.core.preferences import hold_until
from app.core.statuses import NotificationStatus
from app.core.trace_attributes import event_attributes
from app.store.models import Notification, Recipient, Subscription
from app.store.recipients import recipient_by_destination, recipients_for, wants
from app.store.subscriptions import list_subscriptions
from app.store.tokens import find_token, is_active
from notifications.destinations import NotifyConfig, stored_destination, wanted_by
from notifications.notifier import (
    DeliveryFailed,
    Destination,
    InvalidDestination,
    Notifier,
    SendTimedOut,
)
from notifications.ops_reporter import OpsReporter

# A send past its deadline was abandoned, not stopped: its thread may still deliver.
TIMED_OUT_OUTCOME = (
    "delivery outcome unknown: the send ran past its deadline and may still arrive; not sent "
    "again, so that no one hears it twice"
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


def _accepted(what: str, rows: Sequence[Subscription | Recipient]) -> Iterator[Destination]:
    """The destinations of stored URLs that Apprise still accepts; the others are logged (in
    Apprise's privacy form) and passed over."""
    for row in rows:
        try:
            destination = stored_destination(row.url)
        except InvalidDestination:
            activity.logger.warning(
                "%s %s (%s) is no longer accepted by Apprise", what, row.id, row.privacy_url
            )
            continue
        yield dataclasses.replace(destination, audience=stored_audience(row.audience))


def stored_audience(value: str) -> Audience:
    """A stored row's audience; a value this version does not know reads as external, the
    audience whose alerts carry the fewest links."""
    try:
        return parse_audience(value)
    except ValueError:
        return Audience.EXTERNAL


def _narrowest(found: list[Destination]) -> Destination | None:
    """The first of the ways one URL is a destination, external if any of them says so: one
    mailbox has one reader."""
    if not found:
        return None
    if any(d.audience is Audience.EXTERNAL for d in found):
        return dataclasses.replace(found[0], audience=Audience.EXTERNAL)
    return found[0]


def person_destination_id(name: str) -> str:
    """The destination id of a person's notices: `person-` and 16 hex of sha256 of the token's
    name (a name may be longer than a ledger's destination id can hold)."""
    return "person-" + hashlib.sha256(name.encode("utf-8")).hexdigest()[:16]


def _person(session: Session, name: str, *, now: datetime) -> Destination | None:
    """Where the person `name` hears notices: their active token's contact, or None (logged by
    name, never the contact) when the token is revoked, expired, unknown or has no contact, or
    Apprise no longer accepts the contact."""
    token = find_token(session, name=name)
    if token is None or not is_active(token, now=now) or not token.contact:
        activity.logger.info("no notice to %s: no active token with a contact", name)
        return None
    try:
        destination = stored_destination(token.contact)
    except InvalidDestination:
        activity.logger.warning("no notice to %s: Apprise no longer accepts the contact", name)
        return None
    return dataclasses.replace(
        destination, id=person_destination_id(name), audience=Audience.INTERNAL
    )


def _hears(destination: Destination, alert: Alert) -> bool:
    """Escalations are the team's: internal readers only. (Configured URLs hear them by the
    tag `escalation` alone: `routing_tags`; subscriptions never do.)"""
    return alert.kind != ESCALATION or destination.audience is Audience.INTERNAL


def _wanted_subscriptions(session: Session, alert: Alert) -> list[Subscription]:
    if alert.kind == ESCALATION:
        return []  # a shipment's subscriber hears its news, not the team's clocks
    found = list_subscriptions(session, shipment_id=alert.shipment_id)
    return [s for s in found if s.kinds is None or alert.kind in s.kinds]


StartRecipients = Callable[[list[str]], None]


def _skipped(reason: str) -> ApplicationError:
    """The failure of a send its destination's breaker stopped: not retried. The workflow then
    marks the alert failed, and the destination's `destination-failing` incident tells the
    operators once."""
    return ApplicationError(reason, type="DestinationSkipped", non_retryable=True)


class NotificationActivities:
    """Sync activities over an injected engine, notifier and Apprise configuration."""

    def __init__(
        self,
        engine: Engine,
        notifier: Notifier,
        *,
        config: NotifyConfig,
        ops: OpsReporter | None = None,
        start_recipients: StartRecipients | None = None,
        give_up_after: timedelta | None = None,
        tracking: TrackingLinks | None = None,
    ) -> None:
        """`ops` tells the operators of destinations whose retries ran out (and of events that
        failed, for `EventActivities`); None: nobody. `start_recipients(destination_ids)` runs
        after a plan that held alerts commits: it gets their recipient workflows going
        (`workflows.recipient_starter.RecipientStarter`); None: nobody starts them.
        `give_up_after`: a destination still failing this long after an alert's first attempt
        is not retried; None leaves it to the workflow's deadline (15 minutes).
        `tracking`: what makes the shipment's tracking link every alert carries; None (or a
        notifier without a public URL): no tracking link."""
        self._engine = engine
        self._tracking = tracking
        self._notifier = notifier
        self._config = config
        self._start_recipients = start_recipients
        self.ops = ops
        self._give_up_after = give_up_after

    def _destinations(self, session: Session, alert: Alert) -> list[Destination]:
        """Who hears about `alert`: configured URLs tagged with its kind or shipment, the
        shipment's subscriptions and the recipients who want its kind and shipment. The same
        URL twice is one destination. A notice to a person goes to that person alone."""
        if alert.person is not None:
            person = _person(session, alert.person, now=datetime.now(UTC))
            return [person] if person is not None else []
        recipients = recipients_for(session, kind=alert.kind, shipment_id=alert.shipment_id)
        found: dict[str, list[Destination]] = {}
        for destination in [
            *self._config.route(kind=alert.kind, shipment_id=alert.shipment_id),
            *_accepted("subscription", _wanted_subscriptions(session, alert)),
            *_accepted("recipient", recipients),
        ]:
            found.setdefault(destination.id, []).append(destination)
        return [
            d for ways in found.values() if (d := _narrowest(ways)) is not None and _hears(d, alert)
        ]

    def destination(self, session: Session, delivery: Delivery) -> Destination | None:
        """The destination `delivery` goes to, if it still hears the alert (None: no longer
        configured), looked up by its id: a configured URL, a recipient, or one of the
        shipment's subscriptions. A delivery carries only the destination's id, which keeps
        credentials out of Temporal's history."""
        alert, destination_id = delivery.alert, delivery.destination_id
        if alert.person is not None:
            if destination_id != person_destination_id(alert.person):
                return None
            return _person(session, alert.person, now=datetime.now(UTC))
        found: list[Destination] = []
        configured = self._config.find(destination_id)
        if configured is not None and wanted_by(
            configured, kind=alert.kind, shipment_id=alert.shipment_id
        ):
            found.append(configured)
        recipient = recipient_by_destination(session, destination_id=destination_id)
        if recipient is not None and wants(
            recipient, kind=alert.kind, shipment_id=alert.shipment_id
        ):
            found.extend(_accepted("recipient", [recipient]))
        subscribed = _accepted("subscription", _wanted_subscriptions(session, alert))
        found.extend(d for d in subscribed if d.id == destination_id)
        narrowest = _narrowest(found)
        return narrowest if narrowest is not None and _hears(narrowest, alert) else None

    def _waits(
        self, session: Session, destination: Destination, alert: Alert, now: datetime
    ) -> bool:
        """Whether the destination's digest or quiet hours hold this alert back."""
        preferences = preferences_for(session, destination, self._config)
        return preferences is not None and hold_until(preferences, alert, now=now) is not None

    def _start_after_commit(self, session: Session, destination_ids: set[str]) -> None:
        start = self._start_recipients
        if start is not None:
            ids = sorted(destination_ids)
            event.listen(session, "after_commit", lambda _session: start(ids), once=True)

    def plan(self, session: Session, alerts: list[Alert], *, now: datetime) -> list[Delivery]:
        """Write a ledger row per alert and destination in `session` (the caller commits);
        return the deliveries not yet sent. An alert a destination's preferences hold back is
        `held`, for that destination's recipient workflow (started once this commits)."""
        deliveries: list[Delivery] = []
        waiting: set[str] = set()
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
                    if self._waits(session, destination, alert, now):
                        row.status = NotificationStatus.HELD
                        row.alert = dataclasses.asdict(alert)
                    session.add(row)
                if row.status == NotificationStatus.HELD:
                    waiting.add(destination.id)
                elif row.status not in (NotificationStatus.SENT, NotificationStatus.SKIPPED):
                    deliveries.append(delivery)
        if waiting:
            self._start_after_commit(session, waiting)
        return deliveries

    @activity.defn(name="plan_notifications", no_thread_cancel_exception=True)
    def plan_notifications(self, input: PlanInput) -> list[Delivery]:
        """Write a ledger row per alert and destination; return those not yet sent. (The
        workflow's path before `process_event`; kept for runs that started on it.)"""
        with Session(self._engine) as session:
            deliveries = self.plan(session, input.alerts, now=datetime.now(UTC))
            session.commit()
        return deliveries

    @activity.defn(name="send_notification", no_thread_cancel_exception=True)
    def send_notification(self, delivery: Delivery) -> str:
        """Send one alert to one destination unless the ledger says it went out already."""
        claimant = activity.info().workflow_id
        alert = delivery.alert
        trace.get_current_span().set_attributes(  # RunActivity's span, when tracing is on
            event_attributes(
                event_id=alert.event_id, event_type=alert.event_type, shipment_id=alert.shipment_id
            )
        )
        share_token = self._share_token(delivery)
        with Session(self._engine) as session:
            row = _ledger_row(session, delivery)
            if row is None or row.status in (NotificationStatus.SENT, NotificationStatus.SKIPPED):
                return row.status if row else NotificationStatus.SKIPPED
            if row.status == NotificationStatus.SENDING:
                if row.claimed_by != claimant:
                    # Another event's workflow holds it (a second `delivered`).
                    return NotificationStatus.SENDING
                # Our own earlier attempt died between handing the message over and recording
                # it: it may have gone out. Never twice beats at least once: record the doubt.
                row.status = NotificationStatus.FAILED
                row.last_error = UNKNOWN_OUTCOME
                session.commit()
                return NotificationStatus.FAILED
            destination = self.destination(session, delivery)
            if destination is None:
                row.status = NotificationStatus.SKIPPED
                row.last_error = "destination no longer configured"
                session.commit()
                return NotificationStatus.SKIPPED
            skipped = self._notifier.skip_reason(destination)
            if skipped is not None:  # its breaker is open: not tried, no retry burned
                row.status = NotificationStatus.FAILED
                row.last_error = f"{destination.privacy_url}: {skipped}"[:1000]
                session.commit()
                raise _skipped(row.last_error)
            row.status = NotificationStatus.SENDING
            row.claimed_by = claimant
            row.attempts += 1
            session.commit()

        try:
            self._notifier.send(destination, delivery.alert, share_token=share_token)
        except InvalidDestination as exc:
            self._finish(delivery, status=NotificationStatus.FAILED, error=str(exc))
            raise ApplicationError(
                str(exc), type="InvalidDestination", non_retryable=True
            ) from None
        except SendTimedOut as exc:
            # Never twice beats at least once: an abandoned send may still go out.
            error = f"{TIMED_OUT_OUTCOME} ({exc})"[:1000]
            self._finish(delivery, status=NotificationStatus.FAILED, error=error)
            raise ApplicationError(error, type="SendTimedOut", non_retryable=True) from None
        except DeliveryFailed as exc:
            # Known unsent: retry it.
            self._finish(delivery, status=NotificationStatus.PENDING, error=str(exc))
            if self._given_up():
                raise ApplicationError(
                    str(exc), type="DeliveryFailed", non_retryable=True
                ) from None
            raise
        self._finish(delivery, status=NotificationStatus.SENT, error=None)
        self._report_reached(delivery, destination)
        return NotificationStatus.SENT

    def _share_token(self, delivery: Delivery) -> str | None:
        """The token of the shipment's alerts link (made, and audited, on its first alert), or
        None without a key or a public URL, or when the ledger says there is nothing to send.
        Its own transaction, before the ledger row is claimed: a failure here leaves no row
        `sending`."""
        tracking, shipment_id = self._tracking, delivery.alert.shipment_id
        if tracking is None or not self._notifier.links_tracking_pages:
            return None
        with Session(self._engine) as session:
            row = session.exec(
                select(Notification.status)
                .where(Notification.dedup_key == delivery.alert.dedup_key)
                .where(Notification.destination_id == delivery.destination_id)
            ).first()
            if row in (None, NotificationStatus.SENT, NotificationStatus.SKIPPED):
                return None
            tokens = alert_link_tokens(
                session, tracking, shipment_ids=[shipment_id], now=datetime.now(UTC)
            )
            session.commit()
        return tokens.get(shipment_id)

    def _given_up(self) -> bool:
        if self._give_up_after is None:
            return False
        return datetime.now(UTC) - activity.info().scheduled_time >= self._give_up_after

    @activity.defn(name="mark_notification_failed", no_thread_cancel_exception=True)
    def mark_notification_failed(self, failure: DeliveryFailure) -> None:
        """The alert's retries ran out: `failed` in the ledger, and the operators hear of the
        destination once (best effort: this never fails for them)."""
        earlier = self._ledger_facts(failure.delivery)  # before its last error is overwritten
        self._finish(failure.delivery, status=NotificationStatus.FAILED, error=failure.error)
        if self.ops is None or earlier is None:
            return
        privacy_url, attempts, last_error = earlier
        alert = failure.delivery.alert
        self.ops.incident(
            ops_alerts.destination_failing(
                destination_id=failure.delivery.destination_id,
                destination=privacy_url,
                alert_kind=alert.kind,
                event_id=alert.event_id,
                shipment_id=alert.shipment_id,
                error=last_error or failure.error,
                attempts=attempts,
            ),
            now=datetime.now(UTC),
        )

    def _ledger_facts(self, delivery: Delivery) -> tuple[str, int, str | None] | None:
        """(destination in privacy form, attempts, last error) of the ledger row, if any."""
        with Session(self._engine) as session:
            row = _ledger_row(session, delivery)
            return (row.destination, row.attempts, row.last_error) if row else None

    def _report_reached(self, delivery: Delivery, destination: Destination) -> None:
        """A destination that was failing took an alert: its incident is over."""
        if self.ops is None:
            return
        now = datetime.now(UTC)
        self.ops.recovered(
            ops_alerts.destination_failing_key(delivery.destination_id),
            lambda incident: ops_alerts.destination_recovered(
                destination_id=delivery.destination_id,
                destination=destination.privacy_url,
                failing_since=incident.opened_at,
                now=now,
            ),
            now=now,
        )

    def _finish(self, delivery: Delivery, *, status: str, error: str | None) -> None:
        with Session(self._engine) as session:
            row = _ledger_row(session, delivery)
            if row is None or row.status == NotificationStatus.SENT:
                return
            row.status = status
            row.last_error = error[:1000] if error else None
            if status == NotificationStatus.SENT:
                row.sent_at = datetime.now(UTC)
            session.commit()

    def all(self) -> list[Callable[..., Any]]:
        return [self.plan_notifications, self.send_notification, self.mark_notification_failed]
