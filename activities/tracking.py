"""The tracking links alerts and digests carry: each shipment's one alerts link
(`app.store.shares.alert_share`), made on its first alert and audited as `share.create` by
`system`, then reused until it is revoked or expires."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session, col, select

from app.core.shares import ShareLifetime
from app.store import audit
from app.store.models import Shipment
from app.store.shares import alert_share

SYSTEM = "system"  # who makes the alerts' links, in the audit trail


@dataclass(frozen=True)
class TrackingLinks:
    """What makes the tracking links: the server key their tokens derive from
    (`Settings.share_link_key`) and how long they live (`Settings.share_lifetime`)."""

    key: bytes = field(repr=False)
    lifetime: ShareLifetime = field(default_factory=ShareLifetime)


def alert_link_tokens(
    session: Session, tracking: TrackingLinks, *, shipment_ids: Iterable[str], now: datetime
) -> dict[str, str]:
    """The alerts link's token of each of `shipment_ids` that has a row, made where it has none
    yet (the caller commits). The shipments' rows are locked first, in id order: two first
    alerts of one shipment then make one link between them (PostgreSQL; SQLite's writers queue
    anyway), and two digests never wait on each other crosswise."""
    wanted = sorted(set(shipment_ids))
    if not wanted:
        return {}
    known = session.exec(
        select(Shipment.id)
        .where(col(Shipment.id).in_(wanted))
        .order_by(col(Shipment.id))
        .with_for_update()
    ).all()
    tokens: dict[str, str] = {}
    for shipment_id in known:
        token, made = alert_share(
            session, shipment_id=shipment_id, key=tracking.key, lifetime=tracking.lifetime, now=now
        )
        if made:
            audit.append(
                session,
                at=now,
                actor=SYSTEM,
                action="share.create",
                target=f"shipment {shipment_id}: alerts link",
            )
        tokens[shipment_id] = token
    return tokens
