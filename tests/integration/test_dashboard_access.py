"""The dashboard for a team: sign-in with any valid token, what each role sees and may do, the
tokens and audit pages, and the limiter on refused sign-ins.

The same populated SQLite file and uvicorn-served dashboard as `test_dashboard`, with named
tokens written straight into the database (`app.store.tokens`), so a test can revoke one, let
one expire or change its role behind the browser's back and see the next request notice.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session, col, select

from app.core.access import ENVIRONMENT_ADMIN, TOKEN_PREFIX, Role
from app.core.privacy import VIEWER_ERROR
from app.dashboard.session import SESSION_COOKIE
from app.store import recipients, tokens
from app.store.models import ApiToken, AuditEntry, Recipient
from app.web.access import Limits, RefusalLimiter
from tests.integration.test_dashboard import (
    DEPARTED_EVENT_ID,
    FAILED_EVENT_ID,
    Dashboard,
    csrf_of,
    sign_in,
    start_dashboard,
    text_of,
)
from tests.log_registry import register_secret

REFUSALS = 5  # refused sign-ins from one address that block it
TOKEN = re.compile(rf"{TOKEN_PREFIX}[A-Za-z0-9_-]{{43}}")
REDRIVE_FORM = f'action="/dashboard/events/{FAILED_EVENT_ID}/redrive"'
ADD_FORM = 'name="action" value="add"'
REMOVE_FORM = 'name="action" value="remove"'
NAV_TOKENS = 'href="/dashboard/tokens"'
NAV_AUDIT = 'href="/dashboard/audit"'
CONTACT_SECRET = "hunter2-token-contact"


@pytest.fixture
async def dashboard(tmp_path: Path) -> AsyncIterator[Dashboard]:
    async with AsyncExitStack() as exits:
        limiter = RefusalLimiter(Limits(refusals=REFUSALS))
        yield await start_dashboard(tmp_path, exits, limiter=limiter)


def add_token(
    dashboard: Dashboard,
    name: str,
    role: Role,
    *,
    expires_in: timedelta | None = None,
    created: datetime | None = None,
) -> str:
    """A named token written straight into the database; returns the token."""
    with Session(dashboard.engine) as session:
        _row, token = tokens.create_token(
            session,
            name=name,
            role=role,
            expires_in=expires_in,
            contact=None,
            created_by="test",
            now=created or datetime.now(UTC),
        )
        session.commit()
    register_secret(token)
    return token


def token_row(dashboard: Dashboard, name: str) -> ApiToken:
    with Session(dashboard.engine) as session:
        row = tokens.find_token(session, name=name)
        assert row is not None
        return row


def revoke(dashboard: Dashboard, name: str) -> None:
    with Session(dashboard.engine) as session:
        assert tokens.revoke_token(session, name=name, now=datetime.now(UTC))
        session.commit()


def audit_trail(dashboard: Dashboard) -> list[AuditEntry]:
    with Session(dashboard.engine) as session:
        return list(session.exec(select(AuditEntry).order_by(col(AuditEntry.id))).all())


@asynccontextmanager
async def browser_as(dashboard: Dashboard, token: str) -> AsyncIterator[httpx.AsyncClient]:
    """A browser signed in with `token`."""
    async with httpx.AsyncClient(base_url=dashboard.base_url, timeout=30) as client:
        response = await sign_in(client, token)
        assert response.status_code == 303, response.text
        yield client


def session_of(client: httpx.AsyncClient) -> dict[str, object]:
    """What the session cookie holds (signed, not encrypted: anyone holding it can read it)."""
    data = client.cookies[SESSION_COOKIE].split(".")[0]
    decoded: dict[str, object] = json.loads(base64.b64decode(data + "=" * (-len(data) % 4)))
    return decoded


def audit_rows(page: httpx.Response) -> list[str]:
    """The audit page's rows as text, in page order."""
    body = page.text.split("<tbody>")[1].split("</tbody>")[0] if "<tbody>" in page.text else ""
    return [text_of(httpx.Response(200, text=row)) for row in body.split("</tr>") if "<td" in row]


