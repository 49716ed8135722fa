"""Share links: create (the token is answered once), list, revoke, renew, open by token, and the
one link per shipment that alerts carry. Keyword-only functions over a caller's session; the
caller commits. The rules (tokens, digests, lifetimes) are `app.core.shares`'."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.core.shares import (
    ShareLifetime,
    SharePurpose,
    ShareState,
    alert_share_token,
    effective_expiry,
    first_expiry,
    looks_like_token,
    new_nonce,
    new_share_token,
    renewed_expiry,
    share_digest,
    share_state,
)
from app.store.models import Share, Shipment


class ShareNotFound(LookupError):
    """No such link to that shipment."""


class ShipmentNotFound(LookupError):
    """Links are made to recorded shipments only."""


class TooManyShares(Exception):
    """The shipment has as many active links as a person may make (the alerts' link aside)."""


@dataclass(frozen=True)
class ShareView:
    """A link as its lists show it: never its token or digest."""

    id: int
    shipment_id: str
    purpose: str
    created_by: str
    created_at: datetime
    expires_at: datetime  # effective: after delivery, the delivery's clock
    revoked_at: datetime | None
    revoked_by: str | None
    views: int
    last_viewed_at: datetime | None
    state: ShareState

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "shipment_id": self.shipment_id,
            "purpose": self.purpose,
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
            "revoked_by": self.revoked_by,
            "views": self.views,
            "last_viewed_at": self.last_viewed_at.isoformat() if self.last_viewed_at else None,
            "state": self.state.value,
        }


@dataclass(frozen=True)
class Opened:
    """What a presented token opened: the link's state and, when active, its shipment."""

    state: ShareState | None  # None: no such link (unknown or tampered)
    shipment_id: str | None = None
    share_id: int | None = None


def audit_target(shipment_id: str, share_id: int) -> str:
    """How the audit trail names a link: by its shipment and id, never its token."""
    return f"shipment {shipment_id} link {share_id}"


def _delivered_at(session: Session, shipment_id: str) -> datetime | None:
    return session.exec(select(Shipment.delivered_at).where(Shipment.id == shipment_id)).first()


def _view(
    row: Share, *, delivered_at: datetime | None, lifetime: ShareLifetime, now: datetime
) -> ShareView:
    expires = effective_expiry(
        created_at=row.created_at,
        expires_at=row.expires_at,
        delivered_at=delivered_at,
        lifetime=lifetime,
    )
    assert row.id is not None
    return ShareView(
        id=row.id,
        shipment_id=row.shipment_id,
        purpose=row.purpose,
        created_by=row.created_by,
        created_at=row.created_at,
        expires_at=expires,
        revoked_at=row.revoked_at,
        revoked_by=row.revoked_by,
        views=row.views,
        last_viewed_at=row.last_viewed_at,
        state=share_state(revoked_at=row.revoked_at, expires=expires, now=now),
    )


def create_share(
    session: Session,
    *,
    shipment_id: str,
    created_by: str,
    lifetime: ShareLifetime,
    now: datetime,
) -> tuple[ShareView, str]:
    """A new link to the shipment; returns it and its token, which nothing keeps."""
    token = new_share_token()
    row = Share(
        digest=share_digest(token),
        shipment_id=shipment_id,
        purpose=SharePurpose.LINK.value,
        created_by=created_by,
        created_at=now,
        expires_at=first_expiry(now, lifetime),
    )
    session.add(row)
    session.flush()
    delivered_at = _delivered_at(session, shipment_id)
    return _view(row, delivered_at=delivered_at, lifetime=lifetime, now=now), token


def create_link(
    session: Session,
    *,
    shipment_id: str,
    created_by: str,
    lifetime: ShareLifetime,
    max_active: int,
    now: datetime,
) -> tuple[ShareView, str]:
    """`create_share` for a person: `ShipmentNotFound` for a shipment that is not recorded,
    `TooManyShares` when it has `max_active` active links of that purpose already."""
    if not shipment_known(session, shipment_id=shipment_id):
        raise ShipmentNotFound(f"no shipment {shipment_id}")
    held = list_shares(session, shipment_id=shipment_id, lifetime=lifetime, now=now)
    active = [v for v in held if v.purpose == SharePurpose.LINK and v.state is ShareState.ACTIVE]
    if len(active) >= max_active:
        raise TooManyShares(
            f"shipment {shipment_id} has {max_active} active share links already "
            "(FLEXHOOK_MAX_SHARES_PER_SHIPMENT); revoke one first"
        )
    return create_share(
        session, shipment_id=shipment_id, created_by=created_by, lifetime=lifetime, now=now
    )


def list_shares(
    session: Session, *, shipment_id: str, lifetime: ShareLifetime, now: datetime
) -> list[ShareView]:
    """The shipment's links, newest first, revoked and expired ones included."""
    rows = session.exec(
        select(Share).where(Share.shipment_id == shipment_id).order_by(col(Share.id).desc())
    ).all()
    delivered_at = _delivered_at(session, shipment_id)
    return [_view(row, delivered_at=delivered_at, lifetime=lifetime, now=now) for row in rows]


def _own_row(session: Session, *, shipment_id: str, share_id: int) -> Share:
    row = session.get(Share, share_id)
    if row is None or row.shipment_id != shipment_id:
        raise ShareNotFound(f"no link {share_id} to shipment {shipment_id}")
    return row


