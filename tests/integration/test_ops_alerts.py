"""Ops alerts (Apprise tag `ops`) through the real pipeline: a real Temporal dev server, real
SMTP, a real HTTP endpoint for json://. Each incident is alerted once however often it is seen
(redeliveries, replays, retries, a second web replica), and once more when it recovers; no
message holds a secret, a token or a payload."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import timedelta
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlmodel import Session
from temporalio.client import Client, WorkflowFailureError
from temporalio.testing import WorkflowEnvironment

from app.store.models import EventRecord
from tests.helpers import eventually
from tests.integration.harness import (
    Inbox,
    Samples,
    Stack,
    StackFactory,
    TcpGate,
    free_port,
    mailto,
    write_config,
)
from tests.log_registry import register_secret

pytestmark = pytest.mark.integration


ONCALL = "oncall@example.com"


def text_of(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return f"{message['Subject']}\n{part.get_content()}"


def assert_nothing_secret(texts: list[str], stack: Stack, *also: str) -> None:
    for text in texts:
        for secret in (stack.secret, stack.api_token, *also):
            assert secret not in text


async def run_fails(stack: Stack, event_id: str) -> None:
    with pytest.raises(WorkflowFailureError):
        await stack.wait(event_id)


def broken_event(samples: Samples) -> bytes:
    payload = samples.payload("21_compact_shipment_milestone")
    payload["data"]["occurred_at"] = "not a time"
    return json.dumps(payload).encode()


# -- (1) an event that fails processing -----------------------------------------------------------


async def test_a_failing_event_alerts_ops_once_however_often_it_runs(
    make_stack: StackFactory, samples: Samples, smtp: tuple[Inbox, int], tmp_path: Path
) -> None:
    inbox, port = smtp
    config = write_config(
        tmp_path / "notifications.yml",
        (mailto(port, ONCALL), "ops"),
        (mailto(port, "x@example.com"), "departed, eta"),
    )
    stack = await make_stack(notify_config=config)
    body = broken_event(samples)
    headers = {"authorization": f"Bearer {stack.api_token}"}

    first = (await stack.post(body)).json()
    await run_fails(stack, first["event_id"])
    redelivered = (await stack.post(body)).json()  # Flexport again: a new run, failing again
    await run_fails(stack, first["event_id"])
    redriven = await stack.http.post(f"/api/events/{first['event_id']}/redrive", headers=headers)
    await run_fails(stack, first["event_id"])

    assert (redelivered["status"], redriven.json()["status"]) == ("accepted", "accepted")
    [message] = inbox.messages()
    assert message["To"] == ONCALL
    assert message["Subject"] == f"flexhook: event {first['event_id']} failed processing"
    text = text_of(message)
    event = json.loads(body)
    for fact in (first["event_id"], event["type"], str(event["data"]["shipment_id"])):
        assert fact in text
    assert "not a time" in text  # the error's first line
    assert f"http://flexhook.test/dashboard/events/{first['event_id']}" in text
    assert_nothing_secret([text, message.as_string()], stack, body.decode())
    assert (await stack.api(f"/events/{first['event_id']}")).json()["status"] == "failed"


async def test_a_failed_event_that_a_redrive_processes_tells_ops_it_is_over(
    make_stack: StackFactory, samples: Samples, smtp: tuple[Inbox, int], tmp_path: Path
) -> None:
    inbox, port = smtp
    config = write_config(tmp_path / "notifications.yml", (mailto(port, ONCALL), "ops"))
    stack = await make_stack(notify_config=config)
    body = broken_event(samples)
    event_id = (await stack.post(body)).json()["event_id"]
    await run_fails(stack, event_id)
    # What an upgrade that reads the value would do: here, the logged payload made readable.
    fixed = json.loads(body)
    fixed["data"]["occurred_at"] = "2026-02-26T13:20:00Z"
    with Session(stack.engine) as session:
        row = session.get(EventRecord, event_id)
        assert row is not None
        row.payload = json.dumps(fixed)
        session.commit()

    headers = {"authorization": f"Bearer {stack.api_token}"}
    rerun = await stack.http.post(f"/api/events/{event_id}/redrive", headers=headers)
    await stack.wait(event_id)

    assert rerun.json()["status"] == "accepted"
    failed, over = inbox.messages()
    assert "failed processing" in failed["Subject"]
    assert over["Subject"] == f"flexhook: event {event_id} processed after all"
    assert_nothing_secret([text_of(over)], stack, body.decode(), json.dumps(fixed))


async def test_an_ops_target_that_is_down_hears_of_the_failure_at_the_next_run(
    make_stack: StackFactory, samples: Samples, tmp_path: Path
) -> None:
    port = free_port()  # nothing listens here yet
    config = write_config(tmp_path / "notifications.yml", (mailto(port, ONCALL), "ops"))
    stack = await make_stack(notify_config=config)
    body = broken_event(samples)

    event_id = (await stack.post(body)).json()["event_id"]
    await run_fails(stack, event_id)  # failed all the same: the ops alert never fails it
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        await stack.post(body)
        await run_fails(stack, event_id)
        await stack.post(body)
        await run_fails(stack, event_id)
    finally:
        controller.stop()

    [message] = inbox.messages()
    assert event_id in message["Subject"]


# -- (2) a destination that keeps failing until its retries run out -------------------------------


class JsonReceiver:
    """A real HTTP server for json:// on a port chosen beforehand, started when a test says."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.received: list[dict[str, Any]] = []

    @contextmanager
    def serving(self) -> Iterator[None]:
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                received.append(json.loads(self.rfile.read(length)))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield
        finally:
            server.shutdown()
            server.server_close()
            thread.join()


