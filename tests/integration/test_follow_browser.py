"""Following by email in a real headless Chromium on a phone-sized screen: fill the form, read the
confirmation email from a real SMTP server, open its link, press the button, then open the
unsubscribe link and press that one. The follow routes are served by uvicorn over a migrated
SQLite file holding the Flexport samples, beside the real tracking page, which offers the form.
The milestone email a follower then gets, with its
headers, goes through the whole stack in test_follow.py. Screenshots go to `test-artifacts/`
(`follow-*.png`)."""

from __future__ import annotations

import re
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import unquote

import pytest
from playwright.async_api import Page, expect
from sqlmodel import Session, select
from starlette.applications import Starlette
from starlette.routing import Mount

from app.core.addresses import DestinationRules
from app.core.shares import ShareLifetime
from app.store import db, shares
from app.store.models import Subscription
from app.tracking.app import create_tracking
from app.tracking.follow import FOLLOW_ROUTES, FollowConfig, following
from tests.helpers import deliver, read_sample, sample_names
from tests.integration.harness import LOCAL, Inbox, serve_app
from tests.integration.test_dashboard_browser import ARTIFACTS, launch_chromium
from tests.integration.test_follow import mail_to
from tests.log_registry import register_secret

pytestmark = pytest.mark.integration

FOLLOWER = "ana@example.com"
SHIPMENT = "418563"
# The samples were delivered in March 2026: links to them live longer than the defaults.
LONG = ShareLifetime(after_delivery=timedelta(days=3650), max_age=timedelta(days=3650))


async def press(page_: Page, button: str, heading: str) -> None:
    await page_.get_by_role("button", name=button).click()
    await expect(page_.get_by_role("heading", name=heading)).to_be_visible()


async def test_a_phone_follows_and_unfollows_through_the_emailed_links(
    tmp_path: Path, smtp: tuple[Inbox, int], quiet_test_client: None
) -> None:
    inbox, port = smtp
    engine = db.create_db_engine(f"sqlite:///{tmp_path / 'flexhook.db'}")
    db.upgrade(engine)
    for name in sample_names():
        deliver(engine, read_sample(name))
    with Session(engine) as session:
        _, share = shares.create_share(
            session,
            shipment_id=SHIPMENT,
            created_by="ana",
            lifetime=LONG,
            now=datetime.now(UTC),
        )
        session.commit()
    register_secret(share)
    tracking = create_tracking(engine=engine, lifetime=LONG, following=True)
    app = Starlette(routes=[*FOLLOW_ROUTES, Mount("/track", app=tracking)])
    ARTIFACTS.mkdir(exist_ok=True)
    async with AsyncExitStack() as exits, launch_chromium() as chromium:
        base_url = await serve_app(app, exits)
        app.state.follow = following(
            engine,
            FollowConfig(
                mail_url=f"mailto://127.0.0.1:{port}?from=track@example.com&mode=insecure",
                public_url=base_url,
                share_lifetime=LONG,
                rules=DestinationRules(allowlist=LOCAL),
            ),
        )
        phone = await chromium.new_context(viewport={"width": 390, "height": 844})
        tab = await phone.new_page()
        await tab.goto(f"{base_url}/track/{share}")
        await expect(tab.get_by_text("Shipment 418563")).to_be_visible()
        # The inline styles applied under the Content-Security-Policy: the page is styled.
        background = await tab.evaluate("getComputedStyle(document.body).backgroundColor")
        assert background == "rgb(244, 245, 247)"
        await tab.get_by_label("Follow this shipment by email").fill(FOLLOWER)
        await tab.screenshot(path=str(ARTIFACTS / "follow-form-phone.png"))
        await press(tab, "Follow", "Check your inbox")

        [confirmation] = await mail_to(inbox, FOLLOWER, 1)
        html = confirmation.get_body(("html",))
        assert html is not None
        link = re.search(rf"{re.escape(base_url)}/follow/confirm/[\w-]{{43}}", html.get_content())
        assert link is not None
        register_secret(link[0].rsplit("/", 1)[1])
        await tab.goto(link[0])
        await tab.screenshot(path=str(ARTIFACTS / "follow-confirm-phone.png"))
        await press(tab, "Yes, follow this shipment", "You follow this shipment")

        with Session(engine) as session:
            [subscription] = session.exec(select(Subscription)).all()
        assert subscription.audience == "external"
        leave = re.search(r"<(http[^>]+/follow/unsubscribe/[\w-]{43})>", unquote(subscription.url))
        assert leave is not None
        register_secret(leave[1].rsplit("/", 1)[1])
        await tab.goto(leave[1])
        await press(tab, "Stop following", "You no longer follow this shipment")
        await tab.screenshot(path=str(ARTIFACTS / "follow-unsubscribed-phone.png"))
        with Session(engine) as session:
            assert session.exec(select(Subscription)).all() == []
        await phone.close()
    engine.dispose()
