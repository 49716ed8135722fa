"""The dashboard's exception inbox over real HTTP (uvicorn), on SQLite or, with
FLEXHOOK_TEST_DATABASE=postgresql, PostgreSQL: exceptions made by `app.store.exceptions` from
Flexport-shaped samples, acted on by an operator and looked at by a viewer.

Attackers first: a viewer's POST is 403 and changes nothing, a form without this session's CSRF
token is 403, an id that is not a number is 404, a note's markup is escaped. Then the inbox's
order, filters, overdue marks and keyset pages, the detail page's actions and refusals, the
bulk action with one shared note and its refusals, the watch workflow told after each action
(and a failure to tell it only logged), the landing and the shipment page.
"""

from __future__ import annotations

import html
import logging
import re
import secrets
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from markupsafe import escape
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from starlette.applications import Starlette
from starlette.routing import Mount

from app.core.access import Role
from app.core.exception_families import ExceptionEffect
from app.dashboard import exceptions as inbox_pages
from app.dashboard.app import create_dashboard
from app.store import exceptions, tokens
from app.store.exception_models import ExceptionEntry, ShipmentExceptionRow
from app.store.models import AuditEntry
from app.web.access import RefusalLimiter
from tests.helpers import load_sample
from tests.integration.exception_stack import untold
from tests.integration.harness import serve_app
from tests.integration.test_dashboard import FakeRedrive, csrf_of, deliver, sign_in, text_of
from tests.log_registry import register_secret
from tests.unit.test_exception_store import DELAY, HOLD, RELEASE

SHIPMENT_ID = "418563"  # 01_shipment_created's shipment
OPERATOR, OTHER_OPERATOR, VIEWER = "ana-ops", "bo-ops", "vic-viewer"
BULK_SHIPMENTS = [f"T-{n}" for n in range(1, 11)]
XSS_NOTE = "<script>alert('note')</script>"
ROW = re.compile(r'data-exception="(\d+)"')


@dataclass
class WatchTeller:
    """Stands in for the Temporal signal: records the ids it is told; fails when asked to."""

    fail: bool = False
    told: list[int] = field(default_factory=list)

    async def __call__(self, exception_id: int) -> None:
        if self.fail:
            raise ConnectionError("temporal is down")
        self.told.append(exception_id)


@dataclass
class Inbox:
    base_url: str
    engine: Engine
    tokens: dict[str, str]
    watch: WatchTeller
    hold: int  # the customs hold of SHIPMENT_ID, opened 30 hours ago: overdue
    delay: int  # the departure delay of SHIPMENT_ID, opened just now
    bulk: list[int]  # ten customs holds of BULK_SHIPMENTS


def record(
    engine: Engine, effect: ExceptionEffect, shipment_id: str, event_id: str, *, ago: timedelta
) -> int:
    """One Flexport event's effect, as the worker records it; the id of what it opened."""
    at = datetime.now(UTC) - ago
    with Session(engine) as session:
        outcomes = exceptions.record_event(
            session,
            shipment_id=shipment_id,
            event_id=event_id,
            occurred_at=at,
            effect=effect,
            severities={},
            now=at,
        )
        session.commit()
    return outcomes[-1].exception_id


def add_token(engine: Engine, name: str, role: Role) -> str:
    with Session(engine) as session:
        _row, token = tokens.create_token(
            session,
            name=name,
            role=role,
            expires_in=None,
            contact=None,
            created_by="test",
            now=datetime.now(UTC),
        )
        session.commit()
    register_secret(token)
    return token


