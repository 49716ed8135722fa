"""The dashboard over real HTTP: sign-in, the session cookie, CSRF, escaping, search and filters.

The database is an SQLite file at the newest migration, filled the way the worker fills it: every
packaged sample is recorded and applied with `app.store.projection`. On top of that: a shipment
whose name is a script tag, an event whose timestamp cannot be read (failed, as the workflow
marks it), one still processing, and alert-ledger rows. The app is `create_dashboard(...)`
mounted at `/dashboard`, served by uvicorn.
"""

from __future__ import annotations

import base64
import html
import json
import re
import secrets
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import itsdangerous
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.applications import Starlette
from starlette.routing import Mount

from app.core.access import ENVIRONMENT_ADMIN
from app.core.addresses import DestinationRules
from app.core.errors import EventDataError
from app.core.events import parse_event
from app.dashboard import pages
from app.dashboard.app import create_dashboard
from app.dashboard.session import SESSION_COOKIE, SESSION_SECONDS, session_secret
from app.store import db
from app.store.models import Notification, ReconcileRun
from app.store.projection import apply_event, mark_failed, record_event
from app.web.access import RefusalLimiter
from tests.helpers import load_sample, sample_names
from tests.integration.harness import LOCAL, serve_app

SHIPMENT_ID = "418563"
XSS_NAME = "<script>alert(1)</script>"
XSS_SHIPMENT_ID = "990001"
FAILED_EVENT_ID = "99000001"
PROCESSING_EVENT_ID = "99000002"
UNKNOWN_EVENT_ID = "99000005"  # a type Flexport might add later
DEPARTED_EVENT_ID = "48262090"
TEMPORAL_UI = "http://temporal.test:8233"
NAMESPACE = "default"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')

# Flexport promises no order: customs clearance arrives before the arrival it follows, so the
# arrival is kept as history and marked late.
JOURNEY_ORDER = [
    "01_shipment_created",
    "04_schedule_confirmed",
    "05_container_loaded_on_board",
    "06_leg_departed",
    "07_eta_updated",
    "11_customs_released",
    "09_leg_arrived",
    "13_out_for_delivery",
    "14_leg_delivered",
    "15_delivered_in_full",
    "16_invoice_shared",
    "18_container_empty_returned",
    "19_document_created",
    "20_purchase_order_updated",
]


def deliver(engine: Engine, payload: dict[str, Any], *, received_at: datetime) -> str:
    """Record and apply one delivery as the web process and the worker do; a delivery whose
    values cannot be read is marked failed, as the workflow marks it. Returns the event id."""
    body = json.dumps(payload)
    event = parse_event(body.encode("utf-8"))
    with Session(engine) as session:
        record_event(
            session,
            event=event,
            body=body,
            workflow_id=f"flexport-event-{event.event_id}",
            received_at=received_at,
        )
        session.commit()
    try:
        with Session(engine) as session:
            apply_event(session, event_id=event.event_id, now=received_at)
            session.commit()
    except EventDataError as exc:
        with Session(engine) as session:
            mark_failed(session, event_id=event.event_id, error=f"EventDataError: {exc}")
            session.commit()
    return event.event_id


