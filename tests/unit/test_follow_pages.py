"""Following by email through its pages, attacker cases first: header injection, enumeration,
rate limits, expired, reused and foreign tokens, link scanners' GETs; then the one-click
unsubscribe. The routes are mounted alone on a bare Starlette app over a migrated SQLite file,
and the confirmation emails go to a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import unquote

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from starlette.applications import Starlette
from starlette.requests import Request

from app.core.addresses import DestinationRules, parse_allowlist
from app.core.follow import FollowLimits, looks_like_token
from app.core.shares import ShareLifetime
from app.store import db, shares
from app.store.models import AuditEntry, FollowRequest, Subscription
from app.store.subscriptions import remove_subscription
from app.tracking.follow import (
    FOLLOW_ROUTES,
    FollowConfig,
    Following,
    follow_action,
    following,
)
from tests.integration.harness import Inbox
from tests.log_registry import register_secret

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
PUBLIC = "https://flexhook.example.com"
SHIPMENT = "418563"
CONFIRM_RE = re.compile(r"/follow/confirm/([A-Za-z0-9_-]{43})")


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@dataclasses.dataclass
class Site:
    http: httpx.AsyncClient
    engine: Engine
    inbox: Inbox
    clock: Clock

    def share(self, shipment_id: str = SHIPMENT) -> str:
        with Session(self.engine) as session:
            _, token = shares.create_share(
                session,
                shipment_id=shipment_id,
                created_by="ana",
                lifetime=ShareLifetime(),
                now=self.clock.now,
            )
            session.commit()
        return token

    async def ask(self, share: str, email: str) -> httpx.Response:
        return await self.http.post(f"/track/{share}/follow", data={"email": email})

    def confirm_tokens(self) -> list[str]:
        found = (m for e in self.inbox.received for m in CONFIRM_RE.findall(e.html))
        tokens = list(dict.fromkeys(found))
        for token in tokens:
            register_secret(token)
        return tokens

    def subscriptions(self) -> list[Subscription]:
        with Session(self.engine) as session:
            return list(session.exec(select(Subscription)).all())


def leave_token(subscription: Subscription) -> str:
    """The unsubscribe token in a follower's `List-Unsubscribe` header argument."""
    match = re.search(r"/follow/unsubscribe/([A-Za-z0-9_-]{43})>", unquote(subscription.url))
    assert match is not None and looks_like_token(match[1])
    register_secret(match[1])
    return match[1]


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    engine = db.create_db_engine(f"sqlite:///{tmp_path / 'flexhook.db'}")
    db.upgrade(engine)
    return engine


@pytest.fixture
async def site(
    engine: Engine, smtp: tuple[Inbox, int], quiet_test_client: None
) -> AsyncIterator[Site]:
    async for made in _site(engine, smtp, limits=FollowLimits(per_address=2, per_shipment=4)):
        yield made


async def _site(
    engine: Engine, smtp: tuple[Inbox, int], *, limits: FollowLimits, on: bool = True
) -> AsyncIterator[Site]:
    inbox, port = smtp
    clock = Clock()
    config = FollowConfig(
        mail_url=f"mailto://127.0.0.1:{port}?from=track@example.com&mode=insecure",
        public_url=PUBLIC,
        limits=limits,
        rules=DestinationRules(allowlist=parse_allowlist("127.0.0.1")),
    )
    app = Starlette(routes=FOLLOW_ROUTES)
    state = following(engine, config if on else None)
    app.state.follow = dataclasses.replace(state, clock=clock) if state is not None else None
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://flexhook.test") as http:
        yield Site(http=http, engine=engine, inbox=inbox, clock=clock)


async def test_an_address_with_a_header_in_it_is_refused_and_nothing_is_sent(site: Site) -> None:
    share = site.share()

    answer = await site.ask(share, "ana@example.com\r\nBcc: eve@evil.example")
    commas = await site.ask(share, "ana@example.com,eve@evil.example")

    assert (answer.status_code, commas.status_code) == (400, 400)
    assert "evil" not in answer.text
    assert site.inbox.received == []
    with Session(site.engine) as session:
        assert session.exec(select(FollowRequest)).all() == []


