"""Share links: 256-bit tokens of which only a hash is kept, lifetimes bounded by a cap, revoked
links that stay revoked, and the one alerts link per shipment re-derived rather than stored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from app.core.shares import (
    ShareLifetime,
    ShareState,
    alert_share_token,
    effective_expiry,
    looks_like_token,
    new_share_token,
    renewed_expiry,
    share_digest,
    share_key,
)
from app.store import db, shares
from app.store.models import Share, Shipment

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
LIFETIME = ShareLifetime()
DAY = timedelta(days=1)


@pytest.fixture
def session(cli_database: str) -> Session:
    return Session(db.create_db_engine(cli_database))


def test_a_token_is_256_random_bits_and_only_its_digest_is_kept(session: Session) -> None:
    view, token = shares.create_share(
        session, shipment_id="FLEX-1", created_by="ana", lifetime=LIFETIME, now=NOW
    )

    assert looks_like_token(token) and token != new_share_token()
    [row] = session.exec(select(Share)).all()
    assert row.digest == share_digest(token) and token not in row.model_dump_json()
    assert (view.state, view.expires_at) == (ShareState.ACTIVE, NOW + 90 * DAY)


def test_an_unknown_or_tampered_token_opens_nothing_and_a_revoked_one_says_revoked(
    session: Session,
) -> None:
    view, token = shares.create_share(
        session, shipment_id="FLEX-1", created_by="ana", lifetime=LIFETIME, now=NOW
    )
    tampered = ("A" if token[0] != "A" else "B") + token[1:]

    opened = shares.open_share(session, token=token, lifetime=LIFETIME, now=NOW)
    assert (opened.state, opened.shipment_id) == (ShareState.ACTIVE, "FLEX-1")
    assert shares.open_share(session, token=tampered, lifetime=LIFETIME, now=NOW).state is None
    assert shares.open_share(session, token="x" * 500, lifetime=LIFETIME, now=NOW).state is None

    shares.revoke_share(
        session,
        shipment_id="FLEX-1",
        share_id=view.id,
        revoked_by="ana",
        lifetime=LIFETIME,
        now=NOW,
    )
    revoked = shares.open_share(session, token=token, lifetime=LIFETIME, now=NOW + DAY)
    assert revoked.state is ShareState.REVOKED
    [listed] = shares.list_shares(session, shipment_id="FLEX-1", lifetime=LIFETIME, now=NOW)
    assert (listed.views, listed.last_viewed_at, listed.revoked_by) == (1, NOW, "ana")


def test_a_link_to_another_shipment_cannot_be_revoked_through_this_one(session: Session) -> None:
    view, _ = shares.create_share(
        session, shipment_id="FLEX-1", created_by="ana", lifetime=LIFETIME, now=NOW
    )

    with pytest.raises(shares.ShareNotFound):
        shares.revoke_share(
            session,
            shipment_id="FLEX-2",
            share_id=view.id,
            revoked_by="mallory",
            lifetime=LIFETIME,
            now=NOW,
        )


def test_delivery_moves_the_expiry_to_30_days_after_it_and_nothing_passes_the_cap() -> None:
    created = NOW
    undelivered = effective_expiry(
        created_at=created, expires_at=created + 90 * DAY, delivered_at=None, lifetime=LIFETIME
    )
    delivered = effective_expiry(
        created_at=created,
        expires_at=created + 90 * DAY,
        delivered_at=created + 10 * DAY,
        lifetime=LIFETIME,
    )
    delivered_late = effective_expiry(
        created_at=created,
        expires_at=created + 90 * DAY,
        delivered_at=created + 360 * DAY,
        lifetime=LIFETIME,
    )

    assert undelivered == created + 90 * DAY
    assert delivered == created + 40 * DAY
    assert delivered_late == created + 365 * DAY
    assert renewed_expiry(created, created + 300 * DAY, LIFETIME) == created + 365 * DAY


def test_an_expired_link_says_expired_and_renewing_stops_at_the_cap(session: Session) -> None:
    view, token = shares.create_share(
        session, shipment_id="FLEX-1", created_by="ana", lifetime=LIFETIME, now=NOW
    )
    session.add(Shipment(id="FLEX-1", delivered_at=NOW + DAY))

    expired = shares.open_share(session, token=token, lifetime=LIFETIME, now=NOW + 31 * DAY)
    renewed = shares.renew_share(
        session, shipment_id="FLEX-1", share_id=view.id, lifetime=LIFETIME, now=NOW + 364 * DAY
    )

    assert expired.state is ShareState.EXPIRED
    assert renewed.expires_at == NOW + 31 * DAY  # delivered: the delivery's clock decides


def test_alerts_reuse_one_link_whose_token_is_derived_not_stored(session: Session) -> None:
    key = share_key("webhook-secret")

    first, made = shares.alert_share(
        session, shipment_id="FLEX-1", key=key, lifetime=LIFETIME, now=NOW
    )
    again, made_again = shares.alert_share(
        session, shipment_id="FLEX-1", key=key, lifetime=LIFETIME, now=NOW + DAY
    )

    assert (made, made_again) == (True, False) and first == again and looks_like_token(first)
    [row] = session.exec(select(Share)).all()
    assert first not in row.model_dump_json()
    assert row.nonce is not None and alert_share_token(key, row.nonce) == first


def test_a_changed_key_makes_a_new_alerts_link_and_the_old_one_still_opens(
    session: Session,
) -> None:
    old, _ = shares.alert_share(
        session, shipment_id="FLEX-1", key=share_key("old-secret"), lifetime=LIFETIME, now=NOW
    )

    new, made = shares.alert_share(
        session, shipment_id="FLEX-1", key=share_key("new-secret"), lifetime=LIFETIME, now=NOW
    )

    assert made and new != old
    for token in (old, new):
        opened = shares.open_share(session, token=token, lifetime=LIFETIME, now=NOW)
        assert opened.state is ShareState.ACTIVE


def test_a_revoked_alerts_link_is_replaced_on_the_next_alert(session: Session) -> None:
    key = share_key("webhook-secret")
    first, _ = shares.alert_share(
        session, shipment_id="FLEX-1", key=key, lifetime=LIFETIME, now=NOW
    )
    [view] = shares.list_shares(session, shipment_id="FLEX-1", lifetime=LIFETIME, now=NOW)
    shares.revoke_share(
        session,
        shipment_id="FLEX-1",
        share_id=view.id,
        revoked_by="ana",
        lifetime=LIFETIME,
        now=NOW,
    )

    second, made = shares.alert_share(
        session, shipment_id="FLEX-1", key=key, lifetime=LIFETIME, now=NOW
    )

    assert made and second != first


def test_two_sends_racing_to_make_the_first_alerts_link_end_with_one(cli_database: str) -> None:
    key = share_key("webhook-secret")
    engine = db.create_db_engine(cli_database)
    with Session(engine) as first, Session(engine) as second:
        token, made = shares.alert_share(
            first, shipment_id="FLEX-1", key=key, lifetime=LIFETIME, now=NOW
        )
        first.commit()
        # The second session looked before the first committed: it tries to insert too.
        raced = Share(
            digest="0" * 64,
            shipment_id="FLEX-1",
            purpose="alerts",
            nonce="00",
            created_by="system",
            created_at=NOW,
            expires_at=NOW + DAY,
        )
        second.add(raced)
        with pytest.raises(IntegrityError):
            second.commit()
        second.rollback()
        again, made_again = shares.alert_share(
            second, shipment_id="FLEX-1", key=key, lifetime=LIFETIME, now=NOW
        )

    assert (made, made_again) == (True, False) and again == token


def test_an_expired_alerts_link_is_retired_and_still_answers_expired(session: Session) -> None:
    key = share_key("webhook-secret")
    old, _ = shares.alert_share(session, shipment_id="FLEX-1", key=key, lifetime=LIFETIME, now=NOW)

    later = NOW + 91 * DAY
    new, made = shares.alert_share(
        session, shipment_id="FLEX-1", key=key, lifetime=LIFETIME, now=later
    )

    assert made and new != old
    assert shares.open_share(session, token=old, lifetime=LIFETIME, now=later).state is (
        ShareState.EXPIRED
    )
    assert shares.open_share(session, token=new, lifetime=LIFETIME, now=later).state is (
        ShareState.ACTIVE
    )
