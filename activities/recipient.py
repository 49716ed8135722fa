"""Activities of `RecipientWorkflow`: what is due for a destination whose alerts wait, and the
daily digest.

Held alerts are ledger rows with status `held`. The workflow wakes on its own timers (the end of
quiet hours, the digest time) and asks `wake_recipient` what is due: held rows whose wait is over
come back as deliveries, oldest first, for `send_notification`. `send_digest` sends the digest of
one local date once: its own ledger row, `digest:<destination id>:<date>`, makes "once" true
across retries, restarts and replays, as the alert rows do for alerts.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.delivery import TIMED_OUT_OUTCOME, UNKNOWN_OUTCOME, stored_audience
from activities.digest import DIGEST_KIND, DigestSender, open_exceptions
from activities.recipient_types import (
    DigestFailure,
    DigestInput,
    RecipientWake,
    WakeInput,
)
from activities.tracking import TrackingLinks, alert_link_tokens
from activities.types import Delivery
from app.core.alert import KINDS, Alert
from app.core.digest import Digest, InTransit, compose_digest
from app.core.preferences import Preferences, next_release
from app.core.schedule import is_quiet, last_digest, next_digest
from app.core.statuses import NotificationStatus
from app.store.models import EventRecord, Notification
from app.store.recipients import (
    preferences_of,
    recipient_by_destination,
    shipments_in_transit,
)
from notifications.destinations import NotifyConfig, stored_destination
from notifications.notifier import DeliveryFailed, Destination, InvalidDestination, SendTimedOut

log = logging.getLogger(__name__)

IN_TRANSIT_LIMIT: Final = 50
NOT_IN_LOG: Final = "the alert is no longer in the event log"
GONE: Final = "destination no longer configured"

Status = NotificationStatus


def digest_key(digest: DigestInput) -> str:
    return f"digest:{digest.destination_id}:{digest.local_date}"


class RecipientActivities:
    """Sync activities over an injected engine, Apprise configuration and digest sender."""

    def __init__(
        self,
        engine: Engine,
        *,
        config: NotifyConfig,
        digests: DigestSender,
        tracking: TrackingLinks | None = None,
    ) -> None:
        """`tracking`: what makes the shipments' tracking links a digest lists; None (or a
        digest sender without a public URL): none."""
        self._engine = engine
        self._config = config
        self._digests = digests
        self._tracking = tracking

    # -- who the destination is --------------------------------------------------------------

    def _lookup(
        self, session: Session, destination_id: str
    ) -> tuple[Destination | None, Preferences | None, list[str] | None]:
        """The destination, its preferences and the shipments it follows (None: all)."""
        recipient = recipient_by_destination(session, destination_id=destination_id)
        if recipient is not None:
            try:
                destination: Destination | None = dataclasses.replace(
                    stored_destination(recipient.url), audience=stored_audience(recipient.audience)
                )
            except InvalidDestination:
                destination = None
            return destination, preferences_of(recipient), recipient.shipments
        found = self._config.find(destination_id)
        if found is None:
            return None, None, None
        return found, self._config.preferences_for(found.tags), _followed(found.tags)

    # -- held rows -------------------------------------------------------------------------------

    def _held(
        self, session: Session, destination_id: str, *, released_by: str | None = None
    ) -> list[Notification]:
        """Held rows, oldest first; with `released_by`, also the rows that workflow released
        before (its activity retried after the commit)."""
        waiting = col(Notification.status) == Status.HELD
        if released_by is not None:
            waiting = waiting | (
                (col(Notification.status) == Status.PENDING)
                & (col(Notification.claimed_by) == released_by)
            )
        statement = (
            select(Notification)
            .where(Notification.destination_id == destination_id)
            .where(waiting)
            .order_by(col(Notification.created_at), col(Notification.id))
            .with_for_update()
        )
        return list(session.exec(statement).all())

    @staticmethod
    def _held_before(session: Session, destination_id: str, moment: datetime) -> bool:
        statement = (
            select(Notification.id)
            .where(Notification.destination_id == destination_id)
            .where(Notification.status == Status.HELD)
            .where(Notification.created_at < moment)
        )
        return session.exec(statement).first() is not None

    def _alerts(
        self, session: Session, rows: list[Notification]
    ) -> list[tuple[Notification, Alert]]:
        """Each row with its alert: the row's own copy, or (rows held before it kept one) read back
        from the event log; rows without either are skipped."""
        found: list[tuple[Notification, Alert]] = []
        decided: dict[str, list[Alert]] = {}
        for row in rows:
            if row.alert is not None:
                found.append((row, Alert(**row.alert)))
                continue
            if row.event_id not in decided:
                event = session.get(EventRecord, row.event_id)
                decided[row.event_id] = [Alert(**a) for a in (event.alerts if event else [])]
            alert = next((a for a in decided[row.event_id] if a.dedup_key == row.dedup_key), None)
            if alert is None:
                row.status, row.last_error = Status.SKIPPED, NOT_IN_LOG
                continue
            found.append((row, alert))
        return found

    def _release(self, session: Session, destination_id: str) -> list[Delivery]:
        claimant = activity.info().workflow_id
        deliveries = []
        held = self._held(session, destination_id, released_by=claimant)
        for row, alert in self._alerts(session, held):
            row.status, row.claimed_by = Status.PENDING, claimant
            deliveries.append(Delivery(alert=alert, destination_id=destination_id))
        return deliveries

    # -- activities --------------------------------------------------------------------------------

    @activity.defn(name="wake_recipient", no_thread_cancel_exception=True)
    def wake_recipient(self, input: WakeInput) -> RecipientWake:
        """What is due for the destination now, and when to look again: held alerts once quiet
        hours are over (all of them once nothing waits for it any more); or the latest digest
        that fell due, if alerts held before it wait (its ledger row keeps it to one)."""
        now = datetime.now(UTC)
        with Session(self._engine) as session:
            _destination, preferences, _shipments = self._lookup(session, input.destination_id)
            if preferences is None or not preferences.holds:
                releases = self._release(session, input.destination_id)
                session.commit()
                return RecipientWake(releases, None, None)
            zone = preferences.zone
            clock, quiet = preferences.digest_clock, preferences.quiet
            if clock is not None:
                latest = last_digest(now, clock, zone)
                waiting = self._held_before(session, input.destination_id, latest.due)
                return RecipientWake(
                    [],
                    latest.local_date.isoformat() if waiting else None,
                    next_digest(now, clock, zone).due.isoformat(),
                )
            assert quiet is not None
            releases = (
                [] if is_quiet(now, quiet, zone) else self._release(session, input.destination_id)
            )
            session.commit()
            return RecipientWake(releases, None, next_release(quiet, zone, now=now).isoformat())

    @activity.defn(name="send_digest", no_thread_cancel_exception=True)
    def send_digest(self, input: DigestInput) -> str:
        """Send the digest of `input.local_date` once: `sent`, `empty` (nothing happened, nothing
        sent), or what the ledger says of an earlier attempt."""
        claimant = activity.info().workflow_id
        key = digest_key(input)
        now = datetime.now(UTC)
        tokens = self._tracking_tokens(input.destination_id, now=now)
        with Session(self._engine) as session:
            row = self._digest_row(session, input)
            if row is not None and row.status in (Status.SENT, Status.SKIPPED, Status.FAILED):
                return row.status
            if row is not None and row.status == Status.SENDING:
                if row.claimed_by != claimant:
                    return Status.SENDING
                # Our earlier attempt died while sending: it may have gone out. Never twice.
                self._settle(session, row, key, status=Status.FAILED, error=UNKNOWN_OUTCOME)
                session.commit()
                return Status.FAILED
            destination, preferences, shipments = self._lookup(session, input.destination_id)
            held = self._alerts(session, self._held(session, input.destination_id))
            if not held:
                session.commit()
                return "empty"
            if destination is None:
                for included, _alert in held:
                    included.status, included.last_error = Status.SKIPPED, GONE
                session.commit()
                return Status.SKIPPED
            digest = self._compose(session, input, preferences, shipments, [a for _r, a in held])
            if row is None:
                row = Notification(
                    dedup_key=key,
                    destination_id=input.destination_id,
                    destination=destination.privacy_url,
                    kind=DIGEST_KIND,
                    event_id=key,
                    shipment_id="",
                    created_at=now,
                )
                session.add(row)
            row.status, row.claimed_by, row.attempts = Status.SENDING, claimant, row.attempts + 1
            for included, _alert in held:
                included.status, included.claimed_by = Status.SENDING, key
            session.commit()

        try:
            self._digests.send(destination, digest, tokens=tokens)
        except InvalidDestination as exc:
            self._finish(input, status=Status.FAILED, error=str(exc))
            raise ApplicationError(
                str(exc), type="InvalidDestination", non_retryable=True
            ) from None
        except SendTimedOut as exc:  # it may still arrive: never twice
            error = f"{TIMED_OUT_OUTCOME} ({exc})"[:1000]
            self._finish(input, status=Status.FAILED, error=error)
            raise ApplicationError(error, type="SendTimedOut", non_retryable=True) from None
        except DeliveryFailed as exc:
            self._finish(input, status=Status.PENDING, error=str(exc))  # known unsent: retry
            raise
        self._finish(input, status=Status.SENT, error=None)
        log.info(
            "sent the digest of %s (%d alerts) to %s",
            input.local_date,
            digest.count,
            destination.privacy_url,
        )
        return Status.SENT

    def _tracking_tokens(self, destination_id: str, *, now: datetime) -> dict[str, str]:
        """The alerts link's token of each shipment the destination's held alerts are about
        (made where there is none yet). Its own transaction, before the digest is claimed."""
        tracking = self._tracking
        if tracking is None or not self._digests.links_tracking_pages:
            return {}
        with Session(self._engine) as session:
            shipment_ids = session.exec(
                select(Notification.shipment_id)
                .where(Notification.destination_id == destination_id)
                .where(Notification.status == Status.HELD)
            ).all()
            tokens = alert_link_tokens(session, tracking, shipment_ids=shipment_ids, now=now)
            session.commit()
        return tokens

    @activity.defn(name="mark_digest_failed", no_thread_cancel_exception=True)
    def mark_digest_failed(self, failure: DigestFailure) -> None:
        """The digest's retries ran out: failed in the ledger. Alerts that waited for it wait
        for the next one (those an attempt that died while sending carried fail with it)."""
        self._finish(failure.digest, status=Status.FAILED, error=failure.error)

    def waiting_destinations(self) -> list[str]:
        """Destinations with held alerts, whose workflows the worker makes sure run."""
        with Session(self._engine) as session:
            statement = (
                select(Notification.destination_id)
                .where(Notification.status == Status.HELD)
                .distinct()
            )
            return sorted(session.exec(statement).all())

    def all(self) -> list[Callable[..., Any]]:
        return [self.wake_recipient, self.send_digest, self.mark_digest_failed]

    # -- the digest's ledger ---------------------------------------------------------------------

    @staticmethod
    def _digest_row(session: Session, input: DigestInput) -> Notification | None:
        statement = (
            select(Notification)
            .where(Notification.dedup_key == digest_key(input))
            .where(Notification.destination_id == input.destination_id)
            .with_for_update()
        )
        return session.exec(statement).first()

    def _compose(
        self,
        session: Session,
        input: DigestInput,
        preferences: Preferences | None,
        shipments: list[str] | None,
        alerts: list[Alert],
    ) -> Digest:
        previous = session.exec(
            select(Notification)
            .where(Notification.destination_id == input.destination_id)
            .where(Notification.kind == DIGEST_KIND)
            .where(Notification.status == Status.SENT)
            .order_by(col(Notification.sent_at).desc())
        ).first()
        rows, total = shipments_in_transit(session, shipment_ids=shipments, limit=IN_TRANSIT_LIMIT)
        in_transit = [
            InTransit(
                shipment_id=s.id,
                shipment_name=s.name,
                status=s.status or "",
                place_name=s.location_name,
                place_country=s.location_country,
                place_timezone=s.location_timezone,
                estimated_arrival=s.estimated_arrival.isoformat() if s.estimated_arrival else None,
                status_at=s.status_at.isoformat() if s.status_at else None,
            )
            for s in rows
        ]
        problems, open_total = open_exceptions(
            session, shipment_ids=shipments, now=datetime.now(UTC)
        )
        return compose_digest(
            alerts,
            local_date=input.local_date,
            timezone=preferences.timezone if preferences else "UTC",
            since=previous.sent_at.isoformat() if previous and previous.sent_at else None,
            in_transit=in_transit,
            total_in_transit=total,
            open_exceptions=problems,
            total_open_exceptions=open_total,
        )

    @staticmethod
    def _settle(
        session: Session, row: Notification, key: str, *, status: str, error: str | None
    ) -> None:
        """Give the digest row and the alerts it carries their outcome: sent with it; back to
        waiting for a digest to be tried again; failed with a failed one (one that may have gone
        out must not go out twice)."""
        row.status = status
        row.last_error = error[:1000] if error else None
        if status == Status.SENT:
            row.sent_at = datetime.now(UTC)
        carried = session.exec(
            select(Notification)
            .where(Notification.destination_id == row.destination_id)
            .where(Notification.status == Status.SENDING)
            .where(Notification.claimed_by == key)
        ).all()
        for included in carried:
            if status == Status.PENDING:
                included.status, included.claimed_by = Status.HELD, None
            else:
                included.status, included.last_error = status, row.last_error
                included.sent_at = row.sent_at

    def _finish(self, input: DigestInput, *, status: str, error: str | None) -> None:
        with Session(self._engine) as session:
            row = self._digest_row(session, input)
            if row is None or row.status == Status.SENT:
                return
            self._settle(session, row, digest_key(input), status=status, error=error)
            session.commit()


def _followed(tags: frozenset[str]) -> list[str] | None:
    """The shipments a configured URL follows: those of its `shipment-<id>` tags when it has no
    kind (or `always`) tag, else every shipment."""
    if tags & {*KINDS, "always"}:
        return None
    ids = sorted(tag.removeprefix("shipment-") for tag in tags if tag.startswith("shipment-"))
    return ids or None