async def test_every_acceptable_address_gets_the_same_answer_but_only_a_new_one_mail(
    site: Site,
) -> None:
    share = site.share()
    first = await site.ask(share, "ana@example.com")
    [token] = site.confirm_tokens()
    await site.http.post(f"/follow/confirm/{token}")

    following_already = await site.ask(share, "ANA@EXAMPLE.COM".lower())
    someone_new = await site.ask(share, "bo@example.com")
    again = await site.ask(share, "bo@example.com")
    rate_limited = await site.ask(share, "bo@example.com")

    answers = [first, following_already, someone_new, again, rate_limited]
    assert {(a.status_code, a.text) for a in answers} == {(200, first.text)}
    assert "Check your inbox" in first.text
    assert [r.to for r in site.inbox.received] == [
        "ana@example.com",
        "bo@example.com",
        "bo@example.com",
    ]


async def test_an_address_whose_subscription_an_operator_removed_may_follow_again(
    site: Site,
) -> None:
    share = site.share()
    await site.ask(share, "ana@example.com")
    [token] = site.confirm_tokens()
    await site.http.post(f"/follow/confirm/{token}")
    [subscription] = site.subscriptions()
    with Session(site.engine) as session:
        assert subscription.id is not None
        assert remove_subscription(session, shipment_id=SHIPMENT, subscription_id=subscription.id)
        session.commit()

    await site.ask(share, "ana@example.com")

    assert len(site.confirm_tokens()) == 2


async def test_requests_are_limited_per_address_and_per_shipment_over_the_window(
    site: Site,
) -> None:
    share, other = site.share(), site.share("999001")
    for _ in range(3):
        await site.ask(share, "ana@example.com")
    assert len(site.inbox.received) == 2  # per address: 2 an hour here
    await site.ask(other, "ana@example.com")  # the address's limit spans shipments
    assert len(site.inbox.received) == 2

    for name in ("bo", "cy", "di"):
        await site.ask(share, f"{name}@example.com")
    assert len(site.inbox.received) == 4  # per shipment: 4 an hour here

    site.clock.now += timedelta(hours=1, seconds=1)
    await site.ask(share, "ana@example.com")
    assert [r.to for r in site.inbox.received][-1] == "ana@example.com"
    assert len(site.inbox.received) == 5


async def test_a_link_scanners_get_confirms_nothing_and_the_post_confirms_once(
    site: Site,
) -> None:
    await site.ask(site.share(), "ana@example.com")
    [token] = site.confirm_tokens()

    shown = await site.http.get(f"/follow/confirm/{token}")
    assert shown.status_code == 200 and f'action="/follow/confirm/{token}"' in shown.text
    assert site.subscriptions() == []

    confirmed = await site.http.post(f"/follow/confirm/{token}")
    reused = await site.http.post(f"/follow/confirm/{token}")
    reshown = await site.http.get(f"/follow/confirm/{token}")

    assert confirmed.status_code == 200 and "You follow this shipment" in confirmed.text
    assert (reused.status_code, reshown.status_code) == (410, 410)
    [subscription] = site.subscriptions()
    assert (subscription.shipment_id, subscription.audience) == (SHIPMENT, "external")
    assert "to=ana@example.com" in subscription.url
    assert "+List-Unsubscribe-Post=List-Unsubscribe%3DOne-Click" in subscription.url
    assert token not in subscription.url


async def test_an_expired_confirmation_confirms_nothing(site: Site) -> None:
    await site.ask(site.share(), "ana@example.com")
    [token] = site.confirm_tokens()
    site.clock.now += timedelta(hours=24)

    shown = await site.http.get(f"/follow/confirm/{token}")
    posted = await site.http.post(f"/follow/confirm/{token}")

    assert (shown.status_code, posted.status_code) == (410, 410)
    assert "418563" not in posted.text
    assert site.subscriptions() == []


async def test_a_token_confirms_its_own_request_only_and_no_other_token_confirms(
    site: Site,
) -> None:
    share, other_share = site.share(), site.share("999001")
    await site.ask(share, "ana@example.com")
    await site.ask(other_share, "bo@example.com")
    ana_token, bo_token = site.confirm_tokens()

    for wrong in (share, ana_token[:-1] + ("A" if ana_token[-1] != "A" else "B"), "x" * 43):
        assert (await site.http.post(f"/follow/confirm/{wrong}")).status_code == 404
    assert (await site.http.post(f"/follow/unsubscribe/{ana_token}")).status_code == 404
    assert site.subscriptions() == []

    await site.http.post(f"/follow/confirm/{bo_token}")
    [subscription] = site.subscriptions()
    assert subscription.shipment_id == "999001" and "to=bo@example.com" in subscription.url