# -- signing in ----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", list(Role))
async def test_a_named_token_signs_in_with_its_role(dashboard: Dashboard, role: Role) -> None:
    name = f"ana-{role}"
    token = add_token(dashboard, name, role)
    assert token_row(dashboard, name).last_used_at is None

    async with browser_as(dashboard, token) as browser:
        page = await browser.get("/dashboard/shipments")
        assert page.status_code == 200
        assert f"Signed in as {name} {role}" in text_of(page)
        # The session names who signed in, never the token.
        assert session_of(browser)["who"] == name
        assert token not in browser.cookies[SESSION_COOKIE]

    assert token_row(dashboard, name).last_used_at is not None
    [entry] = [e for e in audit_trail(dashboard) if e.action == "sign-in"]
    assert (entry.actor, entry.target, entry.outcome) == (name, f"dashboard ({role})", "ok")
    assert entry.client == "127.0.0.1" and entry.request_id


async def test_the_environment_token_signs_in_as_the_environment_admin(
    dashboard: Dashboard,
) -> None:
    async with browser_as(dashboard, dashboard.api_token) as browser:
        page = await browser.get("/dashboard/shipments")
        assert f"Signed in as {ENVIRONMENT_ADMIN} admin" in text_of(page)
        assert NAV_TOKENS in page.text and NAV_AUDIT in page.text
        assert session_of(browser)["who"] == ENVIRONMENT_ADMIN
    [entry] = audit_trail(dashboard)
    assert (entry.actor, entry.action) == (ENVIRONMENT_ADMIN, "sign-in")


async def test_revoked_and_expired_tokens_are_refused_at_sign_in(dashboard: Dashboard) -> None:
    revoked = add_token(dashboard, "gone", Role.ADMIN)
    revoke(dashboard, "gone")
    expired = add_token(
        dashboard,
        "old",
        Role.ADMIN,
        expires_in=timedelta(hours=1),
        created=datetime.now(UTC) - timedelta(hours=2),
    )
    async with httpx.AsyncClient(base_url=dashboard.base_url, timeout=30) as browser:
        for token in (revoked, expired):
            response = await sign_in(browser, token)
            assert response.status_code == 401
            assert "That token is not valid." in response.text
            assert "set-cookie" not in response.headers
        assert (await browser.get("/dashboard/shipments")).status_code == 303

    refusals = [e for e in audit_trail(dashboard) if e.action == "sign-in.refused"]
    assert [(e.actor, e.outcome, e.client) for e in refusals] == [
        ("unknown", "refused", "127.0.0.1")
    ] * 2
    assert not [e for e in audit_trail(dashboard) if e.action == "sign-in"]


async def test_a_session_ends_on_its_next_request_once_its_token_is_revoked(
    dashboard: Dashboard,
) -> None:
    token = add_token(dashboard, "ops-1", Role.OPERATOR)
    async with browser_as(dashboard, token) as browser:
        csrf = csrf_of(await browser.get(f"/dashboard/events/{FAILED_EVENT_ID}"))
        revoke(dashboard, "ops-1")

        redrive = await browser.post(
            f"/dashboard/events/{FAILED_EVENT_ID}/redrive", data={"csrf_token": csrf}
        )
        assert redrive.status_code == 303
        assert redrive.headers["location"] == "/dashboard/sign-in"
        assert SESSION_COOKIE not in browser.cookies  # the cookie is expired, too
        assert (await browser.get("/dashboard/shipments")).status_code == 303
    assert dashboard.redrive.calls == []


async def test_a_session_ends_once_its_token_expires(dashboard: Dashboard) -> None:
    token = add_token(dashboard, "brief", Role.VIEWER, expires_in=timedelta(hours=1))
    async with browser_as(dashboard, token) as browser:
        assert (await browser.get("/dashboard/shipments")).status_code == 200
        with Session(dashboard.engine) as session:
            row = tokens.find_token(session, name="brief")
            assert row is not None
            row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
            session.add(row)
            session.commit()
        assert (await browser.get("/dashboard/shipments")).status_code == 303


async def test_a_role_change_counts_from_the_next_request(dashboard: Dashboard) -> None:
    token = add_token(dashboard, "lee", Role.ADMIN)
    async with browser_as(dashboard, token) as browser:
        assert (await browser.get("/dashboard/tokens")).status_code == 200
        with Session(dashboard.engine) as session:
            row = tokens.find_token(session, name="lee")
            assert row is not None
            row.role = Role.VIEWER.value
            session.add(row)
            session.commit()

        refused = await browser.get("/dashboard/tokens")
        assert refused.status_code == 403
        assert "this needs admin" in text_of(refused)
        failed = await browser.get(f"/dashboard/events/{FAILED_EVENT_ID}")
        assert failed.status_code == 200
        assert "Signed in as lee viewer" in text_of(failed)
        assert REDRIVE_FORM not in failed.text
        assert NAV_TOKENS not in failed.text


