"""Followers and the team's subscriptions each have their own cap per shipment: strangers who
hold a share link and confirm many addresses cannot take the team's subscription slots."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlmodel import Session

from app.core.addresses import DestinationRules, parse_allowlist
from app.store import db
from app.store.subscriptions import TooManySubscriptions, add_subscription

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
RULES = DestinationRules(allowlist=parse_allowlist("127.0.0.1"), max_subscriptions_per_shipment=2)


def _follow(session: Session, n: int) -> None:
    add_subscription(
        session,
        shipment_id="418563",
        url=f"mailto://127.0.0.1:2525?from=track@example.com&to=f{n}@example.com",
        kinds=None,
        audience="external",
        follower=True,
        rules=RULES,
        now=NOW,
    )


def _subscribe(session: Session, n: int) -> None:
    add_subscription(
        session,
        shipment_id="418563",
        url=f"json://127.0.0.1:9{n:03d}/hook",
        kinds=None,
        rules=RULES,
        now=NOW,
    )


def test_followers_filling_their_cap_leave_the_team_s_subscriptions_free(
    cli_database: str,
) -> None:
    with Session(db.create_db_engine(cli_database)) as session:
        _follow(session, 1)
        _follow(session, 2)
        with pytest.raises(TooManySubscriptions, match="2 followers already"):
            _follow(session, 3)

        _subscribe(session, 1)
        _subscribe(session, 2)
        with pytest.raises(TooManySubscriptions, match="2 subscriptions already"):
            _subscribe(session, 3)
