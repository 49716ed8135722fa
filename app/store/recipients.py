"""Recipients: stakeholders' Apprise URLs for alerts of any shipment, with delivery preferences.
Data access, keyword-only.

A recipient is one URL (one destination): adding the same URL twice is refused, so that one
mailbox has one set of preferences. Removing a recipient skips what was held for it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from app.core.addresses import DEFAULT_RULES, DestinationRules
from app.core.alert import KINDS
from app.core.audience import parse_audience
from app.core.preferences import InvalidPreferences, Preferences, parse_preferences
from app.core.privacy import privacy_form
from app.core.statuses import NotificationStatus
from app.store.models import Notification, Recipient, Shipment
from notifications.notifier import InvalidDestination, check_url

MAX_SHIPMENTS: Final = 500
# A shipment that departed and was not delivered yet is in transit, wherever it is.
IN_TRANSIT: Final = ("departed", "arrived", "customs_cleared", "out_for_delivery")
REMOVED: Final = "recipient removed before this was delivered"


class InvalidRecipient(ValueError):
    """The URL, kinds, shipments or preferences of a new recipient are not acceptable; the
    message says why."""


class RecipientExists(InvalidRecipient):
    """The URL is a recipient already."""


class TooManyRecipients(InvalidRecipient):
    """There are FLEXHOOK_MAX_RECIPIENTS recipients already."""


def _kinds(kinds: list[str] | None) -> list[str] | None:
    if kinds is None:
        return None
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        raise InvalidRecipient(f"unknown kinds {unknown}; choose from {list(KINDS)}")
    if not kinds:
        raise InvalidRecipient("kinds is empty; leave it out for every kind")
    return sorted(set(kinds))


def _shipments(shipments: list[str] | None) -> list[str] | None:
    if shipments is None:
        return None
    ids = sorted({s.strip() for s in shipments})
    if not ids or "" in ids:
        raise InvalidRecipient("shipments must be shipment ids; leave it out for every shipment")
    if len(ids) > MAX_SHIPMENTS or any(len(s) > 64 for s in ids):
        raise InvalidRecipient(f"shipments takes up to {MAX_SHIPMENTS} ids of up to 64 characters")
    return ids


def _audience(audience: str | None) -> str:
    try:
        return parse_audience(audience or "internal").value
    except ValueError as exc:
        raise InvalidRecipient(str(exc)) from None


def add_recipient(
    session: Session,
    *,
    url: str,
    kinds: list[str] | None = None,
    shipments: list[str] | None = None,
    delivery: str | None = None,
    digest_at: str | None = None,
    timezone: str | None = None,
    quiet_hours: str | None = None,
    audience: str | None = None,
    rules: DestinationRules = DEFAULT_RULES,
    now: datetime,
) -> Recipient:
    """Validate (Apprise must accept the URL, whose host may be internal only as `rules`
    allow) and store; only the privacy form of the URL is ever shown. `audience`: `internal`
    (None: the default) or `external` (`app.core.audience`). `InvalidRecipient` says
    what is wrong, `RecipientExists` if the URL is one, `TooManyRecipients` at the cap."""
    wanted_kinds, wanted_shipments = _kinds(kinds), _shipments(shipments)
    reader = _audience(audience)
    try:
        preferences = parse_preferences(
            delivery=delivery, digest_at=digest_at, timezone=timezone, quiet_hours=quiet_hours
        )
    except InvalidPreferences as exc:
        raise InvalidRecipient(str(exc)) from None
    try:
        destination = check_url(url, allowlist=rules.allowlist)
    except InvalidDestination as exc:
        raise InvalidRecipient(str(exc)) from None
    existing = recipient_by_destination(session, destination_id=destination.id)
    if existing is not None:
        raise RecipientExists(
            f"{destination.privacy_url} is recipient {existing.id} already; "
            "remove it first to change its preferences"
        )
    if count_recipients(session) >= rules.max_recipients:
        raise TooManyRecipients(
            f"there are {rules.max_recipients} recipients already (FLEXHOOK_MAX_RECIPIENTS); "
            "remove one first"
        )
    recipient = Recipient(
        destination_id=destination.id,
        url=url,
        privacy_url=destination.privacy_url,
        kinds=wanted_kinds,
        shipments=wanted_shipments,
        delivery=preferences.delivery,
        digest_at=preferences.digest_at,
        timezone=preferences.timezone,
        quiet_hours=preferences.quiet_hours,
        audience=reader,
        created_at=now,
    )
    session.add(recipient)
    try:
        session.flush()
    except IntegrityError:  # added by someone else meanwhile
        session.rollback()
        raise RecipientExists(f"{destination.privacy_url} is a recipient already") from None
    return recipient


def count_recipients(session: Session) -> int:
    return session.exec(select(func.count()).select_from(Recipient)).one()


def list_recipients(session: Session) -> list[Recipient]:
    return list(session.exec(select(Recipient).order_by(col(Recipient.id))).all())


def remove_recipient(session: Session, *, recipient_id: int, now: datetime) -> bool:
    """Remove the recipient and skip what was held for it; False if there is no such one."""
    recipient = session.get(Recipient, recipient_id)
    if recipient is None:
        return False
    held = session.exec(
        select(Notification)
        .where(Notification.destination_id == recipient.destination_id)
        .where(Notification.status == NotificationStatus.HELD)
    ).all()
    for row in held:
        row.status = NotificationStatus.SKIPPED
        row.last_error = REMOVED
    session.delete(recipient)
    return True


def recipient_by_destination(session: Session, *, destination_id: str) -> Recipient | None:
    return session.exec(select(Recipient).where(Recipient.destination_id == destination_id)).first()


def wants(recipient: Recipient, *, kind: str, shipment_id: str) -> bool:
    """Whether `recipient` wants alerts of `kind` about `shipment_id`."""
    return (recipient.kinds is None or kind in recipient.kinds) and (
        recipient.shipments is None or shipment_id in recipient.shipments
    )


def recipients_for(session: Session, *, kind: str, shipment_id: str) -> list[Recipient]:
    """The recipients who want alerts of `kind` about `shipment_id`."""
    return [
        recipient
        for recipient in list_recipients(session)
        if wants(recipient, kind=kind, shipment_id=shipment_id)
    ]


def preferences_of(recipient: Recipient) -> Preferences:
    """The stored preferences (validated when the recipient was added)."""
    return Preferences(
        delivery=recipient.delivery,
        digest_at=recipient.digest_at,
        timezone=recipient.timezone,
        quiet_hours=recipient.quiet_hours,
    )


def shipments_in_transit(
    session: Session, *, shipment_ids: list[str] | None, limit: int
) -> tuple[list[Shipment], int]:
    """Shipments that departed and were not delivered yet (of `shipment_ids`, or all), most
    recently updated first, at most `limit`; and how many there are in all."""
    statement = select(Shipment).where(col(Shipment.status).in_(IN_TRANSIT))
    if shipment_ids is not None:
        statement = statement.where(col(Shipment.id).in_(shipment_ids))
    rows = list(session.exec(statement.order_by(col(Shipment.updated_at).desc())).all())
    return rows[:limit], len(rows)


def as_json(recipient: Recipient) -> dict[str, Any]:
    return {
        "id": str(recipient.id),
        "url": privacy_form(recipient.privacy_url),  # rows stored before it was this strict
        "kinds": recipient.kinds,
        "shipments": recipient.shipments,
        "delivery": recipient.delivery,
        "digest_at": recipient.digest_at,
        "timezone": recipient.timezone,
        "quiet_hours": recipient.quiet_hours,
        "audience": recipient.audience,
        "created_at": recipient.created_at.isoformat(),
    }