# -- what each role sees and may do ---------------------------------------------------------------


async def test_a_viewer_reads_everything_and_changes_nothing(dashboard: Dashboard) -> None:
    with Session(dashboard.engine) as session:
        kept = recipients.add_recipient(
            session, url="json://hooks.example.test:9/kept", now=datetime.now(UTC)
        )
        session.commit()
        kept_id = kept.id
    token = add_token(dashboard, "vic", Role.VIEWER)
    async with browser_as(dashboard, token) as browser:
        failed = await browser.get(f"/dashboard/events/{FAILED_EVENT_ID}")
        listing = await browser.get("/dashboard/recipients")
        for page in (failed, listing):
            assert page.status_code == 200
            assert NAV_TOKENS not in page.text and NAV_AUDIT not in page.text
        assert REDRIVE_FORM not in failed.text and "Redrive event" not in failed.text
        assert "EventDataError" in failed.text  # why it failed is still shown
        assert "json://hooks.example.test:9/****" in listing.text
        assert ADD_FORM not in listing.text and REMOVE_FORM not in listing.text
        # A destination's own error can tell what answers where inside the network (H2).
        alerted = await browser.get(f"/dashboard/events/{DEPARTED_EVENT_ID}")
        assert "SMTP server refused the message" not in alerted.text
        assert VIEWER_ERROR in text_of(alerted)
        for path in ("/dashboard/tokens", "/dashboard/audit"):
            page = await browser.get(path)
            assert page.status_code == 403
            assert "You are signed in as vic (viewer); this needs admin." in text_of(page)

        csrf = csrf_of(listing)  # the sign-out form's: a valid token for this session
        posts = {
            f"/dashboard/events/{FAILED_EVENT_ID}/redrive": {},
            "/dashboard/recipients": {"action": "add", "url": "json://127.0.0.1:9/new"},
            "/dashboard/tokens": {"action": "create", "name": "sneaky", "role": "admin"},
        }
        posts_remove = {"action": "remove", "id": str(kept_id)}
        for path, form in [*posts.items(), ("/dashboard/recipients", posts_remove)]:
            refused = await browser.post(path, data={**form, "csrf_token": csrf})
            assert refused.status_code == 403, path
            assert "this needs" in text_of(refused)
            assert "content-security-policy" in refused.headers

        signed_out = await browser.post("/dashboard/sign-out", data={"csrf_token": csrf})
        assert signed_out.status_code == 303  # a viewer may sign out

    assert dashboard.redrive.calls == []
    with Session(dashboard.engine) as session:
        assert [r.id for r in session.exec(select(Recipient)).all()] == [kept_id]
        assert tokens.find_token(session, name="sneaky") is None
    assert {e.action for e in audit_trail(dashboard)} == {"sign-in"}


async def test_an_operator_redrives_and_changes_recipients_but_not_tokens(
    dashboard: Dashboard,
) -> None:
    register_secret(CONTACT_SECRET)
    token = add_token(dashboard, "ops-2", Role.OPERATOR)
    async with browser_as(dashboard, token) as browser:
        failed = await browser.get(f"/dashboard/events/{FAILED_EVENT_ID}")
        assert REDRIVE_FORM in failed.text
        assert NAV_TOKENS not in failed.text and NAV_AUDIT not in failed.text
        csrf = csrf_of(failed)
        redriven = await browser.post(
            f"/dashboard/events/{FAILED_EVENT_ID}/redrive", data={"csrf_token": csrf}
        )
        assert redriven.status_code == 303

        listing = await browser.get("/dashboard/recipients")
        assert ADD_FORM in listing.text
        url = f"json://user:{CONTACT_SECRET}@127.0.0.1:9/hook"
        added = await browser.post(
            "/dashboard/recipients", data={"csrf_token": csrf, "action": "add", "url": url}
        )
        assert added.status_code == 303
        rid = httpx.URL(added.headers["location"]).params["added"]
        assert REMOVE_FORM in (await browser.get("/dashboard/recipients")).text
        removed = await browser.post(
            "/dashboard/recipients", data={"csrf_token": csrf, "action": "remove", "id": rid}
        )
        assert removed.status_code == 303
        assert (await browser.get("/dashboard/tokens")).status_code == 403

    assert dashboard.redrive.calls == [FAILED_EVENT_ID]
    changes = [
        (e.actor, e.action, e.target, e.outcome)
        for e in audit_trail(dashboard)
        if e.action != "sign-in"
    ]
    assert [(actor, action, outcome) for actor, action, _, outcome in changes] == [
        ("ops-2", "event.redrive", "accepted"),
        ("ops-2", "recipient.add", "ok"),
        ("ops-2", "recipient.remove", "ok"),
    ]
    assert changes[0][2] == FAILED_EVENT_ID and changes[2][2] == rid
    assert changes[1][2].startswith(f"{rid} json://****:****@127.0.0.1:9/****")  # privacy form