async def test_an_unknown_share_is_404_and_a_revoked_one_410_and_nothing_is_sent(
    site: Site,
) -> None:
    share = site.share()
    with Session(site.engine) as session:
        [row] = shares.list_shares(session, shipment_id=SHIPMENT, lifetime=ShareLifetime(), now=NOW)
        shares.revoke_share(
            session,
            shipment_id=SHIPMENT,
            share_id=row.id,
            revoked_by="ana",
            lifetime=ShareLifetime(),
            now=NOW,
        )
        session.commit()

    revoked = await site.ask(share, "ana@example.com")
    unknown = await site.ask("A" * 43, "ana@example.com")

    assert (revoked.status_code, unknown.status_code) == (410, 404)
    assert SHIPMENT not in revoked.text + unknown.text
    assert site.inbox.received == []


async def test_one_click_unsubscribe_ends_the_subscription_and_a_get_does_not(
    site: Site,
) -> None:
    await site.ask(site.share(), "ana@example.com")
    [token] = site.confirm_tokens()
    await site.http.post(f"/follow/confirm/{token}")
    [subscription] = site.subscriptions()
    leave = leave_token(subscription)

    shown = await site.http.get(f"/follow/unsubscribe/{leave}")
    assert shown.status_code == 200 and len(site.subscriptions()) == 1

    one_click = await site.http.post(
        f"/follow/unsubscribe/{leave}",
        content=b"List-Unsubscribe=One-Click",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    twice = await site.http.post(f"/follow/unsubscribe/{leave}")

    assert (one_click.status_code, twice.status_code) == (200, 200)
    assert site.subscriptions() == []
    again = await site.ask(site.share(), "ana@example.com")  # may follow again later
    assert again.status_code == 200 and len(site.confirm_tokens()) == 2


async def test_the_audit_trail_names_the_follower_masked_and_never_a_token(site: Site) -> None:
    await site.ask(site.share(), "ana@example.com")
    [token] = site.confirm_tokens()
    await site.http.post(f"/follow/confirm/{token}")
    [subscription] = site.subscriptions()
    leave = leave_token(subscription)
    # What the API, the dashboard and the ledger show of the destination: neither.
    assert leave not in subscription.privacy_url and "ana" not in subscription.privacy_url
    await site.http.post(f"/follow/unsubscribe/{leave}")

    with Session(site.engine) as session:
        entries = session.exec(select(AuditEntry).order_by(AuditEntry.id)).all()  # type: ignore[arg-type]
    assert [(e.actor, e.action) for e in entries] == [
        ("follower", "follow.request"),
        ("follower", "follow.confirm"),
        ("follower", "follow.unsubscribe"),
    ]
    for entry in entries:
        assert entry.target == f"shipment {SHIPMENT} a***@example.com"
        assert token not in entry.model_dump_json() and leave not in entry.model_dump_json()


async def test_the_pages_are_not_stored_indexed_referred_or_scripted(site: Site) -> None:
    answer = await site.ask(site.share(), "not an address")

    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["referrer-policy"] == "no-referrer"
    assert answer.headers["x-robots-tag"] == "noindex"
    policy = answer.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src" not in policy
    assert "<script" not in answer.text
    assert 'name="email"' in answer.text  # the form again, with what was wrong


async def test_without_a_mail_url_every_route_is_404(
    engine: Engine, smtp: tuple[Inbox, int], quiet_test_client: None
) -> None:
    async for site in _site(engine, smtp, limits=FollowLimits(), on=False):
        share = site.share()
        token = "A" * 43
        answers = [
            await site.ask(share, "ana@example.com"),
            await site.http.get(f"/follow/confirm/{token}"),
            await site.http.post(f"/follow/confirm/{token}"),
            await site.http.get(f"/follow/unsubscribe/{token}"),
            await site.http.post(f"/follow/unsubscribe/{token}"),
        ]
        assert {a.status_code for a in answers} == {404}
        assert site.inbox.received == []


def test_the_tracking_page_offers_the_form_only_when_following_is_on(engine: Engine) -> None:
    config = FollowConfig(mail_url="mailto://x.example.com", public_url=PUBLIC)
    for follow, expected in ((config, f"/track/{'A' * 43}/follow"), (None, None)):
        app = Starlette()
        app.state.follow = following(engine, follow)
        request = Request({"type": "http", "app": app, "headers": []})
        assert follow_action(request, "A" * 43) == expected


def test_following_is_off_without_a_config(engine: Engine) -> None:
    assert following(engine, None) is None
    made = following(engine, FollowConfig(mail_url="mailto://x.example.com", public_url=PUBLIC))
    assert isinstance(made, Following)