def populate(engine: Engine) -> None:
    """The journey of shipment 418563 and every other sample, plus the awkward cases."""
    start = datetime.now(UTC) - timedelta(hours=4)
    others = [name for name in sample_names() if name not in JOURNEY_ORDER]
    for minute, name in enumerate([*JOURNEY_ORDER, *others]):
        deliver(engine, load_sample(name), received_at=start + timedelta(minutes=minute))

    hostile = load_sample("01_shipment_created")
    hostile["id"] = 99000003
    for part in ("resource", "shipment"):
        hostile["data"][part]["id"] = int(XSS_SHIPMENT_ID)
        hostile["data"][part]["name"] = XSS_NAME
    deliver(engine, hostile, received_at=start + timedelta(hours=1))

    unreadable = load_sample("07_eta_updated")
    unreadable["id"] = int(FAILED_EVENT_ID)
    unreadable["occurred_at"] = "yesterday-ish"
    deliver(engine, unreadable, received_at=start + timedelta(hours=2))

    unknown = load_sample("06_leg_departed")
    unknown["id"] = int(UNKNOWN_EVENT_ID)
    unknown["type"] = "/shipment#drone_sighted"
    deliver(engine, unknown, received_at=start + timedelta(hours=2, minutes=30))

    queued = load_sample("06_leg_departed")
    queued["id"] = int(PROCESSING_EVENT_ID)
    body = json.dumps(queued)
    with Session(engine) as session:
        record_event(
            session,
            event=parse_event(body.encode("utf-8")),
            body=body,
            workflow_id=f"flexport-event-{PROCESSING_EVENT_ID}",
            received_at=start + timedelta(hours=3),
        )
        session.commit()

    with Session(engine) as session:
        for index, (kind, status) in enumerate([("departed", "sent"), ("delivered", "failed")]):
            session.add(
                Notification(
                    dedup_key=f"{DEPARTED_EVENT_ID}:{kind}-{index}",
                    destination_id=f"dest-{index}",
                    destination="mailto://o...s@example.com" if index else "slack://T0.../B0...",
                    kind=kind,
                    event_id=DEPARTED_EVENT_ID,
                    shipment_id=SHIPMENT_ID,
                    status=status,
                    attempts=1 + index,
                    last_error="SMTP server refused the message" if status == "failed" else None,
                    created_at=start + timedelta(minutes=10 + index),
                    sent_at=start + timedelta(minutes=11) if status == "sent" else None,
                )
            )
        session.commit()


@dataclass
class FakeRedrive:
    """Stands in for the real redrive: records the event ids it is asked to run."""

    answer: str = "accepted"
    error: Exception | None = None
    calls: list[str] = field(default_factory=list)

    async def __call__(self, event_id: str) -> str:
        self.calls.append(event_id)
        if self.error is not None:
            raise self.error
        return self.answer


@dataclass
class Dashboard:
    base_url: str
    engine: Engine
    api_token: str
    redrive: FakeRedrive


async def start_dashboard(
    tmp_path: Path, exits: AsyncExitStack, *, limiter: RefusalLimiter | None = None
) -> Dashboard:
    """A populated SQLite file and the dashboard mounted at `/dashboard`, served by uvicorn;
    `limiter` counts refused sign-ins (default: a fresh one with the usual limits)."""
    engine = db.create_db_engine(f"sqlite:///{tmp_path / 'dashboard.db'}")
    exits.callback(engine.dispose)
    db.upgrade(engine)  # the schema as the migrations build it
    populate(engine)
    api_token = secrets.token_urlsafe(24)
    redrive = FakeRedrive()
    dashboard = create_dashboard(
        engine=engine,
        api_token=api_token,
        temporal_ui_url=TEMPORAL_UI + "/",
        namespace=NAMESPACE,
        redrive=redrive,
        limiter=limiter or RefusalLimiter(),
        destination_rules=DestinationRules(allowlist=LOCAL),
    )
    app = Starlette(routes=[Mount("/dashboard", app=dashboard)])
    base_url = await serve_app(app, exits)
    return Dashboard(base_url=base_url, engine=engine, api_token=api_token, redrive=redrive)


@pytest.fixture
async def dashboard(tmp_path: Path) -> AsyncIterator[Dashboard]:
    async with AsyncExitStack() as exits:
        yield await start_dashboard(tmp_path, exits)