def revoke_share(
    session: Session,
    *,
    shipment_id: str,
    share_id: int,
    revoked_by: str,
    lifetime: ShareLifetime,
    now: datetime,
) -> ShareView:
    """Revoke a link for good (revoking twice keeps the first time)."""
    row = _own_row(session, shipment_id=shipment_id, share_id=share_id)
    if row.revoked_at is None:
        row.revoked_at, row.revoked_by = now, revoked_by[:64]
        session.add(row)
    delivered_at = _delivered_at(session, shipment_id)
    return _view(row, delivered_at=delivered_at, lifetime=lifetime, now=now)


def renew_share(
    session: Session,
    *,
    shipment_id: str,
    share_id: int,
    lifetime: ShareLifetime,
    now: datetime,
) -> ShareView:
    """Push an unrevoked link's expiry to `expiry` from now, never past its cap."""
    row = _own_row(session, shipment_id=shipment_id, share_id=share_id)
    if row.revoked_at is None:
        row.expires_at = max(row.expires_at, renewed_expiry(row.created_at, now, lifetime))
        session.add(row)
    delivered_at = _delivered_at(session, shipment_id)
    return _view(row, delivered_at=delivered_at, lifetime=lifetime, now=now)


def open_share(session: Session, *, token: str, lifetime: ShareLifetime, now: datetime) -> Opened:
    """The link a presented token opens; an active one counts the view. The lookup is by digest
    (a unique index), so it takes as long for a right token as for a wrong one."""
    if not looks_like_token(token):
        return Opened(state=None)
    digest = share_digest(token)
    row = session.exec(select(Share).where(Share.digest == digest)).first()
    if row is None or not hmac.compare_digest(row.digest, digest):
        return Opened(state=None)
    view = _view(
        row, delivered_at=_delivered_at(session, row.shipment_id), lifetime=lifetime, now=now
    )
    if view.state is ShareState.ACTIVE:
        session.execute(
            sa.update(Share)
            .where(col(Share.id) == row.id)
            .values(views=col(Share.views) + 1, last_viewed_at=now)
        )
    return Opened(state=view.state, shipment_id=row.shipment_id, share_id=row.id)


def _current_alerts_row(session: Session, shipment_id: str) -> Share | None:
    return session.exec(
        select(Share).where(
            Share.shipment_id == shipment_id,
            Share.purpose == SharePurpose.ALERTS.value,
            col(Share.nonce).is_not(None),
            col(Share.revoked_at).is_(None),
        )
    ).first()


def _reusable_token(
    row: Share, *, key: bytes, delivered_at: datetime | None, lifetime: ShareLifetime, now: datetime
) -> str | None:
    """The row's token when it is active and `key` re-derives it; else None."""
    view = _view(row, delivered_at=delivered_at, lifetime=lifetime, now=now)
    if view.state is not ShareState.ACTIVE or row.nonce is None:
        return None
    token = alert_share_token(key, row.nonce)
    return token if hmac.compare_digest(share_digest(token), row.digest) else None


def alert_share(
    session: Session,
    *,
    shipment_id: str,
    key: bytes,
    lifetime: ShareLifetime,
    now: datetime,
) -> tuple[str, bool]:
    """The token of the shipment's alerts link, and whether it was made now.

    The current alerts link (one per shipment: a partial unique index) is reused while it is
    active and `key` re-derives it. Otherwise it is retired (its nonce dropped: it still opens
    until it expires or is revoked, for the alerts already sent) and a new one is made. Two
    sends racing to make the first link: one insert wins, the other reuses it."""
    delivered_at = _delivered_at(session, shipment_id)
    current = _current_alerts_row(session, shipment_id)
    if current is not None:
        token = _reusable_token(
            current, key=key, delivered_at=delivered_at, lifetime=lifetime, now=now
        )
        if token is not None:
            return token, False
        current.nonce = None
        session.add(current)
        session.flush()
    nonce = new_nonce()
    token = alert_share_token(key, nonce)
    try:
        with session.begin_nested():
            session.add(
                Share(
                    digest=share_digest(token),
                    shipment_id=shipment_id,
                    purpose=SharePurpose.ALERTS.value,
                    nonce=nonce,
                    created_by="system",
                    created_at=now,
                    expires_at=first_expiry(now, lifetime),
                )
            )
    except IntegrityError:
        winner = _current_alerts_row(session, shipment_id)
        won = winner and _reusable_token(
            winner, key=key, delivered_at=delivered_at, lifetime=lifetime, now=now
        )
        if not won:
            raise
        return won, False
    return token, True


def shipment_known(session: Session, *, shipment_id: str) -> bool:
    """Whether the shipment is recorded: links are made to known shipments only."""
    found = session.exec(select(Shipment.id).where(Shipment.id == shipment_id)).first()
    return found is not None


class ShareNotRenewed(Exception):
    """Renewing would not make the link last longer: it is revoked, or its shipment is
    delivered (it ends `after_delivery` after the delivery), or it is at its cap."""

    def __init__(self, view: ShareView) -> None:
        super().__init__(f"link {view.id} ({view.state}) cannot be renewed")
        self.view = view


def extend_share(
    session: Session,
    *,
    shipment_id: str,
    share_id: int,
    lifetime: ShareLifetime,
    now: datetime,
) -> ShareView:
    """`renew_share`, for a person's renewal: `ShareNotRenewed` when it would not push the
    link's effective expiry later (the caller's transaction then changes nothing)."""
    row = _own_row(session, shipment_id=shipment_id, share_id=share_id)
    delivered_at = _delivered_at(session, shipment_id)
    before = _view(row, delivered_at=delivered_at, lifetime=lifetime, now=now)
    after = renew_share(
        session, shipment_id=shipment_id, share_id=share_id, lifetime=lifetime, now=now
    )
    if before.state is ShareState.REVOKED or after.expires_at <= before.expires_at:
        raise ShareNotRenewed(after)
    return after
