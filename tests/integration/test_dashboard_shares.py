"""The share section of a shipment's page over real HTTP: everyone signed in sees the links,
only an operator's CSRF-checked form makes, revokes or renews one, a link of another shipment is
404, and a new link's address (its token) is shown once and then nowhere: not on the shipment's
page, in a log or in the audit trail.

The populated SQLite file of `test_dashboard`, the dashboard mounted at `/dashboard` with a
public URL, served by uvicorn; named tokens written straight into the database."""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session, col, select
from starlette.applications import Starlette
from starlette.routing import Mount

from app.core.access import Role
from app.core.shares import ShareLifetime, ShareState
from app.dashboard.app import create_dashboard
from app.store import db, shares
from app.store.models import AuditEntry, Share
from app.web.access import RefusalLimiter
from tests.integration.harness import serve_app
from tests.integration.test_dashboard import (
    NAMESPACE,
    SHIPMENT_ID,
    TEMPORAL_UI,
    XSS_SHIPMENT_ID,
    Dashboard,
    FakeRedrive,
    csrf_of,
    populate,
    text_of,
)
from tests.integration.test_dashboard_access import add_token, browser_as
from tests.log_registry import register_secret

# The journey's shipment is delivered (its links end 30 days after the sample's delivery: long
# ago); the second one is under way.
DELIVERED = SHIPMENT_ID
UNDERWAY = XSS_SHIPMENT_ID
PUBLIC_URL = "https://flexhook.example.test"
MAX_SHARES = 3
LINK_URL = re.compile(re.escape(PUBLIC_URL) + r"/track/([A-Za-z0-9_-]{43})")
SHARES = f"/dashboard/shipments/{UNDERWAY}/shares"
PAGE = f"/dashboard/shipments/{UNDERWAY}"
CREATE_FORM = 'name="action" value="create"'
REVOKE_BUTTON = 'name="action" value="revoke"'


@pytest.fixture
async def dashboard(tmp_path: Path) -> AsyncIterator[Dashboard]:
    async with AsyncExitStack() as exits:
        engine = db.create_db_engine(f"sqlite:///{tmp_path / 'dashboard.db'}")
        exits.callback(engine.dispose)
        db.upgrade(engine)
        populate(engine)
        api_token = secrets.token_urlsafe(24)
        app = create_dashboard(
            engine=engine,
            api_token=api_token,
            temporal_ui_url=TEMPORAL_UI + "/",
            namespace=NAMESPACE,
            redrive=FakeRedrive(),
            limiter=RefusalLimiter(),
            share_lifetime=ShareLifetime(expiry=timedelta(days=120)),
            public_url=PUBLIC_URL + "/",
            max_shares_per_shipment=MAX_SHARES,
        )
        base_url = await serve_app(Starlette(routes=[Mount("/dashboard", app=app)]), exits)
        yield Dashboard(
            base_url=base_url, engine=engine, api_token=api_token, redrive=FakeRedrive()
        )


def make_link(dashboard: Dashboard, shipment_id: str = UNDERWAY) -> tuple[int, str]:
    """A link made straight in the database: its id and token."""
    with Session(dashboard.engine) as session:
        view, token = shares.create_share(
            session,
            shipment_id=shipment_id,
            created_by="someone",
            lifetime=ShareLifetime(),
            now=datetime.now(UTC),
        )
        session.commit()
    register_secret(token)
    return view.id, token


def link_row(dashboard: Dashboard, share_id: int) -> Share:
    with Session(dashboard.engine) as session:
        row = session.get(Share, share_id)
        assert row is not None
        return row


def share_audit(dashboard: Dashboard) -> list[AuditEntry]:
    with Session(dashboard.engine) as session:
        entries = session.exec(select(AuditEntry).order_by(col(AuditEntry.id))).all()
        return [e for e in entries if e.action.startswith("share.")]


# -- attackers first ----------------------------------------------------------------------------


