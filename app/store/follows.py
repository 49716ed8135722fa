"""Following a shipment by email: ask (rate limited, counted here so that every web process counts
the same requests), confirm (the request becomes an `external` subscription), unsubscribe.
Keyword-only functions over a caller's session; the caller commits. The rules (addresses,
tokens, limits, the follower's Apprise URL) are `app.core.follow`'s."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlmodel import Session, col, func, select

from app.core.addresses import DEFAULT_RULES, DestinationRules
from app.core.audience import Audience
from app.core.follow import (
    FOLLOW_KINDS,
    FollowLimits,
    follower_mail_url,
    looks_like_token,
    new_token,
    token_digest,
    unsubscribe_url,
)
from app.store.models import FollowRequest, Subscription
from app.store.subscriptions import TooManySubscriptions, add_subscription


class FollowState(StrEnum):
    PENDING = "pending"  # its confirmation link may still be used
    CONFIRMED = "confirmed"  # the address follows (confirmed now, or found by its unsubscribe link)
    USED = "used"  # its confirmation link was used before: it confirms nothing again
    EXPIRED = "expired"  # never confirmed in time
    FULL = "full"  # the shipment has as many subscriptions as it may


@dataclass(frozen=True)
class Asked:
    """What a request to follow came to. `token` is the confirmation link's, to be mailed; None:
    nothing is to be sent (rate limited, or the address follows the shipment already)."""

    token: str | None
    reason: str  # for the audit trail: "sent", "rate limited", "already following"


@dataclass(frozen=True)
class Found:
    """A follow request found by one of its tokens; None fields when there is none."""

    state: FollowState | None  # None: no such token (unknown or tampered)
    shipment_id: str | None = None
    email: str | None = None


def _recent(session: Session, *, column: object, value: str, since: datetime) -> int:
    count: int = session.exec(
        select(func.count())
        .select_from(FollowRequest)
        .where(column == value)
        .where(col(FollowRequest.created_at) >= since)
    ).one()
    return count


def _following(session: Session, *, shipment_id: str, email: str) -> bool:
    """Whether a confirmed request of `email` still has its subscription (an operator may have
    removed it through the API, and then the address may ask again)."""
    statement = (
        select(FollowRequest.id)
        .join(Subscription, col(Subscription.id) == col(FollowRequest.subscription_id))
        .where(FollowRequest.shipment_id == shipment_id, FollowRequest.email == email)
    )
    return session.exec(statement).first() is not None


def ask_to_follow(
    session: Session, *, shipment_id: str, email: str, limits: FollowLimits, now: datetime
) -> Asked:
    """Record a request of `email` (normalised) to follow `shipment_id` and answer its
    confirmation token, unless the address or the shipment has had its share of requests within
    `limits.window`, or the address follows the shipment already: then nothing is recorded and
    nothing is to be sent. Whoever asks is answered the same in every case."""
    since = now - limits.window
    address_count = _recent(session, column=FollowRequest.email, value=email, since=since)
    shipment_count = _recent(
        session, column=FollowRequest.shipment_id, value=shipment_id, since=since
    )
    if address_count >= limits.per_address or shipment_count >= limits.per_shipment:
        return Asked(token=None, reason="rate limited")
    if _following(session, shipment_id=shipment_id, email=email):
        return Asked(token=None, reason="already following")
    token = new_token()
    session.add(
        FollowRequest(
            shipment_id=shipment_id,
            email=email,
            digest=token_digest(token),
            created_at=now,
            expires_at=now + limits.confirm_within,
        )
    )
    session.flush()
    return Asked(token=token, reason="sent")


def _by_digest(session: Session, column: object, token: str) -> FollowRequest | None:
    if not looks_like_token(token):
        return None
    digest = token_digest(token)
    row = session.exec(select(FollowRequest).where(column == digest)).first()
    if row is None:
        return None
    kept = row.digest if column is FollowRequest.digest else row.unsubscribe_digest
    return row if kept is not None and hmac.compare_digest(kept, digest) else None


def _state(row: FollowRequest, now: datetime) -> FollowState:
    if row.confirmed_at is not None:
        return FollowState.USED
    return FollowState.PENDING if now < row.expires_at else FollowState.EXPIRED


def find_confirmation(session: Session, *, token: str, now: datetime) -> Found:
    """The request a confirmation token belongs to, and its state; changes nothing."""
    row = _by_digest(session, FollowRequest.digest, token)
    if row is None:
        return Found(state=None)
    return Found(state=_state(row, now), shipment_id=row.shipment_id, email=row.email)


def confirm_follow(
    session: Session,
    *,
    token: str,
    mail_url: str,
    public_url: str,
    rules: DestinationRules = DEFAULT_RULES,
    now: datetime,
) -> Found:
    """Use a confirmation token: a pending request becomes an `external` subscription of its
    own shipment to every kind of alert, mailed through `mail_url` with a one-click unsubscribe
    link of its own. A token confirms once; an expired, used or unknown one changes nothing.
    `FULL` when the shipment has its FLEXHOOK_MAX_SUBSCRIPTIONS_PER_SHIPMENT followers already."""
    row = _by_digest(session, FollowRequest.digest, token)
    if row is None:
        return Found(state=None)
    state = _state(row, now)
    if state is not FollowState.PENDING:
        return Found(state=state, shipment_id=row.shipment_id, email=row.email)
    leave = new_token()
    url = follower_mail_url(mail_url, row.email, unsubscribe=unsubscribe_url(public_url, leave))
    try:
        subscription = add_subscription(
            session,
            shipment_id=row.shipment_id,
            url=url,
            kinds=list(FOLLOW_KINDS),
            audience=Audience.EXTERNAL.value,
            follower=True,
            rules=rules,
            now=now,
        )
    except TooManySubscriptions:
        return Found(state=FollowState.FULL, shipment_id=row.shipment_id, email=row.email)
    row.confirmed_at = now
    row.subscription_id = subscription.id
    row.unsubscribe_digest = token_digest(leave)
    session.add(row)
    session.flush()
    return Found(state=FollowState.CONFIRMED, shipment_id=row.shipment_id, email=row.email)


def find_follower(session: Session, *, token: str) -> Found:
    """The confirmed request an unsubscribe token belongs to; changes nothing."""
    row = _by_digest(session, FollowRequest.unsubscribe_digest, token)
    if row is None:
        return Found(state=None)
    return Found(state=FollowState.CONFIRMED, shipment_id=row.shipment_id, email=row.email)


def unsubscribe(session: Session, *, token: str) -> tuple[Found, bool]:
    """Use an unsubscribe token: its subscription is deleted. Answers the request found (state
    None: unknown token) and whether a subscription was removed now (False the second time)."""
    row = _by_digest(session, FollowRequest.unsubscribe_digest, token)
    if row is None:
        return Found(state=None), False
    found = Found(state=FollowState.CONFIRMED, shipment_id=row.shipment_id, email=row.email)
    if row.subscription_id is None:
        return found, False
    subscription = session.get(Subscription, row.subscription_id)
    if subscription is not None:
        session.delete(subscription)
    row.subscription_id = None
    session.add(row)
    session.flush()
    return found, subscription is not None