@pytest.fixture
async def browser(dashboard: Dashboard) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client that keeps cookies, not signed in."""
    async with httpx.AsyncClient(base_url=dashboard.base_url, timeout=30) as client:
        yield client


async def sign_in(client: httpx.AsyncClient, token: str, **extra: str) -> httpx.Response:
    return await client.post("/dashboard/sign-in", data={"token": token, **extra})


@pytest.fixture
async def signed_in(browser: httpx.AsyncClient, dashboard: Dashboard) -> httpx.AsyncClient:
    response = await sign_in(browser, dashboard.api_token)
    assert response.status_code == 303, response.text
    return browser


def csrf_of(page: httpx.Response) -> str:
    found = CSRF.search(page.text)
    assert found, "the page has no CSRF token"
    return found.group(1)


def session_cookie(key: str, session: dict[str, Any], *, age: float = 0) -> str:
    """A cookie value as Starlette's SessionMiddleware signs it with `key`, `age` seconds ago."""

    class Signer(itsdangerous.TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time() - age)

    data = base64.b64encode(json.dumps(session).encode("utf-8"))
    return Signer(key).sign(data).decode("utf-8")


def text_of(page: httpx.Response) -> str:
    """The page's text with tags stripped and entities decoded, whitespace collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page.text)).split())


# -- signing in and out -------------------------------------------------------------------------


PAGES = [
    "/dashboard/",
    f"/dashboard/shipments/{SHIPMENT_ID}",
    "/dashboard/events?status=failed",
    f"/dashboard/events/{DEPARTED_EVENT_ID}",
    "/dashboard/shipments/no-such-shipment",
]


@pytest.mark.parametrize("path", PAGES)
async def test_pages_redirect_to_sign_in_when_signed_out(
    browser: httpx.AsyncClient, path: str
) -> None:
    response = await browser.get(path)
    assert response.status_code == 303
    location = httpx.URL(response.headers["location"])
    assert location.path == "/dashboard/sign-in"
    assert location.params["next"] == path
    assert SHIPMENT_ID not in response.text


async def test_sign_in_page_and_stylesheet_need_no_session(browser: httpx.AsyncClient) -> None:
    page = await browser.get("/dashboard/sign-in")
    assert page.status_code == 200
    assert '<form method="post" action="/dashboard/sign-in"' in page.text
    assert "content-security-policy" in page.headers
    assert (await browser.head("/dashboard/sign-in")).status_code == 200
    css = await browser.get("/dashboard/static/dashboard.css")
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")


async def test_posts_redirect_to_sign_in_when_signed_out(
    browser: httpx.AsyncClient, dashboard: Dashboard
) -> None:
    for path in (f"/dashboard/events/{FAILED_EVENT_ID}/redrive", "/dashboard/sign-out"):
        response = await browser.post(path, data={"csrf_token": "anything"})
        assert response.status_code == 303
        assert response.headers["location"] == "/dashboard/sign-in"
    assert dashboard.redrive.calls == []


async def test_a_wrong_token_is_refused_with_the_form_again(
    browser: httpx.AsyncClient, dashboard: Dashboard
) -> None:
    for wrong in ("", "not-the-token", dashboard.api_token + "x", dashboard.api_token[:-1]):
        response = await sign_in(browser, wrong)
        assert response.status_code == 401
        assert "That token is not valid." in response.text
        assert '<input id="token" name="token" type="password"' in response.text
        assert "set-cookie" not in response.headers
    assert (await browser.get("/dashboard/shipments")).status_code == 303


async def test_the_right_token_sets_a_session_cookie(
    browser: httpx.AsyncClient, dashboard: Dashboard
) -> None:
    response = await sign_in(browser, dashboard.api_token)
    assert response.status_code == 303
    assert response.headers["location"] == "/dashboard/"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "samesite=lax", "path=/dashboard", "max-age=43200"} <= attributes
    assert "secure" not in attributes  # plain http on loopback
    assert dashboard.api_token not in cookie

    page = await browser.get("/dashboard/shipments")
    assert page.status_code == 200
    assert "SS26 Apparel - Yantian to LA #3" in page.text
    assert "set-cookie" not in page.headers  # the 12 hours count from sign-in, never slide


async def test_the_cookie_is_secure_when_the_request_is_https(
    browser: httpx.AsyncClient, dashboard: Dashboard
) -> None:
    # uvicorn trusts X-Forwarded-Proto from loopback, as it would from a TLS-terminating proxy.
    response = await browser.post(
        "/dashboard/sign-in",
        data={"token": dashboard.api_token},
        headers={"x-forwarded-proto": "https"},
    )
    assert response.status_code == 303
    attributes = {part.strip().lower() for part in response.headers["set-cookie"].split(";")}
    assert "secure" in attributes


async def test_sign_in_goes_back_to_the_page_asked_for_but_never_off_site(
    browser: httpx.AsyncClient, dashboard: Dashboard
) -> None:
    wanted = f"/dashboard/shipments/{SHIPMENT_ID}"
    response = await sign_in(browser, dashboard.api_token, next=wanted)
    assert response.headers["location"] == wanted
    for hostile in ("https://evil.example/", "//evil.example/dashboard/", "/elsewhere"):
        response = await sign_in(browser, dashboard.api_token, next=hostile)
        assert response.headers["location"] == "/dashboard/"


async def test_forged_expired_and_foreign_cookies_are_refused(
    browser: httpx.AsyncClient, dashboard: Dashboard
) -> None:
    key = session_secret(dashboard.api_token)
    session = {"csrf": "a-csrf-token", "who": ENVIRONMENT_ADMIN}
    good = session_cookie(key, session)
    body, _, signature = good.rpartition(".")
    for value in (
        session_cookie(session_secret("some other token"), session),
        session_cookie(dashboard.api_token, session),  # the token is no key
        f"{body}x.{signature}",
        f"{body}.{signature[:-2]}",
        session_cookie(key, session, age=SESSION_SECONDS + 60),
        session_cookie(key, {}),
        session_cookie(key, {"csrf": "a-csrf-token"}),  # nobody signed in
        session_cookie(key, {"csrf": "a-csrf-token", "who": "no-such-token"}),
        session_cookie(key, {**session, "csrf": 5}),
        "garbage",
    ):
        browser.cookies.clear()
        browser.cookies.set(SESSION_COOKIE, value, path="/dashboard")
        assert (await browser.get("/dashboard/shipments")).status_code == 303, value
    for value in (good, session_cookie(key, session, age=SESSION_SECONDS - 60)):
        browser.cookies.clear()
        browser.cookies.set(SESSION_COOKIE, value, path="/dashboard")
        assert (await browser.get("/dashboard/shipments")).status_code == 200, value


async def test_sign_out_needs_the_csrf_token_then_ends_the_session(
    signed_in: httpx.AsyncClient,
) -> None:
    page = await signed_in.get("/dashboard/shipments")
    token = csrf_of(page)

    refused = await signed_in.post("/dashboard/sign-out", data={"csrf_token": "wrong"})
    assert refused.status_code == 403
    assert (await signed_in.get("/dashboard/shipments")).status_code == 200

    response = await signed_in.post("/dashboard/sign-out", data={"csrf_token": token})
    assert response.status_code == 303
    assert response.headers["location"] == "/dashboard/sign-in"
    assert SESSION_COOKIE not in signed_in.cookies
    assert (await signed_in.get("/dashboard/shipments")).status_code == 303


# -- escaping -------------------------------------------------------------------------------------


async def test_a_hostile_shipment_name_is_escaped_everywhere(signed_in: httpx.AsyncClient) -> None:
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    pages = [
        await signed_in.get("/dashboard/shipments"),
        await signed_in.get("/dashboard/shipments", params={"q": "script"}),
        await signed_in.get(f"/dashboard/shipments/{XSS_SHIPMENT_ID}"),
        await signed_in.get("/dashboard/events/99000003"),
    ]
    for page in pages:
        assert page.status_code == 200
        assert XSS_NAME not in page.text
        assert "<script" not in page.text.lower()
        assert "script-src" not in page.headers["content-security-policy"]
        assert "default-src 'none'" in page.headers["content-security-policy"]
    assert escaped in pages[0].text
    assert escaped in pages[1].text
    assert f"<h1>{escaped}</h1>" in pages[2].text


async def test_search_text_is_shown_escaped(signed_in: httpx.AsyncClient) -> None:
    query = '"><img src=x onerror=alert(1)>'
    page = await signed_in.get("/dashboard/shipments", params={"q": query})
    assert page.status_code == 200
    assert "<img" not in page.text
    assert 'value="&#34;&gt;&lt;img src=x onerror=alert(1)&gt;"' in page.text


# -- shipments: search and filters ----------------------------------------------------------------


def shipment_ids(page: httpx.Response) -> list[str]:
    return re.findall(r'href="/dashboard/shipments/([^"]+)"', page.text)


async def test_the_list_shows_status_place_eta_and_last_update(
    signed_in: httpx.AsyncClient,
) -> None:
    page = await signed_in.get("/dashboard/shipments")
    assert page.status_code == 200
    assert set(shipment_ids(page)) >= {SHIPMENT_ID, XSS_SHIPMENT_ID}
    row = re.search(
        rf'<tr>\s*<td data-label="Shipment"[^>]*>\s*<a href="/dashboard/shipments/'
        rf'{SHIPMENT_ID}">.*?</tr>',
        page.text,
        re.S,
    )
    assert row, page.text
    cells = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", row.group(0))).split())
    assert "Delivered" in cells
    assert "Acme Outfitters DC - Ontario" in cells  # where it was delivered
    assert "2026" in cells  # the ETA
    assert "ago" in cells  # the last update


async def test_search_by_id_and_by_name(signed_in: httpx.AsyncClient) -> None:
    by_id = await signed_in.get("/dashboard/shipments", params={"q": SHIPMENT_ID})
    assert shipment_ids(by_id) == [SHIPMENT_ID]
    by_prefix = await signed_in.get("/dashboard/shipments", params={"q": "#4185"})
    assert shipment_ids(by_prefix) == [SHIPMENT_ID]
    by_name = await signed_in.get("/dashboard/shipments", params={"q": "ss26 APPAREL"})
    assert SHIPMENT_ID in shipment_ids(by_name)
    assert XSS_SHIPMENT_ID not in shipment_ids(by_name)
    nothing = await signed_in.get("/dashboard/shipments", params={"q": "no such cargo"})
    assert shipment_ids(nothing) == []
    assert "No shipment matches" in text_of(nothing)
    # LIKE wildcards are text, not patterns.
    assert shipment_ids(await signed_in.get("/dashboard/shipments", params={"q": "%"})) == []
    assert shipment_ids(await signed_in.get("/dashboard/shipments", params={"q": "_"})) == []


async def test_filter_by_status(signed_in: httpx.AsyncClient) -> None:
    delivered = await signed_in.get("/dashboard/shipments", params={"status": "delivered"})
    assert SHIPMENT_ID in shipment_ids(delivered)
    assert XSS_SHIPMENT_ID not in shipment_ids(delivered)
    assert '<option value="delivered" selected>' in delivered.text
    departed = await signed_in.get("/dashboard/shipments", params={"status": "departed"})
    assert SHIPMENT_ID not in shipment_ids(departed)
    both = await signed_in.get(
        "/dashboard/shipments", params={"status": "delivered", "q": "apparel"}
    )
    assert shipment_ids(both) == [SHIPMENT_ID]


# -- one shipment --------------------------------------------------------------------------------


async def test_the_shipment_page_shows_its_whole_story(signed_in: httpx.AsyncClient) -> None:
    page = await signed_in.get(f"/dashboard/shipments/{SHIPMENT_ID}")
    assert page.status_code == 200
    text = text_of(page)
    timeline = text_of(
        httpx.Response(200, text=page.text.split('<ol class="timeline">')[1].split("</ol>")[0])
    )
    steps = ["Departed", "Arrived", "Customs cleared", "Out for delivery", "Delivered"]
    positions = [timeline.index(step) for step in steps]
    assert positions == sorted(positions), timeline
    late = re.findall(r'class="tl-item tl-late[^"]*">.*?<strong>([^<]+)</strong>', page.text, re.S)
    # Customs clearance came before the arrival, and the compact `departed` after delivery.
    assert sorted(late) == ["Arrived", "Departed"]
    assert "Estimated and actual" in text
    assert "CSNU7261843" in text  # its container
    assert "287114" in text  # its booking
    assert "Invoices" in text and "Documents" in text
    # Alerts: destinations in privacy form, the failed one with its reason.
    assert "mailto://****@example.com" in text
    assert "SMTP server refused the message" in text
    workflow = f"{TEMPORAL_UI}/namespaces/{NAMESPACE}/workflows/flexport-event-{DEPARTED_EVENT_ID}"
    assert f'href="{workflow}"' in page.text
    assert 'rel="noopener noreferrer"' in page.text


async def test_the_shipment_page_charts_how_the_eta_moved(signed_in: httpx.AsyncClient) -> None:
    page = await signed_in.get(f"/dashboard/shipments/{SHIPMENT_ID}")
    assert page.status_code == 200
    section = page.text.split('aria-labelledby="eta-history-title"')[1].split("</section>")[0]
    figure = section.split('<figure class="eta-chart">')[1].split("</figure>")[0]
    assert '<svg role="img"' in figure and "<title" in figure and "<desc" in figure
    # Scheduled for the 13th; the compact ETA update of 5 Mar moved it to the 15th; arrived.
    assert (
        "Original estimate 13 Mar 2026 15:00 UTC; 1 revision, latest 15 Mar 2026 13:00 UTC; "
        "arrived 15 Mar 2026 12:42 UTC; total slip +1.9 days." in figure
    )
    rows = re.findall(r'<th scope="row">(\w+)</th>\s*<td><time datetime="([^"]+)"', figure)
    assert rows == [
        ("original", "2026-03-13T15:00:00+00:00"),
        ("revised", "2026-03-15T13:00:00+00:00"),
        ("arrived", "2026-03-15T12:42:00+00:00"),
    ]
    # The chart names no event (the public tracking page shows the same macro).
    assert "evt_7f3c2b05e1" not in figure and "48210231" not in figure
    assert page.headers["content-security-policy"].startswith("default-src 'none'")


async def test_an_unknown_shipment_is_not_found(signed_in: httpx.AsyncClient) -> None:
    page = await signed_in.get("/dashboard/shipments/404404")
    assert page.status_code == 404
    assert "There is no such shipment." in page.text


# -- events --------------------------------------------------------------------------------------


def event_ids(page: httpx.Response) -> list[str]:
    return re.findall(
        r'<td data-label="Event" class="cell-title">\s*<a href="/dashboard/events/'
        r'([^"]+)"',
        page.text,
    )


async def test_failed_and_processing_events_come_first(signed_in: httpx.AsyncClient) -> None:
    page = await signed_in.get("/dashboard/events")
    assert page.status_code == 200
    ids = event_ids(page)
    assert ids[:2] == [FAILED_EVENT_ID, PROCESSING_EVENT_ID]
    assert DEPARTED_EVENT_ID in ids
    assert "/redrive" not in page.text


def older_link(page: httpx.Response) -> str | None:
    found = re.search(r'<a href="([^"]+)" rel="next">Older</a>', page.text)
    return html.unescape(found.group(1)) if found else None


@pytest.mark.parametrize(
    ("path", "ids"), [("/dashboard/events", event_ids), ("/dashboard/shipments", shipment_ids)]
)
async def test_older_links_page_through_every_row_once(
    signed_in: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
    path: str,
    ids: Callable[[httpx.Response], list[str]],
) -> None:
    everything = ids(await signed_in.get(path))
    monkeypatch.setattr(pages, "LIST_LIMIT", 1)
    seen: list[str] = []
    link: str | None = path
    while link is not None:
        page = await signed_in.get(link)
        assert page.status_code == 200
        seen += ids(page)
        link = older_link(page)

    assert len(everything) >= 2
    assert seen == everything  # the same order, each once
    made_up = await signed_in.get(path, params={"after": "2_not-a-time_x"})
    assert ids(made_up) == everything[:1]  # a link that is no cursor: the first page


async def test_event_filters(signed_in: httpx.AsyncClient) -> None:
    failed = await signed_in.get("/dashboard/events", params={"status": "failed"})
    assert event_ids(failed) == [FAILED_EVENT_ID]
    departed = await signed_in.get("/dashboard/events", params={"type": "/shipment_leg#departed"})
    assert sorted(event_ids(departed)) == sorted([DEPARTED_EVENT_ID, PROCESSING_EVENT_ID])
    hostile = await signed_in.get("/dashboard/events", params={"shipment": XSS_SHIPMENT_ID})
    assert event_ids(hostile) == ["99000003"]
    combined = await signed_in.get(
        "/dashboard/events", params={"status": "processed", "shipment": SHIPMENT_ID}
    )
    ids = event_ids(combined)
    assert DEPARTED_EVENT_ID in ids
    assert FAILED_EVENT_ID not in ids and PROCESSING_EVENT_ID not in ids
    assert "evt_7f3c2a91d4" in ids  # the compact format, same shipment
    assert "99000003" not in ids  # another shipment


async def test_an_event_shows_its_payload_pretty_printed(signed_in: httpx.AsyncClient) -> None:
    page = await signed_in.get(f"/dashboard/events/{DEPARTED_EVENT_ID}")
    assert page.status_code == 200
    payload = html.unescape(page.text.split('<pre class="payload"><code>')[1].split("</code>")[0])
    assert json.loads(payload)["type"] == "/shipment_leg#departed"
    assert '\n  "type": "/shipment_leg#departed",\n' in payload
    workflow = f"{TEMPORAL_UI}/namespaces/{NAMESPACE}/workflows/flexport-event-{DEPARTED_EVENT_ID}"
    assert f'href="{workflow}"' in page.text
    assert "slack://T0.../****" in page.text  # the alerts it sent


# -- redrive ---------------------------------------------------------------------------------------


async def test_only_failed_events_offer_a_redrive_button(signed_in: httpx.AsyncClient) -> None:
    failed = await signed_in.get(f"/dashboard/events/{FAILED_EVENT_ID}")
    assert failed.status_code == 200
    assert f'action="/dashboard/events/{FAILED_EVENT_ID}/redrive"' in failed.text
    assert "Redrive event" in failed.text
    assert "EventDataError" in failed.text  # why it failed
    for other in (DEPARTED_EVENT_ID, PROCESSING_EVENT_ID, "99000003"):
        page = await signed_in.get(f"/dashboard/events/{other}")
        assert page.status_code == 200
        assert "/redrive" not in page.text
        assert "Redrive event" not in page.text


async def test_redrive_needs_the_sessions_csrf_token(
    signed_in: httpx.AsyncClient, dashboard: Dashboard
) -> None:
    path = f"/dashboard/events/{FAILED_EVENT_ID}/redrive"
    page = await signed_in.get(f"/dashboard/events/{FAILED_EVENT_ID}")
    token = csrf_of(page)

    # Another session's token, a wrong one, none, or not a form: refused, nothing redriven.
    async with httpx.AsyncClient(base_url=dashboard.base_url, timeout=30) as other:
        assert (await sign_in(other, dashboard.api_token)).status_code == 303
        other_token = csrf_of(await other.get(f"/dashboard/events/{FAILED_EVENT_ID}"))
    assert other_token != token
    for data in ({"csrf_token": other_token}, {"csrf_token": "x"}, {}):
        refused = await signed_in.post(path, data=data)
        assert refused.status_code == 403
    refused = await signed_in.post(path, json={"csrf_token": token})
    assert refused.status_code == 403
    assert dashboard.redrive.calls == []

    response = await signed_in.post(path, data={"csrf_token": token})
    assert response.status_code == 303
    assert response.headers["location"] == (
        f"/dashboard/events/{FAILED_EVENT_ID}?redriven=accepted"
    )
    assert dashboard.redrive.calls == [FAILED_EVENT_ID]
    after = await signed_in.get(response.headers["location"])
    assert "Redrive started: accepted." in text_of(after)
    crafted = await signed_in.get(
        f"/dashboard/events/{FAILED_EVENT_ID}", params={"redriven": "call +1 555 0100 now"}
    )
    assert "Redrive started" not in crafted.text


async def test_redrive_refuses_events_that_did_not_fail(
    signed_in: httpx.AsyncClient, dashboard: Dashboard
) -> None:
    token = csrf_of(await signed_in.get("/dashboard/events"))
    response = await signed_in.post(
        f"/dashboard/events/{DEPARTED_EVENT_ID}/redrive", data={"csrf_token": token}
    )
    assert response.status_code == 409
    missing = await signed_in.post("/dashboard/events/404404/redrive", data={"csrf_token": token})
    assert missing.status_code == 404
    assert dashboard.redrive.calls == []


async def test_a_redrive_that_raises_is_reported_on_the_page(
    signed_in: httpx.AsyncClient, dashboard: Dashboard
) -> None:
    dashboard.redrive.error = RuntimeError("Temporal <unreachable>")
    token = csrf_of(await signed_in.get("/dashboard/events"))
    response = await signed_in.post(
        f"/dashboard/events/{FAILED_EVENT_ID}/redrive", data={"csrf_token": token}
    )
    assert response.status_code == 502
    # Review M6/L5: the error's type, never its text (SQL errors quote values).
    assert "Redrive failed: it could not be started (RuntimeError)" in response.text
    assert "unreachable" not in response.text
    assert dashboard.redrive.calls == [FAILED_EVENT_ID]


async def test_a_redrive_of_an_event_that_vanished_is_not_found(
    signed_in: httpx.AsyncClient, dashboard: Dashboard
) -> None:
    dashboard.redrive.error = LookupError(f"no event {FAILED_EVENT_ID}")
    token = csrf_of(await signed_in.get("/dashboard/events"))
    response = await signed_in.post(
        f"/dashboard/events/{FAILED_EVENT_ID}/redrive", data={"csrf_token": token}
    )
    assert response.status_code == 404
    assert "There is no such event." in response.text
    assert dashboard.redrive.calls == [FAILED_EVENT_ID]


async def test_an_event_of_an_unknown_type_shows_as_such(signed_in: httpx.AsyncClient) -> None:
    listing = await signed_in.get("/dashboard/events")
    page = await signed_in.get(f"/dashboard/events/{UNKNOWN_EVENT_ID}")

    assert listing.status_code == page.status_code == 200
    row = listing.text.split(f"id {UNKNOWN_EVENT_ID}")[1].split("</tr>")[0]
    assert "Unknown type" in row
    assert "Unknown type" in page.text
    assert "/shipment#drone_sighted" in page.text
    departed = listing.text.split(f"id {DEPARTED_EVENT_ID}")[1].split("</tr>")[0]
    assert "Unknown type" not in departed


async def test_the_event_log_shows_the_last_reconciliation_and_its_gaps(
    dashboard: Dashboard, signed_in: httpx.AsyncClient
) -> None:
    before = await signed_in.get("/dashboard/events")
    assert "Reconciliation with Flexport" not in before.text  # no run yet: no panel
    now = datetime.now(UTC)
    with Session(dashboard.engine) as session:
        session.add(
            ReconcileRun(
                trigger="schedule",
                outcome="error",
                since=now - timedelta(hours=72),
                until=now,
                listed=40,
                known=37,
                missing=3,
                started=2,
                errors="event 48262999 was refused by Temporal <script>",
                started_at=now - timedelta(seconds=5),
                finished_at=now,
            )
        )
        session.commit()

    page = await signed_in.get("/dashboard/events")

    assert page.status_code == 200
    panel = page.text.split("Reconciliation with Flexport")[1].split("</section>")[0]
    assert "missing 3" in panel and "started 2" in panel and "listed 40" in panel
    assert "refused by Temporal &lt;script&gt;" in panel