async def test_a_viewer_sees_the_links_but_no_form_and_every_change_is_403(
    dashboard: Dashboard,
) -> None:
    share_id, _ = make_link(dashboard)
    viewer = add_token(dashboard, "vic", Role.VIEWER)
    async with browser_as(dashboard, viewer) as browser:
        page = await browser.get(PAGE)
        csrf = csrf_of(page)  # the sign-out form's: valid for this session
        refused = [
            await browser.post(SHARES, data={"csrf_token": csrf, "action": action, **extra})
            for action, extra in [
                ("create", {}),
                ("revoke", {"share_id": str(share_id)}),
                ("renew", {"share_id": str(share_id)}),
            ]
        ]

    assert page.status_code == 200
    assert f"#{share_id}" in text_of(page) and "by someone" in text_of(page)
    assert CREATE_FORM not in page.text and REVOKE_BUTTON not in page.text
    assert [r.status_code for r in refused] == [403, 403, 403]
    assert "this needs operator" in text_of(refused[0])
    assert link_row(dashboard, share_id).revoked_at is None
    assert share_audit(dashboard) == []


async def test_a_form_without_this_sessions_csrf_token_or_session_changes_nothing(
    dashboard: Dashboard,
) -> None:
    share_id, _ = make_link(dashboard)
    operator = add_token(dashboard, "ops", Role.OPERATOR)
    async with browser_as(dashboard, operator) as browser:
        forged = await browser.post(
            SHARES, data={"csrf_token": "forged", "action": "revoke", "share_id": str(share_id)}
        )
        bare = await browser.post(SHARES, data={"action": "create"})
    async with httpx.AsyncClient(base_url=dashboard.base_url) as stranger:
        anonymous = await stranger.post(SHARES, data={"action": "create"})

    assert (forged.status_code, bare.status_code) == (403, 403)
    assert anonymous.status_code == 303 and "/sign-in" in anonymous.headers["location"]
    assert link_row(dashboard, share_id).revoked_at is None
    with Session(dashboard.engine) as session:
        assert len(session.exec(select(Share)).all()) == 1
    assert share_audit(dashboard) == []


async def test_a_link_of_another_shipment_is_404_through_this_ones_page(
    dashboard: Dashboard,
) -> None:
    theirs, _ = make_link(dashboard, DELIVERED)
    operator = add_token(dashboard, "ops", Role.OPERATOR)
    async with browser_as(dashboard, operator) as browser:
        csrf = csrf_of(await browser.get(PAGE))
        answers = [
            await browser.post(
                SHARES, data={"csrf_token": csrf, "action": action, "share_id": share_id}
            )
            for action in ("revoke", "renew")
            for share_id in (str(theirs), "999999", "1e3", "")
        ]
        unknown = await browser.post(
            "/dashboard/shipments/4242424242/shares", data={"csrf_token": csrf, "action": "create"}
        )

    assert [a.status_code for a in answers] == [404] * 8
    assert unknown.status_code == 404
    assert link_row(dashboard, theirs).revoked_at is None
    assert share_audit(dashboard) == []


