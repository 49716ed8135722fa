"""Recipients with preferences through the whole pipeline (`/api/recipients`): quiet hours hold
routine alerts until they end while urgent ones go through; a digest recipient hears nothing at
once and one digest a day, worker restarts included. Real SMTP, json:// to a real local HTTP
server, the real dev server's timers (quiet hours and digests set to end a few seconds ahead)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy.engine import Engine
from sqlmodel import Session
from temporalio.client import WorkflowExecutionStatus
from temporalio.service import RPCError

from activities.digest import DigestSender
from activities.recipient_types import RecipientInput, recipient_workflow_id
from app.bootstrap import wire_activities
from app.cli import main
from app.core.events import parse_event
from app.core.exception_families import exception_effect
from app.store import exceptions
from notifications.destinations import NotifyConfig
from notifications.notifier import Notifier, check_url
from notifications.render import Renderer
from tests.helpers import eventually
from tests.integration.harness import (
    LOCAL,
    Inbox,
    Samples,
    Stack,
    StackFactory,
    add_recipient,
    ledger,
    mailto,
    minute_ahead,
)
from tests.log_registry import register_secret
from workflows.recipient import RecipientWorkflow
from workflows.worker import ACTIVITY_THREADS, build_worker

pytestmark = pytest.mark.integration

NAME = "SS26 Apparel - Yantian to LA #3"
KOLKATA = ZoneInfo("Asia/Kolkata")  # UTC+05:30: the rules are read in the recipient's zone


def json_url(port: int, *, secret: str | None = None) -> str:
    """A json:// URL unique to the test (recipient workflows are named after their URL)."""
    credentials = f"user:{secret}@" if secret else ""
    return f"json://{credentials}127.0.0.1:{port}/{uuid.uuid4().hex[:12]}"


async def until_moment(moment: datetime, *, extra: float = 0.0) -> None:
    await asyncio.sleep(max(0.0, (moment - datetime.now(moment.tzinfo)).total_seconds() + extra))


async def sleeping(stack: Stack, url: str) -> None:
    """Until the URL's recipient workflow has had its first look and sleeps on its timer."""
    handle = stack.client.get_workflow_handle(recipient_workflow_id(check_url(url).id))
    for _ in range(100):
        with contextlib.suppress(RPCError):
            history = await handle.fetch_history()
            if any(e.HasField("timer_started_event_attributes") for e in history.events):
                return
        await asyncio.sleep(0.1)
    raise AssertionError("the recipient workflow did not start its timer")


def exception_event(samples: Samples) -> bytes:
    """Flexport's weather delay of the same shipment, after its departure and arrival."""
    return samples.body(
        "01_shipment_created",
        id=samples.fresh_id(77001),
        type="/shipment#weather_delay",
        occurred_at="2026-03-20T00:00:00.000Z",
    )


def open_customs_hold(engine: Engine, samples: Samples, *, by: str) -> None:
    """A customs hold on the shipment in the inbox, acknowledged and assigned by `by`."""
    flexport = parse_event(
        samples.body("01_shipment_created", type="/shipment#customs_agriculture_hold")
    )
    now = datetime.now(UTC)
    with Session(engine) as session:
        [opened] = exceptions.record_event(
            session,
            shipment_id="418563",
            event_id=flexport.event_id,
            occurred_at=now - timedelta(hours=5),
            effect=exception_effect(flexport.type, flexport.classification, flexport.facts()),
            severities={},
            now=now - timedelta(hours=5),
        )
        for action in ("acknowledge", "assign"):
            exceptions.act(
                session, exception_id=opened.exception_id, action=action, by=by, assignee=by, at=now
            )
        session.commit()


def kinds_posted(posted: list[dict[str, Any]], path: str) -> list[str]:
    """What json:// posted to `path`, by the first word of each title, in the order it came."""
    return [
        str(post["body"]["title"]).split()[0].rstrip(":").lower()
        for post in posted
        if post["path"] == path
    ]


# -- the API -----------------------------------------------------------------------------------