async def start_inbox(engine: Engine, exits: AsyncExitStack) -> Inbox:
    """Shipment 418563 with a customs hold (30 hours old) and a departure delay, ten customs
    holds of other shipments, two operators and a viewer; the dashboard mounted at
    `/dashboard`, served by uvicorn until `exits` closes."""
    deliver(engine, load_sample("01_shipment_created"), received_at=datetime.now(UTC))
    hold = record(engine, HOLD, SHIPMENT_ID, "hold-1", ago=timedelta(hours=30))
    delay = record(engine, DELAY, SHIPMENT_ID, "delay-1", ago=timedelta(minutes=5))
    bulk = [
        record(engine, HOLD, shipment, f"bulk-{shipment}", ago=timedelta(minutes=10))
        for shipment in BULK_SHIPMENTS
    ]
    named = {
        OPERATOR: add_token(engine, OPERATOR, Role.OPERATOR),
        OTHER_OPERATOR: add_token(engine, OTHER_OPERATOR, Role.OPERATOR),
        VIEWER: add_token(engine, VIEWER, Role.VIEWER),
    }
    watch = WatchTeller()
    api_token = secrets.token_urlsafe(24)
    register_secret(api_token)
    dashboard = create_dashboard(
        engine=engine,
        api_token=api_token,
        temporal_ui_url="",
        namespace="default",
        redrive=FakeRedrive(),
        limiter=RefusalLimiter(),
        tell_exception_watch=watch,
    )
    base_url = await serve_app(Starlette(routes=[Mount("/dashboard", app=dashboard)]), exits)
    return Inbox(base_url, engine, named, watch, hold, delay, bulk)


@pytest.fixture
async def inbox(engine: Engine) -> AsyncIterator[Inbox]:
    async with AsyncExitStack() as exits:
        yield await start_inbox(engine, exits)


@asynccontextmanager
async def browser_as(inbox: Inbox, name: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=inbox.base_url, timeout=30) as client:
        response = await sign_in(client, inbox.tokens[name])
        assert response.status_code == 303, response.text
        yield client


def snapshot(engine: Engine) -> list[tuple[int | None, str, int, int]]:
    """Every exception's state and version and how long its timeline is."""
    with Session(engine) as session:
        rows = session.exec(
            select(ShipmentExceptionRow).order_by(col(ShipmentExceptionRow.id))
        ).all()
        entries = session.exec(select(ExceptionEntry)).all()
        return [
            (r.id, r.state, r.version, sum(1 for e in entries if e.exception_id == r.id))
            for r in rows
        ]


def row_of(engine: Engine, exception_id: int) -> ShipmentExceptionRow:
    with Session(engine) as session:
        row = session.get(ShipmentExceptionRow, exception_id)
        assert row is not None
        session.expunge(row)
        return row


def notes_of(engine: Engine, exception_id: int) -> list[tuple[str, str, str | None]]:
    with Session(engine) as session:
        entries = session.exec(
            select(ExceptionEntry).where(ExceptionEntry.exception_id == exception_id)
        ).all()
        return [(e.who, e.what, e.note) for e in entries]


# -- attackers ----------------------------------------------------------------------------------


async def test_a_viewer_reads_but_every_post_is_403_and_changes_nothing(inbox: Inbox) -> None:
    before = snapshot(inbox.engine)
    async with browser_as(inbox, VIEWER) as viewer:
        page = await viewer.get("/dashboard/exceptions")
        assert page.status_code == 200
        assert set(ROW.findall(page.text)) >= {str(inbox.hold), str(inbox.delay)}
        assert 'name="ids"' not in page.text and "/exceptions/bulk" not in page.text
        detail = await viewer.get(f"/dashboard/exceptions/{inbox.hold}")
        assert detail.status_code == 200 and 'name="action"' not in detail.text
        token = csrf_of(detail)  # the viewer's own, valid token: the role still refuses
        bulk = await viewer.post(
            "/dashboard/exceptions/bulk",
            data={"csrf_token": token, "action": "acknowledge", "ids": [str(inbox.hold)]},
        )
        one = await viewer.post(
            f"/dashboard/exceptions/{inbox.hold}",
            data={"csrf_token": token, "action": "resolve", "note": "viewer was here"},
        )
    assert (bulk.status_code, one.status_code) == (403, 403)
    assert snapshot(inbox.engine) == before
    assert inbox.watch.told == []


