"""Share links as people make and renew them (`app.store.shares.create_link`, `extend_share`):
only to a recorded shipment and up to a number of active links; a renewal makes an active link
last longer, and is refused, changing nothing, when it would not (revoked, the shipment
delivered, the link at its cap). And the web process gets the share settings it serves with."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from app.bootstrap import web_config
from app.core.shares import ShareLifetime, ShareState
from app.settings import load_settings
from app.store import db, shares
from app.store.models import Share, Shipment

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)
LIFETIME = ShareLifetime()


@pytest.fixture
def session(cli_database: str) -> Session:
    made = Session(db.create_db_engine(cli_database))
    made.add(Shipment(id="FLEX-1"))
    made.add(Shipment(id="FLEX-2", delivered_at=NOW - DAY))
    made.commit()
    return made


def make(session: Session, shipment_id: str = "FLEX-1") -> int:
    view, _ = shares.create_share(
        session, shipment_id=shipment_id, created_by="ana", lifetime=LIFETIME, now=NOW
    )
    session.commit()
    return view.id


def extend(session: Session, share_id: int, *, shipment_id: str = "FLEX-1", at: datetime) -> None:
    shares.extend_share(
        session, shipment_id=shipment_id, share_id=share_id, lifetime=LIFETIME, now=at
    )


def test_a_link_is_made_to_a_recorded_shipment_only(session: Session) -> None:
    with pytest.raises(shares.ShipmentNotFound):
        shares.create_link(
            session,
            shipment_id="FLEX-404",
            created_by="ana",
            lifetime=LIFETIME,
            max_active=5,
            now=NOW,
        )

    assert session.exec(select(Share)).all() == []


def test_only_active_links_people_made_count_toward_the_cap(session: Session) -> None:
    expired = make(session)  # expires 90 days after NOW
    later = NOW + 100 * DAY
    # The alerts' link, active then, is not one a person made.
    shares.alert_share(session, shipment_id="FLEX-1", key=b"k" * 32, lifetime=LIFETIME, now=later)

    def create() -> int:
        view, _ = shares.create_link(
            session,
            shipment_id="FLEX-1",
            created_by="bo",
            lifetime=LIFETIME,
            max_active=2,
            now=later,
        )
        return view.id

    made = [create(), create()]
    with pytest.raises(shares.TooManyShares, match="FLEXHOOK_MAX_SHARES_PER_SHIPMENT"):
        create()

    assert expired not in made and len(set(made)) == 2


def test_an_active_link_is_renewed_to_its_expiry_from_now(session: Session) -> None:
    share_id = make(session)

    view = shares.extend_share(
        session, shipment_id="FLEX-1", share_id=share_id, lifetime=LIFETIME, now=NOW + 10 * DAY
    )

    assert (view.state, view.expires_at) == (ShareState.ACTIVE, NOW + 100 * DAY)


def test_a_revoked_link_is_not_renewed(session: Session) -> None:
    share_id = make(session)
    shares.revoke_share(
        session,
        shipment_id="FLEX-1",
        share_id=share_id,
        revoked_by="ana",
        lifetime=LIFETIME,
        now=NOW,
    )

    with pytest.raises(shares.ShareNotRenewed) as refused:
        extend(session, share_id, at=NOW + DAY)

    assert refused.value.view.state is ShareState.REVOKED


def test_a_delivered_shipments_link_is_not_renewed_and_its_row_is_not_changed(
    session: Session,
) -> None:
    share_id = make(session, "FLEX-2")
    before = session.get(Share, share_id)
    assert before is not None
    kept = before.expires_at

    with pytest.raises(shares.ShareNotRenewed) as refused:
        extend(session, share_id, shipment_id="FLEX-2", at=NOW + DAY)
    session.rollback()  # as the caller's transaction is

    # After delivery a link ends `after_delivery` after it: renewing cannot move that.
    assert refused.value.view.expires_at == NOW - DAY + LIFETIME.after_delivery
    after = session.get(Share, share_id)
    assert after is not None and after.expires_at == kept


def test_a_link_at_its_cap_is_not_renewed(session: Session) -> None:
    share_id = make(session)
    extend(session, share_id, at=NOW + 300 * DAY)  # to the cap, 365 days after it was made

    with pytest.raises(shares.ShareNotRenewed):
        extend(session, share_id, at=NOW + 301 * DAY)


def test_a_link_of_another_shipment_is_not_found(session: Session) -> None:
    share_id = make(session)

    with pytest.raises(shares.ShareNotFound):
        extend(session, share_id, shipment_id="FLEX-2", at=NOW)


def test_the_web_process_serves_links_with_the_share_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FLEXPORT_WEBHOOK_SECRET", "a-webhook-secret")
    monkeypatch.setenv("FLEXHOOK_API_TOKEN", "an-api-token-for-tests-" + "x" * 16)
    monkeypatch.setenv("FLEXHOOK_SHARE_EXPIRY", "48h")
    monkeypatch.setenv("FLEXHOOK_PUBLIC_URL", "https://flexhook.example.test")
    monkeypatch.setenv("FLEXHOOK_MAX_SHARES_PER_SHIPMENT", "3")

    config = web_config(load_settings())

    assert config.share_lifetime.expiry == timedelta(hours=48)
    assert config.public_url == "https://flexhook.example.test"
    assert config.max_shares_per_shipment == 3


def test_twenty_active_links_per_shipment_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLEXHOOK_MAX_SHARES_PER_SHIPMENT", raising=False)

    assert load_settings().max_shares_per_shipment == 20