async def test_recipients_are_validated_and_shown_in_privacy_form_only(
    make_stack: StackFactory, json_endpoint: tuple[list[dict[str, Any]], int]
) -> None:
    _posted, port = json_endpoint
    stack = await make_stack()
    register_secret("hunter2-recipient")
    url = json_url(port, secret="hunter2-recipient")

    refusals: dict[str, tuple[dict[str, Any], str]] = {
        "bogus URL": ({"url": "bogus://nowhere"}, "bogus"),
        "no url": ({"kinds": ["departed"]}, "expected"),
        "unknown field": ({"url": url, "quiet_hour": "22:00-07:00"}, "quiet_hour"),
        "unknown kind": ({"url": url, "kinds": ["gossip"]}, "gossip"),
        "shipments": ({"url": url, "shipments": "418563"}, "list of strings"),
        "zone": ({"url": url, "timezone": "Mars/Olympus"}, "Mars/Olympus"),
        "time": ({"url": url, "delivery": "digest", "digest_at": "25:00"}, "24-hour"),
        "digest_at": ({"url": url, "delivery": "digest"}, "digest_at"),
        "quiet": ({"url": url, "quiet_hours": "22:00"}, "HH:MM-HH:MM"),
        "both": (
            {"url": url, "delivery": "digest", "digest_at": "08:00", "quiet_hours": "22:00-7:00"},
            "quiet_hours apply to instant",
        ),
        "delivery": ({"url": url, "delivery": "hourly"}, "hourly"),
    }
    for name, (body, reason) in refusals.items():
        response = await add_recipient(stack, **body)
        assert response.status_code == 400, name
        assert reason in response.json()["detail"], (name, response.json())
        assert "hunter2" not in response.text

    created = await add_recipient(
        stack,
        url=url,
        kinds=["departed", "arrived"],
        shipments=[418563],
        delivery="digest",
        digest_at="7:30",
        timezone="Asia/Kolkata",
    )
    assert created.status_code == 201, created.text
    again = await add_recipient(stack, url=url)
    assert again.status_code == 409
    assert again.json()["error"] == "recipient_exists"

    listed = (await stack.api("/recipients")).json()["recipients"]
    assert [r["id"] for r in listed] == [created.json()["id"]]
    [recipient] = listed
    assert recipient["url"].startswith("json://****:****@127.0.0.1:")
    assert "hunter2" not in json.dumps(listed)
    assert (recipient["digest_at"], recipient["shipments"]) == ("07:30", ["418563"])
    assert (recipient["delivery"], recipient["timezone"]) == ("digest", "Asia/Kolkata")
    assert "hunter2" not in created.text and "hunter2" not in again.text

    headers = {"authorization": f"Bearer {stack.api_token}"}
    path = f"/api/recipients/{recipient['id']}"
    assert (await stack.http.delete(path, headers=headers)).status_code == 204
    assert (await stack.http.delete(path, headers=headers)).status_code == 404
    assert (await stack.api("/recipients")).json()["recipients"] == []
    # The per-shipment endpoint is another collection, unchanged.
    assert (await stack.api("/shipments/418563/subscriptions")).json()["subscriptions"] == []


# -- quiet hours -----------------------------------------------------------------------------


async def test_quiet_hours_hold_routine_alerts_until_they_end_and_let_an_exception_through(
    make_stack: StackFactory,
    samples: Samples,
    json_endpoint: tuple[list[dict[str, Any]], int],
    tmp_path: Path,
) -> None:
    posted, port = json_endpoint
    end = minute_ahead(KOLKATA)
    quiet = f"{end - timedelta(hours=3):%H:%M}-{end:%H:%M}"
    # One recipient through the API, one in the configuration file's flexhook: section.
    url, configured = json_url(port), json_url(port)
    config = tmp_path / "notifications.yml"
    config.write_text(
        "urls:\n"
        f'  - "{configured}":\n'
        "      tag: departed, arrived, eta, exception, night-owls\n"
        "flexhook:\n"
        "  preferences:\n"
        "    - tag: night-owls\n"
        f'      quiet_hours: "{quiet}"\n'
        "      timezone: Asia/Kolkata\n",
        encoding="utf-8",
    )
    stack = await make_stack(notify_config=config)
    created = await add_recipient(stack, url=url, quiet_hours=quiet, timezone="Asia/Kolkata")
    assert created.status_code == 201, created.text
    paths = ["/" + u.rsplit("/", 1)[-1] for u in (url, configured)]

    await stack.deliver(samples.body("06_leg_departed"))
    await stack.deliver(samples.body("09_leg_arrived"))  # with it, an ETA move
    await stack.deliver(exception_event(samples))

    for path in paths:
        assert kinds_posted(posted, path) == ["exception"]  # urgent: at once
    held = sorted(await ledger(stack, status="held"), key=lambda row: int(row["id"]))
    by_destination: dict[str, list[str]] = {}
    for row in held:
        by_destination.setdefault(row["destination_id"], []).append(row["kind"])
    assert len(by_destination) == 2
    routine, again = by_destination.values()
    assert routine == again
    assert routine[0] == "departed" and "arrived" in routine and "exception" not in routine

    await until_moment(end)
    for path in paths:
        await eventually(partial(lambda at: len(kinds_posted(posted, at)) > len(routine), path))
        assert kinds_posted(posted, path) == ["exception", *routine]  # once each, in order
    await asyncio.sleep(2)
    assert len(posted) == 2 * (1 + len(routine))
    rows = await ledger(stack, shipment_id="418563")
    assert {r["status"] for r in rows} == {"sent"} and len(rows) == 2 * (1 + len(routine))


