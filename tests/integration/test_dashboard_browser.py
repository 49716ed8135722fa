"""The dashboard in a real headless Chromium: sign in, open shipment 418563, read its timeline.

Uses the system Chromium (Debian package `chromium`) through Playwright's async API; Playwright's
own browser downloads are never used, and a missing Chromium fails the test. Screenshots go to
`test-artifacts/` (git-ignored) for a person to look at: the shipment page on a laptop
(`dashboard-shipment.png`, whole page) and on a phone (`dashboard-shipment-phone.png`, the first
screen; `-phone-full.png`, whole page), and the shipment list; the tokens page, a new token's
page and the audit page on a laptop and a phone (`dashboard-tokens*.png`, `dashboard-audit*.png`).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from tests.integration.test_dashboard import SHIPMENT_ID, Dashboard, start_dashboard

CHROMIUM = os.environ.get("FLEXHOOK_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
TIMELINE = ["Departed", "Arrived", "Customs cleared", "Out for delivery", "Delivered"]


def chromium_path() -> str:
    found = CHROMIUM if os.access(CHROMIUM, os.X_OK) else shutil.which("chromium")
    if not found:
        pytest.fail(
            f"Chromium is not installed at {CHROMIUM}: `apt-get install -y chromium` "
            "(or set FLEXHOOK_CHROMIUM to a Chromium binary)"
        )
    return found


@pytest.fixture
async def dashboard(tmp_path: Path) -> AsyncIterator[Dashboard]:
    async with AsyncExitStack() as exits:
        yield await start_dashboard(tmp_path, exits)


@asynccontextmanager
async def launch_chromium() -> AsyncIterator[Browser]:
    """The system Chromium, headless. Called in the test body so a missing one fails the test."""
    executable = chromium_path()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=executable, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            await browser.close()


async def sign_in(page: Page, dashboard: Dashboard, path: str) -> None:
    """Open a dashboard page, land on the sign-in form, sign in, and come back to the page."""
    await page.goto(f"{dashboard.base_url}{path}")
    assert page.url.startswith(f"{dashboard.base_url}/dashboard/sign-in")
    await page.get_by_label("API token").fill(dashboard.api_token)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(f"{dashboard.base_url}{path}")


async def assert_timeline(page: Page) -> None:
    await expect(
        page.get_by_role("heading", name="SS26 Apparel - Yantian to LA #3")
    ).to_be_visible()
    timeline = page.locator("ol.timeline")
    for step in TIMELINE:
        await expect(timeline.locator("li strong", has_text=step).first).to_be_visible()
    late = timeline.locator("li.tl-late", has=page.locator("strong", has_text="Arrived"))
    await expect(late.locator(".badge-late")).to_be_visible()
    await expect(page.get_by_text("CSNU7261843").first).to_be_visible()
    # The stylesheet loaded under the Content-Security-Policy.
    background = await page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(245, 247, 250)"


async def assert_no_sideways_scroll(page: Page) -> None:
    width = await page.evaluate("document.documentElement.scrollWidth")
    # The device's width: a mobile browser widens `window.innerWidth` to fit a page too wide.
    size = page.viewport_size
    viewport = size["width"] if size else await page.evaluate("window.innerWidth")
    assert width <= viewport, f"the page is {width}px wide in a {viewport}px viewport"


async def assert_eta_chart(page: Page) -> None:
    """The ETA history: an image named by its title and described in a sentence, drawn at a
    legible size, and a table with the same points for screen readers."""
    chart = page.get_by_role("img", name="Estimated arrival over time")
    await expect(chart).to_be_visible()
    await expect(chart).to_have_accessible_description(re.compile(r"total slip \+1\.9 days\.$"))
    box = await chart.bounding_box()
    assert box is not None and box["width"] >= 300, box
    table = page.get_by_role("table", name="Estimated arrival as reported, and the actual arrival")
    await expect(table.get_by_role("rowheader")).to_have_text(
        ["original", "revised", "arrived", "Total slip"]
    )


async def test_a_signed_in_browser_sees_the_shipment_timeline(dashboard: Dashboard) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    path = f"/dashboard/shipments/{SHIPMENT_ID}"
    async with launch_chromium() as chromium:
        await look_at_the_shipment(chromium, dashboard, path)


async def look_at_the_shipment(chromium: Browser, dashboard: Dashboard, path: str) -> None:
    """On a laptop, then on a phone: sign in, read the timeline, take screenshots."""
    laptop = await chromium.new_context(viewport={"width": 1366, "height": 900})
    try:
        page = await laptop.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        await sign_in(page, dashboard, path)
        await assert_timeline(page)
        await assert_eta_chart(page)
        await assert_no_sideways_scroll(page)
        await page.screenshot(path=str(ARTIFACTS / "dashboard-shipment.png"), full_page=True)
        # The list, too: the shipment is there, with its status.
        await page.get_by_role("link", name="Shipments", exact=True).first.click()
        await page.get_by_role("link", name="SS26 Apparel - Yantian to LA #3").wait_for()
        await page.screenshot(path=str(ARTIFACTS / "dashboard-shipments.png"), full_page=True)
        assert errors == []  # no CSP violation or failed asset
    finally:
        await laptop.close()

    phone = await chromium.new_context(
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    try:
        page = await phone.new_page()
        await sign_in(page, dashboard, path)
        await assert_timeline(page)
        await assert_eta_chart(page)
        await assert_no_sideways_scroll(page)
        await page.screenshot(path=str(ARTIFACTS / "dashboard-shipment-phone.png"))
        await page.screenshot(
            path=str(ARTIFACTS / "dashboard-shipment-phone-full.png"), full_page=True
        )
    finally:
        await phone.close()


async def test_an_admin_creates_a_token_and_reads_the_audit_trail(dashboard: Dashboard) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    async with launch_chromium() as chromium:
        for device, (width, height) in (("", (1366, 900)), ("-phone", (390, 844))):
            context = await chromium.new_context(
                viewport={"width": width, "height": height},
                is_mobile=bool(device),
                has_touch=bool(device),
            )
            try:
                await create_a_token_then_audit(await context.new_page(), dashboard, device)
            finally:
                await context.close()


async def create_a_token_then_audit(page: Page, dashboard: Dashboard, device: str) -> None:
    """Sign in as the environment admin, create a token (shown once), find it by its last four
    characters in the list, and its creation in the audit trail; screenshots of each page."""
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    await sign_in(page, dashboard, "/dashboard/tokens")
    await expect(page.get_by_text("Signed in as environment admin")).to_be_visible()
    await page.get_by_label("Name").fill(f"deploy-bot{device}")
    await page.get_by_label("Role").select_option("operator")
    await page.get_by_role("button", name="Create token").click()
    await expect(page.get_by_text("it will not be shown again")).to_be_visible()
    token = await page.get_by_role("textbox", name="Token").input_value()
    assert token.startswith("fxh_")
    await assert_no_sideways_scroll(page)
    await page.screenshot(path=str(ARTIFACTS / f"dashboard-token-created{device}.png"))
    await page.get_by_role("link", name="Back to tokens").click()
    await expect(page.get_by_text(f"…{token[-4:]}")).to_be_visible()
    await assert_no_sideways_scroll(page)
    await page.screenshot(path=str(ARTIFACTS / f"dashboard-tokens{device}.png"), full_page=True)
    await page.get_by_role("link", name="Audit").click()
    await expect(page.get_by_text("token.create").first).to_be_visible()
    await assert_no_sideways_scroll(page)
    await page.screenshot(path=str(ARTIFACTS / f"dashboard-audit{device}.png"), full_page=True)
    assert errors == []
