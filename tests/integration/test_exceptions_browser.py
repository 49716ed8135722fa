"""The exception inbox in a real headless Chromium (the system one, as in
`test_dashboard_browser`): an operator signs in and lands on the Inbox, selects ten
exceptions, acknowledges them in bulk with one note, sees them acknowledged, and opens one to
read its timeline. Screenshots go to `test-artifacts/` (`dashboard-inbox*.png`,
`dashboard-exception.png`) for a person to look at."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import pytest
from playwright.async_api import Page, expect
from sqlalchemy.engine import Engine

from app.store import db
from tests.integration.test_dashboard_browser import (
    ARTIFACTS,
    assert_no_sideways_scroll,
    launch_chromium,
)
from tests.integration.test_dashboard_exceptions import OPERATOR, Inbox, row_of, start_inbox

NOTE = "Broker is on it: ten holds at Long Beach"


@pytest.fixture
async def inbox(tmp_path: Path) -> AsyncIterator[Inbox]:
    engine: Engine = db.create_db_engine(f"sqlite:///{tmp_path / 'inbox.db'}")
    db.upgrade(engine)
    try:
        async with AsyncExitStack() as exits:
            yield await start_inbox(engine, exits)
    finally:
        engine.dispose()


async def sign_in_to_the_inbox(page: Page, inbox: Inbox) -> None:
    await page.goto(f"{inbox.base_url}/dashboard/")
    assert page.url.startswith(f"{inbox.base_url}/dashboard/sign-in")
    await page.get_by_label("API token").fill(inbox.tokens[OPERATOR])
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(f"{inbox.base_url}/dashboard/exceptions")


async def test_an_operator_acknowledges_ten_exceptions_at_once(inbox: Inbox) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    async with launch_chromium() as chromium:
        context = await chromium.new_context(viewport={"width": 1366, "height": 900})
        try:
            page = await context.new_page()
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            await sign_in_to_the_inbox(page, inbox)
            await expect(page.get_by_role("heading", name="Inbox")).to_be_visible()
            await expect(page.locator("tr.overdue")).to_have_count(1)
            await page.screenshot(path=str(ARTIFACTS / "dashboard-inbox.png"), full_page=True)
            for exception_id in inbox.bulk:
                await page.get_by_label(f"Select exception {exception_id}").check()
            await page.get_by_label("Action").select_option("acknowledge")
            await page.get_by_label("Note (one for all)").fill(NOTE)
            await page.get_by_role("button", name="Apply").click()
            await expect(page.get_by_role("heading", name="Acknowledge: 10 done")).to_be_visible()

            await page.get_by_role("link", name="Back to the inbox").click()
            for exception_id in inbox.bulk:
                row = page.locator(f'tr[data-exception="{exception_id}"]')
                await expect(row.get_by_text("Acknowledged")).to_be_visible()
            await page.screenshot(path=str(ARTIFACTS / "dashboard-inbox-acked.png"), full_page=True)

            first = page.locator(f'tr[data-exception="{inbox.bulk[0]}"]')
            await first.get_by_role("link", name="Customs hold").click()
            timeline = page.locator("table.exception-timeline")
            await expect(timeline.get_by_text("Flexport event bulk-T-1")).to_be_visible()
            acknowledged = timeline.locator("tr", has_text="acknowledged")
            await expect(acknowledged.get_by_text(NOTE)).to_be_visible()
            await expect(acknowledged.get_by_text(OPERATOR)).to_be_visible()
            await assert_no_sideways_scroll(page)
            await page.screenshot(path=str(ARTIFACTS / "dashboard-exception.png"), full_page=True)
            assert errors == []
        finally:
            await context.close()
    assert all(row_of(inbox.engine, i).acknowledged_by == OPERATOR for i in inbox.bulk)