# -- the daily digest ------------------------------------------------------------------------


async def test_a_digest_recipient_hears_nothing_at_once_and_one_digest_at_digest_at(
    make_stack: StackFactory,
    samples: Samples,
    smtp: tuple[Inbox, int],
    json_endpoint: tuple[list[dict[str, Any]], int],
) -> None:
    inbox, smtp_port = smtp
    posted, json_port = json_endpoint
    stack = await make_stack()
    due = minute_ahead(KOLKATA)
    digest = {"delivery": "digest", "digest_at": f"{due:%H:%M}", "timezone": "Asia/Kolkata"}
    by_mail = await add_recipient(
        stack, url=mailto(smtp_port, "digest@example.com"), audience="external", **digest
    )
    quiet_day = json_url(json_port)  # only customs: nothing happens to it today
    by_json = await add_recipient(stack, url=quiet_day, kinds=["customs"], **digest)
    assert by_mail.status_code == by_json.status_code == 201

    await stack.deliver(samples.body("06_leg_departed"))
    await stack.deliver(samples.body("09_leg_arrived"))
    await stack.deliver(exception_event(samples))
    assert inbox.messages() == []  # nothing at once, not even the exception
    held = await ledger(stack, shipment_id="418563")
    assert {r["status"] for r in held} == {"held"}
    assert sorted(r["kind"] for r in held) == ["arrived", "departed", "eta", "eta", "exception"]
    open_customs_hold(stack.engine, samples, by="Ana Operator")

    # The customs-only recipient's workflow runs too (as after a held alert or a restart).
    destination = check_url(quiet_day).id
    quiet_handle = await stack.client.start_workflow(
        RecipientWorkflow.run,
        RecipientInput(destination_id=destination),
        id=recipient_workflow_id(destination),
        task_queue=stack.task_queue,
    )

    await until_moment(due)
    await eventually(lambda: len(inbox.messages()) == 1, timeout=20)
    [message] = inbox.messages()
    assert message["To"] == "digest@example.com"
    assert "Daily digest" in message["Subject"] and "5 shipment updates" in message["Subject"]
    html = message.get_body(("html",))
    text = message.get_body(("plain",))
    assert html is not None and text is not None
    content = html.get_content()
    assert "<table" in content
    for heading in ("Departed (1)", "Arrived (1)", "ETA moved (2)", "Exceptions (1)"):
        assert heading in content
    assert "In transit (1)" in content  # arrived at Los Angeles, not delivered yet
    assert NAME in content and "Yantian" in content and "Los Angeles" in content
    assert NAME in text.get_content()
    # The shipment's tracking link, once, and no page the reader would have to sign in to.
    [token] = re.findall(r"http://flexhook\.test/track/([A-Za-z0-9_-]{43})", text.get_content())
    register_secret(token)
    assert "Track these shipments" in content and "/dashboard/" not in content
    assert "/api/" not in content
    # The open exceptions, without the names of the team's people an external reader gets.
    assert "Open exceptions (" in content and "Customs hold" in content
    assert "Acknowledged" in content and "5 h" in content
    assert "Ana Operator" not in content and "Ana Operator" not in text.get_content()

    await asyncio.sleep(3)
    assert len(inbox.messages()) == 1
    assert posted == []  # an empty day sends nothing
    rows = await ledger(stack)
    [sent] = [r for r in rows if r["kind"] == "digest"]
    assert sent["status"] == "sent" and sent["event_id"].endswith(f":{due:%Y-%m-%d}")
    assert sorted(r["status"] for r in rows if r["kind"] != "digest") == ["sent"] * 5
    history = json.dumps((await quiet_handle.fetch_history()).to_json_dict())
    assert history.count('"wake_recipient"') >= 2  # it woke at digest_at, and had nothing to say
    assert (await quiet_handle.describe()).status == WorkflowExecutionStatus.RUNNING


@contextlib.asynccontextmanager
async def worker(stack: Stack) -> AsyncIterator[None]:
    """One worker process's worth: its own activities over the stack's database."""
    notifier = Notifier(
        Renderer(), public_url="http://flexhook.test", timeout=10, destination_allow=LOCAL
    )
    activities = wire_activities(
        stack.engine,
        client=stack.client,
        task_queue=stack.task_queue,
        notifier=notifier,
        config=NotifyConfig(None),
        digests=DigestSender(Renderer(), destination_allow=LOCAL),
    )
    with ThreadPoolExecutor(ACTIVITY_THREADS) as executor:
        running = build_worker(
            stack.client, task_queue=stack.task_queue, activities=activities, executor=executor
        )
        async with running:
            yield