# -- the tokens page ------------------------------------------------------------------------------


async def test_an_admin_creates_a_token_that_is_shown_once_and_revokes_it(
    dashboard: Dashboard,
) -> None:
    register_secret(CONTACT_SECRET)
    admin = add_token(dashboard, "root-ana", Role.ADMIN)
    async with browser_as(dashboard, admin) as browser:
        page = await browser.get("/dashboard/tokens")
        assert page.status_code == 200
        assert "root-ana" in text_of(page)
        csrf = csrf_of(page)
        form = {
            "csrf_token": csrf,
            "action": "create",
            "name": "deploy-bot",
            "role": "operator",
            "expires": "90d",
            "contact": f"json://user:{CONTACT_SECRET}@127.0.0.1:9/hook",
        }
        created = await browser.post("/dashboard/tokens", data=form)
        assert created.status_code == 200
        assert created.headers["cache-control"] == "no-store"
        found = TOKEN.search(created.text)
        assert found is not None
        token = found.group(0)
        register_secret(token)
        assert "it will not be shown again" in text_of(created)
        assert CONTACT_SECRET not in created.text

        listing = await browser.get("/dashboard/tokens")
        row = listing.text.split("<strong>deploy-bot</strong>")[1].split("</tr>")[0]
        assert f"…{token[-4:]}" in row and "operator" in row and "root-ana" in row
        assert "json://****:****@127.0.0.1:9/****" in row
        assert 'value="revoke"' in row
        assert token not in listing.text and CONTACT_SECRET not in listing.text

        again = await browser.post("/dashboard/tokens", data=form)
        assert again.status_code == 409
        assert "exists already" in again.text
        assert 'value="deploy-bot"' in again.text and CONTACT_SECRET not in again.text
        for wrong in ({"role": "owner"}, {"expires": "forever"}, {"name": "has space"}):
            refused = await browser.post("/dashboard/tokens", data={**form, **wrong})
            assert refused.status_code == 400, wrong

        async with browser_as(dashboard, token) as bot:
            assert "Signed in as deploy-bot operator" in text_of(
                await bot.get("/dashboard/shipments")
            )

            revoke_form = {"csrf_token": csrf, "action": "revoke", "name": "deploy-bot"}
            revoked = await browser.post("/dashboard/tokens", data=revoke_form)
            assert revoked.status_code == 303
            assert revoked.headers["location"] == "/dashboard/tokens?revoked=deploy-bot"
            after = await browser.get(revoked.headers["location"])
            assert "Token deploy-bot revoked" in text_of(after)
            row = after.text.split("<strong>deploy-bot</strong>")[1].split("</tr>")[0]
            assert 'value="revoke"' not in row

            assert (await bot.get("/dashboard/shipments")).status_code == 303  # its session ended
        assert (await browser.post("/dashboard/tokens", data=revoke_form)).status_code == 404

    changes = [
        (e.actor, e.action, e.target)
        for e in audit_trail(dashboard)
        if e.action.startswith("token")
    ]
    assert changes == [
        ("root-ana", "token.create", "deploy-bot (operator)"),
        ("root-ana", "token.revoke", "deploy-bot"),
    ]
    assert all(e.request_id and e.client == "127.0.0.1" for e in audit_trail(dashboard))


# -- the audit page -------------------------------------------------------------------------------