async def test_a_new_links_address_is_shown_once_and_never_again(
    dashboard: Dashboard, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    operator = add_token(dashboard, "ops", Role.OPERATOR)
    async with browser_as(dashboard, operator) as browser:
        page = await browser.get(PAGE)
        assert CREATE_FORM in page.text
        created = await browser.post(SHARES, data={"csrf_token": csrf_of(page), "action": "create"})
        found = LINK_URL.search(created.text)
        assert found is not None
        token = found.group(1)
        register_secret(token)
        after = await browser.get(PAGE)

    assert created.status_code == 200
    assert created.headers["cache-control"] == "no-store"
    assert "it will not be shown again" in text_of(created)
    with Session(dashboard.engine) as session:
        opened = shares.open_share(
            session, token=token, lifetime=ShareLifetime(), now=datetime.now(UTC)
        )
    assert (opened.state, opened.shipment_id) == (ShareState.ACTIVE, UNDERWAY)
    assert token not in after.text and "by ops" in text_of(after)
    assert token not in caplog.text
    entries = share_audit(dashboard)
    assert [(e.actor, e.action) for e in entries] == [("ops", "share.create")]
    assert entries[0].target == f"shipment {UNDERWAY} link {opened.share_id}"
    assert token not in entries[0].target + entries[0].outcome


# -- what an operator does ------------------------------------------------------------------------


async def test_an_operator_renews_and_revokes_a_link_from_the_shipments_page(
    dashboard: Dashboard,
) -> None:
    share_id, _ = make_link(dashboard, UNDERWAY)
    before = link_row(dashboard, share_id).expires_at
    operator = add_token(dashboard, "ops", Role.OPERATOR)
    async with browser_as(dashboard, operator) as browser:
        page = await browser.get(PAGE)
        assert REVOKE_BUTTON in page.text
        form = {"csrf_token": csrf_of(page), "share_id": str(share_id)}
        renewed = await browser.post(SHARES, data={**form, "action": "renew"})
        revoked = await browser.post(SHARES, data={**form, "action": "revoke"})
        again = await browser.post(SHARES, data={**form, "action": "revoke"})
        renew_revoked = await browser.post(SHARES, data={**form, "action": "renew"})
        shown = await browser.get(revoked.headers["location"])

    where = f"{PAGE}?link="
    assert renewed.status_code == 303 and renewed.headers["location"].startswith(where)
    assert revoked.headers["location"] == f"{where}revoked#shares"
    assert again.status_code == 303
    assert renew_revoked.status_code == 409
    row = link_row(dashboard, share_id)
    assert row.expires_at > before + timedelta(days=29)  # the dashboard's 120 days from now
    assert row.revoked_by == "ops"
    assert "Link revoked" in text_of(shown) and "Revoked by ops" in text_of(shown)
    assert REVOKE_BUTTON not in shown.text  # nothing left to do with a revoked link
    target = f"shipment {UNDERWAY} link {share_id}"
    assert [(e.actor, e.action, e.target) for e in share_audit(dashboard)] == [
        ("ops", "share.renew", target),
        ("ops", "share.revoke", target),  # once: the second revoke changed nothing
    ]


async def test_a_delivered_shipments_link_is_not_renewed_and_nothing_is_audited(
    dashboard: Dashboard,
) -> None:
    share_id, _ = make_link(dashboard, DELIVERED)
    before = link_row(dashboard, share_id).expires_at
    operator = add_token(dashboard, "ops", Role.OPERATOR)
    async with browser_as(dashboard, operator) as browser:
        page = await browser.get(f"/dashboard/shipments/{DELIVERED}")
        renewed = await browser.post(
            f"/dashboard/shipments/{DELIVERED}/shares",
            data={"csrf_token": csrf_of(page), "action": "renew", "share_id": str(share_id)},
        )

    assert "Expired" in text_of(page)
    assert renewed.status_code == 409
    assert "would not make this link last longer" in text_of(renewed)
    assert link_row(dashboard, share_id).expires_at == before
    assert share_audit(dashboard) == []


async def test_past_the_cap_a_new_link_is_refused_until_one_is_revoked(
    dashboard: Dashboard,
) -> None:
    held = [make_link(dashboard)[0] for _ in range(MAX_SHARES)]
    operator = add_token(dashboard, "ops", Role.OPERATOR)
    async with browser_as(dashboard, operator) as browser:
        csrf = csrf_of(await browser.get(PAGE))
        refused = await browser.post(SHARES, data={"csrf_token": csrf, "action": "create"})
        await browser.post(
            SHARES, data={"csrf_token": csrf, "action": "revoke", "share_id": str(held[0])}
        )
        made = await browser.post(SHARES, data={"csrf_token": csrf, "action": "create"})
        found = LINK_URL.search(made.text)
        assert found is not None
        register_secret(found.group(1))

    assert refused.status_code == 409
    assert f"has {MAX_SHARES} active share links already" in text_of(refused)
    assert made.status_code == 200
    assert [e.action for e in share_audit(dashboard)] == ["share.revoke", "share.create"]
