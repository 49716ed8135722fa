"""Who reads a destination: the audience of configured URLs, recipients and subscriptions as the
send path sees it. One URL reached several ways is one destination, external if any way says so."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from activities.delivery import NotificationActivities, stored_audience
from activities.types import Delivery
from app.core.addresses import DestinationRules, parse_allowlist
from app.core.audience import Audience, parse_audience
from app.store import db
from app.store.recipients import InvalidRecipient, add_recipient
from app.store.subscriptions import InvalidSubscription, add_subscription
from notifications.destinations import NotifyConfig
from notifications.notifier import Notifier
from notifications.render import Renderer
from tests.alerts import DEPARTED

URL = "json://127.0.0.1:9/buyer"
RULES = DestinationRules(allowlist=parse_allowlist("127.0.0.1"))
NOW = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    engine = db.create_db_engine(f"sqlite:///{tmp_path / 'flexhook.db'}")
    db.upgrade(engine)
    return engine


def _activities(engine: Engine, config: Path) -> NotificationActivities:
    return NotificationActivities(engine, Notifier(Renderer()), config=NotifyConfig(config))


def test_a_url_configured_internal_but_subscribed_external_is_external(
    engine: Engine, tmp_path: Path
) -> None:
    config = tmp_path / "notifications.yml"
    config.write_text(f'urls:\n  - "{URL}":\n      tag: departed\n', encoding="utf-8")
    with Session(engine) as session:
        add_subscription(
            session,
            shipment_id=DEPARTED.shipment_id,
            url=URL,
            kinds=None,
            audience="external",
            rules=RULES,
            now=NOW,
        )
        session.commit()
        activities = _activities(engine, config)
        [planned] = activities.plan(session, [DEPARTED], now=NOW)
        destination = activities.destination(session, planned)

    assert destination is not None and destination.audience is Audience.EXTERNAL
    assert destination.id == planned.destination_id


def test_a_recipient_is_internal_unless_it_says_otherwise(engine: Engine) -> None:
    with Session(engine) as session:
        team = add_recipient(session, url="json://127.0.0.1:9/team", rules=RULES, now=NOW)
        buyer = add_recipient(session, url=URL, audience="EXTERNAL", rules=RULES, now=NOW)
        session.commit()
        activities = _activities(engine, Path("/nonexistent/notifications.yml"))
        found = {
            d.id: d.audience
            for d in (
                activities.destination(
                    session, Delivery(alert=DEPARTED, destination_id=row.destination_id)
                )
                for row in (team, buyer)
            )
            if d is not None
        }

    assert (team.audience, buyer.audience) == ("internal", "external")
    assert found == {
        team.destination_id: Audience.INTERNAL,
        buyer.destination_id: Audience.EXTERNAL,
    }


def test_an_audience_other_than_internal_or_external_is_refused(engine: Engine) -> None:
    with Session(engine) as session, pytest.raises(InvalidRecipient, match="internal or external"):
        add_recipient(session, url=URL, audience="public", rules=RULES, now=NOW)
    with (
        Session(engine) as session,
        pytest.raises(InvalidSubscription, match="internal or external"),
    ):
        add_subscription(
            session, shipment_id="418563", url=URL, kinds=None, audience="all", rules=RULES, now=NOW
        )
    assert parse_audience(" External ") is Audience.EXTERNAL


def test_a_stored_audience_this_version_does_not_know_reads_as_external() -> None:
    assert stored_audience("partner") is Audience.EXTERNAL
    assert stored_audience("internal") is Audience.INTERNAL
