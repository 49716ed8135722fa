"""The tracking page in a real headless Chromium, as a stakeholder opens a link on a phone.

The database is an SQLite file filled by the recorded samples through the worker's own
processing (`tests.helpers.deliver`); the app is `create_tracking(...)` mounted at `/track`,
served by uvicorn. Screenshots for a person to look at go to `test-artifacts/` (git-ignored):
`tracking-phone.png` (the first screen), `tracking-phone-full.png` (whole page) and
`tracking-revoked-phone.png` (a revoked link's 410 page).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.async_api import Page, expect
from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.applications import Starlette
from starlette.routing import Mount

from app.core.shares import ShareLifetime
from app.store import db, shares
from app.tracking.app import create_tracking
from tests.helpers import deliver, read_sample, sample_names
from tests.integration.harness import serve_app
from tests.integration.test_dashboard_browser import (
    ARTIFACTS,
    assert_eta_chart,
    assert_no_sideways_scroll,
    launch_chromium,
)

SHIPMENT = "418563"
# The samples happened in March 2026: links to the delivered shipment live on with this.
LONG = ShareLifetime(after_delivery=timedelta(days=3650), max_age=timedelta(days=3650))
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}


@dataclass
class Site:
    base_url: str
    live: str  # a live link's token
    revoked: str  # a revoked link's token


def add_links(engine: Engine) -> tuple[str, str]:
    now = datetime.now(UTC)
    with Session(engine) as session:
        _, live = shares.create_share(
            session, shipment_id=SHIPMENT, created_by="ana", lifetime=LONG, now=now
        )
        view, revoked = shares.create_share(
            session, shipment_id=SHIPMENT, created_by="ana", lifetime=LONG, now=now
        )
        shares.revoke_share(
            session,
            shipment_id=SHIPMENT,
            share_id=view.id,
            revoked_by="ana",
            lifetime=LONG,
            now=now,
        )
        session.commit()
    return live, revoked


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    engine = db.create_db_engine(f"sqlite:///{tmp_path / 'flexhook.db'}")
    db.upgrade(engine)
    for name in sample_names():
        deliver(engine, read_sample(name))
    live, revoked = add_links(engine)
    app = Starlette(routes=[Mount("/track", app=create_tracking(engine=engine, lifetime=LONG))])
    async with AsyncExitStack() as exits:
        exits.callback(engine.dispose)
        yield Site(base_url=await serve_app(app, exits), live=live, revoked=revoked)


async def assert_tracking_page(page: Page) -> None:
    await expect(page.get_by_role("heading", name="Delivered")).to_be_visible()
    await expect(page.get_by_text("Shipment 418563")).to_be_visible()
    timeline = page.locator("ol.timeline")
    for step in ("Departed", "Arrived", "Cleared customs", "Out for delivery", "Delivered"):
        await expect(timeline.locator("li .step", has_text=step).first).to_be_visible()
    await expect(page.get_by_text("26 Feb 2026 21:20 CST")).to_be_visible()
    await expect(page.get_by_text("CSNU7261843")).to_be_visible()
    await assert_eta_chart(page)  # the same chart and table as the dashboard's
    # The inline styles applied under the Content-Security-Policy.
    background = await page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(244, 245, 247)"
    assert await page.locator("script, link, img, iframe").count() == 0


async def test_a_phone_opens_a_link_and_a_revoked_one(site: Site) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    async with launch_chromium() as chromium:
        phone = await chromium.new_context(**PHONE)  # type: ignore[arg-type]
        try:
            page = await phone.new_page()
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            answer = await page.goto(f"{site.base_url}/track/{site.live}")
            assert answer is not None and answer.status == 200
            await assert_tracking_page(page)
            await assert_no_sideways_scroll(page)
            await page.screenshot(path=str(ARTIFACTS / "tracking-phone.png"))
            await page.screenshot(path=str(ARTIFACTS / "tracking-phone-full.png"), full_page=True)

            answer = await page.goto(f"{site.base_url}/track/{site.revoked}")
            assert answer is not None and answer.status == 410
            await expect(
                page.get_by_role("heading", name="This tracking link is no longer active")
            ).to_be_visible()
            assert SHIPMENT not in await page.content()
            await assert_no_sideways_scroll(page)
            await page.screenshot(path=str(ARTIFACTS / "tracking-revoked-phone.png"))
            # No CSP violation, no failed asset: only the 410 itself, which Chromium reports.
            assert errors == [
                "Failed to load resource: the server responded with a status of 410 (Gone)"
            ]
        finally:
            await phone.close()