async def test_a_form_without_this_session_s_csrf_token_is_403_and_changes_nothing(
    inbox: Inbox,
) -> None:
    before = snapshot(inbox.engine)
    async with browser_as(inbox, OPERATOR) as operator:
        token = csrf_of(await operator.get("/dashboard/exceptions"))
        for csrf in ({}, {"csrf_token": "forged"}, {"csrf_token": token[:-1]}):
            one = await operator.post(
                f"/dashboard/exceptions/{inbox.hold}", data={**csrf, "action": "acknowledge"}
            )
            bulk = await operator.post(
                "/dashboard/exceptions/bulk",
                data={**csrf, "action": "acknowledge", "ids": [str(i) for i in inbox.bulk]},
            )
            assert (one.status_code, bulk.status_code) == (403, 403), csrf
        twice = await operator.post(  # a second token alongside the right one
            "/dashboard/exceptions/bulk",
            data={"csrf_token": [token, "forged"], "action": "acknowledge", "ids": "1"},
        )
        assert twice.status_code == 403
    assert snapshot(inbox.engine) == before
    assert inbox.watch.told == []


async def test_an_id_that_is_not_a_number_or_no_exception_is_404(inbox: Inbox) -> None:
    async with browser_as(inbox, OPERATOR) as operator:
        token = csrf_of(await operator.get("/dashboard/exceptions"))
        for path in ("abc", "1e3", "-1", "%F0%9F%92%A5", "99999999", "123456789012345678901"):
            page = await operator.get(f"/dashboard/exceptions/{path}")
            assert page.status_code == 404, path
            assert "There is no such exception." in text_of(page)
        posted = await operator.post(
            "/dashboard/exceptions/abc", data={"csrf_token": token, "action": "acknowledge"}
        )
        assert posted.status_code == 404
        gone = await operator.post(
            "/dashboard/exceptions/99999999", data={"csrf_token": token, "action": "acknowledge"}
        )
        assert gone.status_code == 404


async def test_markup_in_a_note_is_escaped_on_the_detail_page(inbox: Inbox) -> None:
    async with browser_as(inbox, OPERATOR) as operator:
        page = await operator.get(f"/dashboard/exceptions/{inbox.hold}")
        noted = await operator.post(
            f"/dashboard/exceptions/{inbox.hold}",
            data={"csrf_token": csrf_of(page), "action": "note", "note": XSS_NOTE},
        )
        assert noted.status_code == 303
        detail = await operator.get(noted.headers["location"])
    assert XSS_NOTE not in detail.text
    assert str(escape(XSS_NOTE)) in detail.text
    assert "Note added." in text_of(detail)


async def test_an_assignee_must_be_an_active_named_token(inbox: Inbox) -> None:
    async with browser_as(inbox, OPERATOR) as operator:
        token = csrf_of(await operator.get("/dashboard/exceptions"))
        refused = await operator.post(
            f"/dashboard/exceptions/{inbox.hold}",
            data={"csrf_token": token, "action": "assign", "assignee": "mallory"},
        )
    assert refused.status_code == 409
    assert "choose the person to assign it to" in text_of(refused)
    assert row_of(inbox.engine, inbox.hold).assignee is None


# -- the inbox ----------------------------------------------------------------------------------