async def test_a_destination_whose_retries_run_out_alerts_ops_once_and_once_when_it_heals(
    make_stack: StackFactory, samples: Samples, smtp: tuple[Inbox, int], tmp_path: Path
) -> None:
    inbox, smtp_port = smtp
    password = "s3cr3t-hook-password"
    register_secret(password)
    hook = JsonReceiver(free_port())  # down until the end
    failing = f"json://flexhook:{password}@127.0.0.1:{hook.port}/hook"
    config = write_config(
        tmp_path / "notifications.yml",
        (failing, "departed, arrived, delivered"),
        (mailto(smtp_port, ONCALL), "ops"),
    )
    # The workflow retries a send for 15 minutes; this worker gives up after 2 seconds.
    stack = await make_stack(notify_config=config, give_up_after=timedelta(seconds=2))

    departed = await stack.deliver(samples.body("06_leg_departed"))
    arrived = await stack.deliver(samples.body("09_leg_arrived"))  # fails there again

    [alert] = inbox.messages()
    text = text_of(alert)
    assert "keep failing" in alert["Subject"] and "127.0.0.1" in alert["Subject"]
    assert departed["event_id"] in text and "departed" in text and "418563" in text
    assert "Apprise could not deliver" in text
    rows = (await stack.api("/notifications", shipment_id="418563")).json()["notifications"]
    assert sorted(row["status"] for row in rows) == ["failed", "failed"]
    assert {row["event_id"] for row in rows} == {departed["event_id"], arrived["event_id"]}

    with hook.serving():
        await stack.deliver(samples.body("14_leg_delivered"))

    assert len(hook.received) == 1
    first, healed = inbox.messages()
    assert "reach" in healed["Subject"] and "again" in healed["Subject"]
    texts = [text_of(first), text_of(healed), first.as_string(), healed.as_string()]
    assert_nothing_secret(texts, stack, password)


# -- (3) a spool that stays non-empty, or Temporal unreachable ------------------------------------


@pytest.fixture
async def gate(temporal_env: WorkflowEnvironment) -> AsyncIterator[TcpGate]:
    """A gate in front of the shared Temporal server, shut at first."""
    host, port = temporal_env.client.service_client.config.target_host.rsplit(":", 1)
    gate = TcpGate(int(port), target_host=host)
    yield gate
    await gate.shut()


async def test_a_stuck_spool_alerts_ops_once_across_replicas_and_once_when_it_drains(
    make_stack: StackFactory,
    samples: Samples,
    gate: TcpGate,
    json_endpoint: tuple[list[dict[str, Any]], int],
    tmp_path: Path,
) -> None:
    posted, port = json_endpoint
    config = write_config(tmp_path / "notifications.yml", (f"json://127.0.0.1:{port}/ops", "ops"))
    away = {"rpc_timeout": 1, "notify_config": config, "ops_alert_after": timedelta(seconds=1)}
    first = await make_stack(client=await Client.connect(gate.address, lazy=True), **away)

    answer = (await first.post(samples.body("06_leg_departed"))).json()
    assert answer["status"] == "queued"
    await eventually(lambda: len(posted) >= 1, what="the ops alert")
    # A second web process on the same database (or the first one restarted) sees it too.
    database_url = first.engine.url.render_as_string(hide_password=False)
    second = await make_stack(
        client=await Client.connect(gate.address, lazy=True), database_url=database_url, **away
    )
    await asyncio.sleep(3)  # a few looks by both

    [stuck] = [entry["body"] for entry in posted]
    assert stuck["type"] == "failure"
    assert "Incident spool-stuck" in stuck["message"]
    assert "Spool depth: 1" in stuck["message"] or "Temporal unreachable" in stuck["title"]

    await gate.open()

    async def processed() -> bool:
        status: str = (await first.api(f"/events/{answer['event_id']}")).json()["status"]
        return status == "processed"

    await eventually(processed, timeout=60, what="the queued event to be processed")
    await eventually(lambda: len(posted) >= 2, what="the recovery alert")
    await asyncio.sleep(3)

    assert len(posted) == 2
    recovered = posted[1]["body"]
    assert recovered["type"] == "success"
    assert "spool drained" in recovered["title"] and "Incident spool-stuck" in recovered["message"]
    texts = [json.dumps(entry["body"]) for entry in posted]
    assert_nothing_secret(texts, first, second.secret, second.api_token)
    assert (await second.api("/spool")).json()["depth"] == 0