async def test_the_digest_goes_out_once_across_worker_restarts(
    make_stack: StackFactory, samples: Samples, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    stack = await make_stack(with_worker=False)
    due = minute_ahead(KOLKATA, margin=15)
    created = await add_recipient(
        stack,
        url=mailto(port, to="restart@example.com"),
        delivery="digest",
        digest_at=f"{due:%H:%M}",
        timezone="Asia/Kolkata",
    )
    assert created.status_code == 201, created.text

    async with worker(stack):
        await stack.deliver(samples.body("06_leg_departed"))
        await sleeping(stack, mailto(port, to="restart@example.com"))
    await until_moment(due, extra=2)  # the digest falls due while no worker runs
    assert inbox.messages() == []

    async with worker(stack):
        await eventually(lambda: len(inbox.messages()) == 1, timeout=30)
    async with worker(stack):  # and again: the next digest is tomorrow's
        await asyncio.sleep(3)
    assert len(inbox.messages()) == 1
    assert "1 shipment update" in inbox.messages()[0]["Subject"]
    [digest] = [r for r in await ledger(stack) if r["kind"] == "digest"]
    assert (digest["status"], digest["attempts"]) == ("sent", 1)


# -- the dashboard and the CLI ---------------------------------------------------------------

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def test_the_dashboard_adds_and_removes_recipients_behind_its_csrf_token(
    make_stack: StackFactory, json_endpoint: tuple[list[dict[str, Any]], int]
) -> None:
    _posted, port = json_endpoint
    stack = await make_stack()
    register_secret("hunter2-dashboard")
    url = json_url(port, secret="hunter2-dashboard")
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as browser:
        signed = await browser.post("/dashboard/sign-in", data={"token": stack.api_token})
        assert signed.status_code == 303
        page = await browser.get("/dashboard/recipients")
        assert page.status_code == 200 and "No recipient yet" in page.text
        found = CSRF.search(page.text)
        assert found is not None
        token = found.group(1)
        form = {
            "action": "add",
            "url": url,
            "kind_departed": "1",
            "shipments": "418563, 99",
            "delivery": "instant",
            "timezone": "Asia/Kolkata",
            "quiet_from": "22:00",
            "quiet_to": "07:00",
        }

        forged = await browser.post("/dashboard/recipients", data={**form, "csrf_token": "x"})
        refused = await browser.post(
            "/dashboard/recipients", data={**form, "csrf_token": token, "timezone": "Mars/Base"}
        )
        added = await browser.post("/dashboard/recipients", data={**form, "csrf_token": token})

        assert forged.status_code == 403
        assert refused.status_code == 400 and "unknown timezone" in refused.text
        assert "hunter2" not in refused.text and "127.0.0.1" not in refused.text  # no URL echo
        assert added.status_code == 303
        listing = await browser.get(added.headers["location"])
        assert "Recipient 1 added" in listing.text and "hunter2" not in listing.text
        assert "quiet 22:00-07:00" in listing.text and "418563, 99" in listing.text
        [recipient] = (await stack.api("/recipients")).json()["recipients"]
        assert (recipient["kinds"], recipient["quiet_hours"]) == (["departed"], "22:00-07:00")

        removed = await browser.post(
            "/dashboard/recipients",
            data={"csrf_token": token, "action": "remove", "id": recipient["id"]},
        )
        assert removed.status_code == 303
        assert (await stack.api("/recipients")).json()["recipients"] == []


def test_the_cli_adds_lists_and_removes_recipients(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'flexhook.db'}")
    monkeypatch.setenv("FLEXHOOK_DESTINATION_ALLOW", "127.0.0.1")
    runner = CliRunner()
    assert runner.invoke(main, ["db", "upgrade"]).exit_code == 0
    register_secret("hunter2-cli")
    url = "json://user:hunter2-cli@127.0.0.1:9/hook"

    added = runner.invoke(
        main,
        [
            "recipients",
            "add",
            url,
            "--delivery",
            "digest",
            "--digest-at",
            "08:00",
            "--timezone",
            "Europe/Berlin",
            "--kinds",
            "departed,arrived",
        ],
    )
    refused = runner.invoke(main, ["recipients", "add", url, "--quiet-hours", "late"])
    listed = runner.invoke(main, ["recipients", "list"])

    assert added.exit_code == 0, added.output
    assert "digest at 08:00 (Europe/Berlin)" in added.output
    assert refused.exit_code != 0 and "quiet_hours" in refused.output
    assert (
        listed.output.startswith("1\tjson://****:****@127.0.0.1:9/****")
        and "arrived,departed" in listed.output
    )
    assert "hunter2" not in added.output + refused.output + listed.output
    assert runner.invoke(main, ["recipients", "remove", "1"]).exit_code == 0
    assert runner.invoke(main, ["recipients", "remove", "1"]).exit_code != 0
    assert runner.invoke(main, ["recipients", "list"]).output == ""