async def test_the_inbox_lists_open_exceptions_most_severe_then_oldest_with_overdue_marked(
    inbox: Inbox,
) -> None:
    async with browser_as(inbox, OPERATOR) as operator:
        await operator.post(
            f"/dashboard/exceptions/{inbox.bulk[0]}",
            data={
                "csrf_token": csrf_of(await operator.get("/dashboard/exceptions")),
                "action": "resolve",
                "note": "released at the port",
            },
        )
        page = await operator.get("/dashboard/exceptions")
        resolved = await operator.get("/dashboard/exceptions", params={"state": "resolved"})
        delays = await operator.get("/dashboard/exceptions", params={"family": "departure_delay"})
        of_shipment = await operator.get("/dashboard/exceptions", params={"shipment": "T-2"})
        highs = await operator.get("/dashboard/exceptions", params={"severity": "high"})
    listed = [int(i) for i in ROW.findall(page.text)]
    # Critical holds first, the oldest (30 hours) at the top; the high delay last.
    assert listed == [inbox.hold, *inbox.bulk[1:], inbox.delay]
    overdue = re.findall(r'class="exception-row( overdue)?" data-exception="(\d+)"', page.text)
    assert [int(i) for mark, i in overdue if mark] == [inbox.hold]  # 30 h > critical's 1 h
    assert (
        "Customs hold" in text_of(page)
        and f'href="/dashboard/shipments/{SHIPMENT_ID}"' in page.text
    )
    assert [int(i) for i in ROW.findall(resolved.text)] == [inbox.bulk[0]]
    assert [int(i) for i in ROW.findall(delays.text)] == [inbox.delay]
    assert [int(i) for i in ROW.findall(of_shipment.text)] == [inbox.bulk[1]]
    assert [int(i) for i in ROW.findall(highs.text)] == [inbox.delay]
    assert re.search(r"Inbox <span[^>]*>11</span>", page.text)  # the nav link's count


