"""Subscriptions: stakeholders' Apprise URLs per shipment. Data access, keyword-only."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, func, select

from app.core.addresses import DEFAULT_RULES, DestinationRules
from app.core.alert import KINDS
from app.core.audience import parse_audience
from app.core.privacy import privacy_form
from app.store.models import Subscription
from notifications.notifier import InvalidDestination, check_url


class InvalidSubscription(ValueError):
    """The URL or the kinds of a new subscription are not acceptable; the message says why."""


class TooManySubscriptions(InvalidSubscription):
    """The shipment has FLEXHOOK_MAX_SUBSCRIPTIONS_PER_SHIPMENT subscriptions already."""


def add_subscription(
    session: Session,
    *,
    shipment_id: str,
    url: str,
    kinds: list[str] | None,
    audience: str | None = None,
    follower: bool = False,
    rules: DestinationRules = DEFAULT_RULES,
    now: datetime,
) -> Subscription:
    """Validate with Apprise (and the host against `rules`' allowlist) and store; only the
    privacy form of the URL is ever shown. `audience`: `internal` (None: the default) or
    `external` (`app.core.audience`). `follower`: a confirmed follow by email (`app.store.
    follows`). `TooManySubscriptions` at the shipment's cap, which the team's subscriptions and
    the followers each have to themselves: strangers holding a share link cannot fill the team's."""
    try:
        reader = parse_audience(audience or "internal").value
    except ValueError as exc:
        raise InvalidSubscription(str(exc)) from None
    if kinds is not None:
        unknown = sorted(set(kinds) - set(KINDS))
        if unknown or not kinds:
            raise InvalidSubscription(
                f"unknown kinds {unknown}; choose from {list(KINDS)}"
                if unknown
                else "kinds is empty; leave it out for every kind"
            )
    try:
        destination = check_url(url, allowlist=rules.allowlist)
    except InvalidDestination as exc:
        raise InvalidSubscription(str(exc)) from None
    held = session.exec(
        select(func.count())
        .select_from(Subscription)
        .where(Subscription.shipment_id == shipment_id)
        .where(Subscription.follower == follower)
    ).one()
    if held >= rules.max_subscriptions_per_shipment:
        raise TooManySubscriptions(
            f"shipment {shipment_id} has {rules.max_subscriptions_per_shipment} "
            f"{'followers' if follower else 'subscriptions'} already "
            "(FLEXHOOK_MAX_SUBSCRIPTIONS_PER_SHIPMENT); remove one first"
        )
    subscription = Subscription(
        shipment_id=shipment_id,
        url=url,
        privacy_url=destination.privacy_url,
        kinds=sorted(set(kinds)) if kinds is not None else None,
        audience=reader,
        follower=follower,
        created_at=now,
    )
    session.add(subscription)
    session.flush()
    return subscription


def list_subscriptions(session: Session, *, shipment_id: str) -> list[Subscription]:
    statement = (
        select(Subscription)
        .where(Subscription.shipment_id == shipment_id)
        .order_by(col(Subscription.id))
    )
    return list(session.exec(statement).all())


def remove_subscription(session: Session, *, shipment_id: str, subscription_id: int) -> bool:
    subscription = session.get(Subscription, subscription_id)
    if subscription is None or subscription.shipment_id != shipment_id:
        return False
    session.delete(subscription)
    return True


def as_json(subscription: Subscription) -> dict[str, Any]:
    return {
        "id": str(subscription.id),
        "shipment_id": subscription.shipment_id,
        "url": privacy_form(subscription.privacy_url),  # rows stored before it was this strict
        "kinds": subscription.kinds,
        "audience": subscription.audience,
        "follower": subscription.follower,
        "created_at": subscription.created_at.isoformat(),
    }