async def test_the_audit_page_lists_sign_ins_refusals_and_token_changes(
    dashboard: Dashboard,
) -> None:
    wrong = f"{TOKEN_PREFIX}{'x' * 43}"
    async with httpx.AsyncClient(base_url=dashboard.base_url, timeout=30) as stranger:
        assert (await sign_in(stranger, wrong)).status_code == 401
    async with browser_as(dashboard, dashboard.api_token) as browser:
        csrf = csrf_of(await browser.get("/dashboard/tokens"))
        create = {"csrf_token": csrf, "action": "create", "name": "kim", "role": "viewer"}
        created = await browser.post("/dashboard/tokens", data=create)
        assert created.status_code == 200
        register_secret(TOKEN.findall(created.text)[0])
        revoke_form = {"csrf_token": csrf, "action": "revoke", "name": "kim"}
        assert (await browser.post("/dashboard/tokens", data=revoke_form)).status_code == 303

        page = await browser.get("/dashboard/audit")
        assert page.status_code == 200
        rows = audit_rows(page)
        assert len(rows) == 4
        assert "token.revoke kim ok" in rows[0]  # newest first
        assert f"{ENVIRONMENT_ADMIN} token.create kim (viewer) ok 127.0.0.1" in rows[1]
        assert f"{ENVIRONMENT_ADMIN} sign-in dashboard (admin) ok 127.0.0.1" in rows[2]
        assert "unknown sign-in.refused dashboard refused 127.0.0.1" in rows[3]
        assert wrong not in page.text and dashboard.api_token not in page.text

        only = audit_rows(await browser.get("/dashboard/audit", params={"action": "sign-in"}))
        assert len(only) == 1 and "sign-in dashboard (admin)" in only[0]
        by_actor = audit_rows(await browser.get("/dashboard/audit", params={"actor": "unknown"}))
        assert len(by_actor) == 1 and "sign-in.refused" in by_actor[0]
        later = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
        assert audit_rows(await browser.get("/dashboard/audit", params={"since": later})) == []
        assert len(audit_rows(await browser.get("/dashboard/audit", params={"until": later}))) == 4
        bad = await browser.get("/dashboard/audit", params={"until": "<b>soon</b>"})
        assert bad.status_code == 400
        assert "until must be a time" in bad.text and "<b>soon" not in bad.text

    stored = json.dumps([e.model_dump(mode="json") for e in audit_trail(dashboard)])
    assert wrong not in stored and dashboard.api_token not in stored


# -- the limiter ----------------------------------------------------------------------------------


async def test_too_many_refused_sign_ins_from_one_address_are_answered_429(
    dashboard: Dashboard,
) -> None:
    async with httpx.AsyncClient(base_url=dashboard.base_url, timeout=30) as browser:
        for attempt in range(REFUSALS):
            response = await sign_in(browser, f"{TOKEN_PREFIX}guess-{attempt}")
            assert response.status_code == 401, attempt
        blocked = await sign_in(browser, dashboard.api_token)  # even the right token, for now
        assert blocked.status_code == 429
        assert int(blocked.headers["retry-after"]) > 0
        assert "Too many refused sign-ins" in blocked.text
        assert "set-cookie" not in blocked.headers
        assert (await browser.get("/dashboard/sign-in")).status_code == 200
    refused = [e for e in audit_trail(dashboard) if e.action == "sign-in.refused"]
    assert len(refused) == REFUSALS


async def test_the_recipients_form_sets_and_shows_the_audience(dashboard: Dashboard) -> None:
    token = add_token(dashboard, "ops-3", Role.OPERATOR)
    async with browser_as(dashboard, token) as browser:
        listing = await browser.get("/dashboard/recipients")
        assert '<select id="audience" name="audience">' in listing.text
        csrf = csrf_of(listing)
        form = {"csrf_token": csrf, "action": "add", "audience": "external"}
        added = await browser.post(
            "/dashboard/recipients", data={**form, "url": "json://127.0.0.1:9/buyer"}
        )
        refused = await browser.post(
            "/dashboard/recipients",
            data={**form, "url": "json://127.0.0.1:9/odd", "audience": "everyone"},
        )
        shown = await browser.get("/dashboard/recipients")

    assert added.status_code == 303
    assert refused.status_code == 400 and "internal or external" in refused.text
    assert "External: tracking link only" in shown.text
    with Session(dashboard.engine) as session:
        [recipient] = session.exec(select(Recipient)).all()
    assert recipient.audience == "external"