async def test_the_older_link_pages_by_keyset(
    inbox: Inbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(inbox_pages, "PAGE_SIZE", 5)
    seen: list[int] = []
    async with browser_as(inbox, VIEWER) as viewer:
        path: str | None = "/dashboard/exceptions"
        while path is not None:
            page = await viewer.get(path)
            assert page.status_code == 200
            seen.extend(int(i) for i in ROW.findall(page.text))
            older = re.search(r'<a href="([^"]+)" rel="next">Older</a>', page.text)
            path = html.unescape(older.group(1)) if older else None
            assert path is None or "offset" not in path
        tampered = await viewer.get("/dashboard/exceptions", params={"after": "x_y_z"})
    assert seen == [inbox.hold, *inbox.bulk, inbox.delay]
    assert tampered.status_code == 200  # the first page


# -- acting -------------------------------------------------------------------------------------


async def test_bulk_acknowledge_with_one_note_and_the_refusals_said(inbox: Inbox) -> None:
    async with browser_as(inbox, OPERATOR) as operator:
        token = csrf_of(await operator.get("/dashboard/exceptions"))
        await operator.post(
            f"/dashboard/exceptions/{inbox.bulk[0]}",
            data={"csrf_token": token, "action": "acknowledge"},
        )
        inbox.watch.told.clear()
        answer = await operator.post(
            "/dashboard/exceptions/bulk",
            data={
                "csrf_token": token,
                "action": "acknowledge",
                "note": "calling the broker",
                "ids": [str(i) for i in inbox.bulk] + ["not-an-id", "99999999"],
            },
        )
    assert answer.status_code == 200
    said = text_of(answer)
    assert "9 done, 2 refused" in said
    assert f"#{inbox.bulk[0]} : already acknowledged by {OPERATOR}" in said
    assert "#99999999 : There is no such exception." in said
    for exception_id in inbox.bulk[1:]:
        assert row_of(inbox.engine, exception_id).acknowledged_by == OPERATOR
        assert notes_of(inbox.engine, exception_id)[-1] == (
            OPERATOR,
            "acknowledged",
            "calling the broker",
        )
    assert inbox.watch.told == inbox.bulk[1:]
    with Session(inbox.engine) as session:
        audited = session.exec(
            select(AuditEntry).where(AuditEntry.action == "exception.acknowledge")
        ).all()
    assert audited[-1].target == ",".join(str(i) for i in inbox.bulk[1:])


async def test_the_detail_page_acts_and_says_why_it_refuses(inbox: Inbox) -> None:
    async with browser_as(inbox, OPERATOR) as operator:
        path = f"/dashboard/exceptions/{inbox.hold}"
        token = csrf_of(await operator.get(path))

        async def do(action: str, **extra: str) -> httpx.Response:
            return await operator.post(path, data={"csrf_token": token, "action": action, **extra})

        assert (await do("acknowledge")).status_code == 303
        again = await do("acknowledge")
        assert again.status_code == 409
        assert f"Refused: already acknowledged by {OPERATOR}" in text_of(again)
        assert (await do("assign", assignee=OTHER_OPERATOR, note="yours")).status_code == 303
        until = (datetime.now(UTC) + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
        assert (await do("snooze", until=until)).status_code == 303
        no_note = await do("resolve")
        assert no_note.status_code == 409
        assert "a note is required: customs hold resolves itself" in text_of(no_note)
        assert (await do("resolve", note="released by phone")).status_code == 303
        assert (await do("reopen", note="still held")).status_code == 303
        page = await operator.get(path)
    said = text_of(page)
    assert [what for _, what, _ in notes_of(inbox.engine, inbox.hold)][1:] == [
        "acknowledged",
        "assigned",
        f"snoozed until {until.replace('T', ' ')} UTC",
        "resolved",
        "reopened",
    ]
    assert "Flexport event hold-1" in said and "released by phone" in said
    assert "to bo-ops: yours" in said
    assert inbox.watch.told == [inbox.hold] * 5
    assert row_of(inbox.engine, inbox.hold).state == "open"


async def test_a_watch_that_cannot_be_told_is_a_warning_and_its_change_is_kept_for_the_relay(
    inbox: Inbox, caplog: pytest.LogCaptureFixture
) -> None:
    inbox.watch.fail = True
    caplog.set_level(logging.WARNING, logger="flexhook.watch_relay")
    async with browser_as(inbox, OPERATOR) as operator:
        path = f"/dashboard/exceptions/{inbox.delay}"
        token = csrf_of(await operator.get(path))
        answer = await operator.post(
            path, data={"csrf_token": token, "action": "note", "note": "secret-ish words"}
        )
    assert answer.status_code == 303
    assert notes_of(inbox.engine, inbox.delay)[-1][1] == "noted"
    warnings = [r.getMessage() for r in caplog.records if r.name == "flexhook.watch_relay"]
    assert warnings == [
        f"the watch of exception {inbox.delay} was not told of its change (ConnectionError): 1 "
        "left for the relay to tell when Temporal answers"
    ]
    assert untold(inbox.engine) == [inbox.delay]


async def test_a_release_clears_the_hold_and_the_inbox_shows_it_resolved(inbox: Inbox) -> None:
    record(inbox.engine, RELEASE, SHIPMENT_ID, "release-1", ago=timedelta(minutes=1))
    async with browser_as(inbox, VIEWER) as viewer:
        page = await viewer.get(f"/dashboard/exceptions/{inbox.hold}")
    said = text_of(page)
    assert "Resolved by flexport:release-1" in said


# -- landing and the shipment page ---------------------------------------------------------------


async def test_operators_land_on_the_inbox_and_viewers_on_the_shipments(inbox: Inbox) -> None:
    async with browser_as(inbox, OPERATOR) as operator:
        home = await operator.get("/dashboard/")
        assert home.headers["location"] == "/dashboard/exceptions"
    async with browser_as(inbox, VIEWER) as viewer:
        home = await viewer.get("/dashboard/")
        assert home.headers["location"] == "/dashboard/shipments"
        shipment = await viewer.get(f"/dashboard/shipments/{SHIPMENT_ID}")
    assert shipment.status_code == 200
    links = re.findall(r'href="/dashboard/exceptions/(\d+)"', shipment.text)
    assert [int(i) for i in links] == [inbox.hold, inbox.delay]
    assert "Departure delay" in text_of(shipment)
