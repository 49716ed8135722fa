"""The issue's acceptance scenario, on one stack: a shipment's journey with a duplicated departure
under a new id, an ETA that passes, a recipient in quiet hours and one on a digest, and a failing
event: exactly the expected messages, each once, across a worker restart.

Real parts only: the Temporal dev server and its durable timers, an SQLite file, aiosmtpd for
email, a loopback HTTP server for json://. Who hears what:

- `instant` (configuration file, email): every alert at once, each once;
- `quiet` (`POST /api/recipients`, json://): in quiet hours that end while the test runs; the
  missed ETA (urgent) at once, the routine alerts held and sent once each, in order, at the end;
- `digest` (`POST /api/recipients`, email): nothing at once, one digest at digest_at (when the
  quiet hours end);
- `oncall` (configuration file, email, tag `ops`): one alert for the event that fails, however
  often it is delivered.

Quiet hours and digest_at are whole minutes: they end at the first whole minute at least `MARGIN`
seconds after the recipients are added, so the test takes MARGIN to MARGIN + 60 s, plus a few.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from temporalio.client import WorkflowExecutionStatus, WorkflowFailureError
from temporalio.service import RPCError

from activities.digest import DigestSender
from app.bootstrap import wire_activities
from app.core.ids import eta_watch_workflow_id
from app.store.ops_incidents import IncidentBook
from notifications.destinations import NotifyConfig
from notifications.notifier import Notifier
from notifications.ops_notifier import OpsNotifier
from notifications.ops_reporter import OpsReporter
from notifications.render import Renderer
from notifications.send_limits import SendLimits
from tests.helpers import eventually
from tests.integration.harness import (
    LOCAL,
    Inbox,
    JsonEndpoint,
    Received,
    Samples,
    Stack,
    StackFactory,
    add_recipient,
    ledger,
    mailto,
    minute_ahead,
    write_config,
)
from workflows.eta_watch import ALERTED
from workflows.worker import ACTIVITY_THREADS, build_worker

pytestmark = pytest.mark.integration


# -- the scenario --------------------------------------------------------------------------------


async def test_a_journey_alerts_each_recipient_exactly_once_across_a_worker_restart(
    make_stack: StackFactory,
    samples: Samples,
    smtp: tuple[Inbox, int],
    json_server: JsonEndpoint,
    tmp_path: Path,
) -> None:
    inbox, smtp_port = smtp
    posted, http_port = json_server.received, json_server.port
    tag = uuid.uuid4().hex[:10]  # recipient workflows are named after their URL
    instant, digest, oncall = (f"{who}-{tag}@example.com" for who in ("instant", "digest", "ops"))
    quiet_path = f"/quiet-{tag}"
    config = write_config(
        tmp_path / "notifications.yml",
        (mailto(smtp_port, instant), ALL_KINDS),
        (mailto(smtp_port, oncall), "ops"),
    )
    stack = await make_stack(with_worker=False, notify_config=config, eta_grace=GRACE)
    await clear_watch(stack)

    end = minute_ahead(KOLKATA, margin=MARGIN)  # of the quiet hours, and the digest's time
    quiet_recipient = await add_recipient(
        stack,
        url=f"json://127.0.0.1:{http_port}{quiet_path}",
        quiet_hours=f"{end - timedelta(hours=3):%H:%M}-{end:%H:%M}",
        timezone="Asia/Kolkata",
    )
    digest_recipient = await add_recipient(
        stack,
        url=mailto(smtp_port, digest),
        delivery="digest",
        digest_at=f"{end:%H:%M}",
        timezone="Asia/Kolkata",
    )
    assert quiet_recipient.status_code == digest_recipient.status_code == 201

    # -- the first worker: up to the departure, its duplicate, the failing event and the ETA
    async with worker(stack, config):
        for name in BEFORE_DEPARTURE:
            await stack.deliver(samples.body(name))
        departed = await stack.deliver(samples.body("06_leg_departed"))
        duplicate = await stack.deliver(
            samples.body("06_leg_departed", id=samples.fresh_id(60001))  # same leg, same time
        )
        assert duplicate["status"] == "accepted" and duplicate["event_id"] != departed["event_id"]
        failed = await fails(stack, unreadable_event(samples))
        await eventually(lambda: len(to(inbox.received, oncall)) == 1, what="the ops alert")
        eta = datetime.now(UTC) + ETA_AHEAD
        await stack.deliver(eta_that_passes(samples, eta=eta))
        watch = stack.client.get_workflow_handle(eta_watch_workflow_id(SHIPMENT))
        assert (await watch.describe()).status == WorkflowExecutionStatus.RUNNING

    # -- no worker while the ETA and its grace pass: the timer fires on the server and waits
    await asyncio.sleep(max(0.0, (eta + GRACE - datetime.now(UTC)).total_seconds() + 0.5))
    assert "eta_missed" not in kinds(inbox.received + posted)

    # -- a new worker on the same task queue: the missed ETA, the failing event again, the rest
    async with worker(stack, config):
        assert await asyncio.wait_for(watch.result(), 30) == ALERTED
        await eventually(
            lambda: (
                "eta_missed" in kinds(to(inbox.received, instant))
                and "eta_missed" in kinds(to(posted, quiet_path))
            ),
            what="the missed ETA, to the instant and the quiet-hours recipients",
        )
        assert await fails(stack, unreadable_event(samples)) == failed  # Flexport again
        for name in AFTER_ETA:
            await stack.deliver(samples.body(name))
        journey_done = datetime.now(UTC)
        assert journey_done < end, (
            f"the journey took until {journey_done:%H:%M:%S}, after the quiet hours ended at "
            f"{end:%H:%M:%S} UTC: raise MARGIN"
        )

        await asyncio.sleep(max(0.0, (end - datetime.now(UTC)).total_seconds()))
        await eventually(
            lambda: (
                len(to(posted, quiet_path)) >= len(URGENT) + len(ROUTINE)
                and len(to(inbox.received, digest)) >= 1
            ),
            what="the held alerts and the digest",
        )
        await asyncio.sleep(2)  # time for anything sent twice to arrive too

    # Instant: every alert once, in the order it happened, none held.
    heard = to(inbox.received, instant)
    assert kinds(heard) == EVERY_ALERT
    assert all(message.at < end for message in heard)
    assert not any("time corrected" in message.title for message in heard)

    # Quiet hours: the missed ETA at once; the routine alerts only once they ended, in order.
    quiet = to(posted, quiet_path)
    assert kinds(quiet) == URGENT + ROUTINE
    assert quiet[0].at < end <= quiet[1].at
    assert all(message.at >= end for message in quiet[1:])

    # Ops: one alert for the event that failed twice.
    [ops] = to(inbox.received, oncall)
    assert ops.title == f"flexhook: event {failed} failed processing"
    assert ops.at < end
    assert (await stack.api(f"/events/{failed}")).json()["status"] == "failed"

    # Digest: nothing at once, one digest when it fell due.
    [summary] = to(inbox.received, digest)
    assert summary.at >= end
    assert summary.title.startswith(f"Daily digest {end.astimezone(KOLKATA):%Y-%m-%d}: ")

    # Nothing else went anywhere; the duplicate departure is recorded, and in no one's ledger.
    assert len(inbox.received) == len(heard) + 1 + 1
    assert len(posted) == len(quiet)
    assert (await stack.api(f"/events/{duplicate['event_id']}")).json()["status"] == "processed"
    assert await ledger(stack, event_id=duplicate["event_id"]) == []

    # The digest sums up the whole day, the missed ETA too, in one ledger row; every alert has
    # one row per destination (instant, quiet hours, digest), all sent.
    assert re.findall(r"<h2[^>]*>([^<]+)</h2>", summary.html) == DIGEST_SECTIONS
    assert summary.title.endswith(f": {len(EVERY_ALERT)} shipment updates")
    assert NAME in summary.html
    [digest_row] = [row for row in await ledger(stack) if row["kind"] == "digest"]
    assert (digest_row["status"], digest_row["attempts"]) == ("sent", 1)
    rows = await ledger(stack, shipment_id=SHIPMENT)
    by_outcome = Counter((row["kind"], row["status"], row["last_error"]) for row in rows)
    assert by_outcome == Counter({(kind, "sent", None): 3 for kind in EVERY_ALERT})


# -- who hears what, and what the journey is worth -----------------------------------------------

SHIPMENT = "418563"
NAME = "SS26 Apparel - Yantian to LA #3"
KOLKATA = ZoneInfo("Asia/Kolkata")  # UTC+05:30: quiet hours and digest_at are read in it
GRACE = timedelta(seconds=1)  # FLEXHOOK_ETA_GRACE
ETA_AHEAD = timedelta(seconds=4)  # the ETA that passes: this far ahead when it is reported
# Time the journey needs before quiet hours end and the digest falls due (a few seconds when
# the machine is idle): everything it alerts must be held by then.
MARGIN = 20.0
ALL_KINDS = "departed, arrived, delivered, eta, customs, exception, eta_missed"

# The journey of 418563 up to the departure, and from the arrival to the end; in between, the
# departure again under a new event id and the ETA that passes.
BEFORE_DEPARTURE = ("01_shipment_created", "04_schedule_confirmed", "05_container_loaded_on_board")
AFTER_ETA = (
    "09_leg_arrived",
    "11_customs_released",
    "13_out_for_delivery",
    "14_leg_delivered",
    "15_delivered_in_full",  # delivered again: the shipment hears it once
    "16_invoice_shared",
    "18_container_empty_returned",
    "19_document_created",
)

# What the journey is worth, in the order it happens. The duplicate departure adds nothing.
ROUTINE = ["departed", "eta", "arrived", "customs", "delivered"]
URGENT = ["eta_missed"]
EVERY_ALERT = ["departed", "eta", "eta_missed", "arrived", "customs", "delivered"]
# The digest's sections, in the order it lists them (`app.core.digest.SECTION_TITLES`); nothing
# is in transit any more. The ETA that passed (today) opened a missed-ETA exception, and the
# samples' arrival and delivery happened (in March) before that ETA was announced: they settle
# nothing of it (docs/exceptions.md#order-independence), so the digest lists it as open.
DIGEST_SECTIONS = [
    "Departed (1)",
    "Arrived (1)",
    "Delivered (1)",
    "ETA moved (1)",
    "ETA missed (1)",
    "Customs (1)",
    "Open exceptions (1)",
]

# A message's kind, by how its title (email subject, json:// title) starts.
TITLE_PREFIXES = (
    ("ETA passed, no arrival", "eta_missed"),
    ("ETA moved", "eta"),
    ("Departed", "departed"),
    ("Arrived", "arrived"),
    ("Customs", "customs"),
    ("Delivered", "delivered"),
    ("Exception", "exception"),
    ("Daily digest", "digest"),
)


def kind_of(title: str) -> str:
    return next((kind for prefix, kind in TITLE_PREFIXES if title.startswith(prefix)), title)


def to(received: list[Received], recipient: str) -> list[Received]:
    return [message for message in received if message.to == recipient]


def kinds(received: list[Received]) -> list[str]:
    return [kind_of(message.title) for message in received]


# -- the worker -----------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def worker(stack: Stack, config: Path) -> AsyncIterator[None]:
    """One worker process's worth on the stack's task queue: its own activities, notifier and
    ops reporter over the stack's database and configuration file."""
    urls = {"public_url": "http://flexhook.test", "temporal_ui_url": "http://127.0.0.1:8233"}
    notify_config = NotifyConfig(config)
    ops_notifier = OpsNotifier(
        Renderer(), config=notify_config, timeout=10, destination_allow=LOCAL, **urls
    )
    activities = wire_activities(
        stack.engine,
        client=stack.client,
        task_queue=stack.task_queue,
        notifier=Notifier(
            Renderer(),
            timeout=10,
            limits=SendLimits(deadline=10),
            destination_allow=LOCAL,
            public_url=urls["public_url"],
            temporal_ui_url=urls["temporal_ui_url"],
        ),
        config=notify_config,
        digests=DigestSender(Renderer(), destination_allow=LOCAL),
        ops=OpsReporter(IncidentBook(stack.engine), ops_notifier),
        eta_grace=GRACE,
    )
    with ThreadPoolExecutor(ACTIVITY_THREADS) as executor:
        running = build_worker(
            stack.client, task_queue=stack.task_queue, activities=activities, executor=executor
        )
        async with running:
            yield


async def clear_watch(stack: Stack) -> None:
    """The ETA watch is named after the shipment: one an earlier test on this dev server left
    running (on its own task queue) would take this test's ETA."""
    handle = stack.client.get_workflow_handle(eta_watch_workflow_id(SHIPMENT))
    with contextlib.suppress(RPCError):  # none ever ran
        if (await handle.describe()).status == WorkflowExecutionStatus.RUNNING:
            await handle.terminate("left over by an earlier test")


# -- the events ----------------------------------------------------------------------------------


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def eta_that_passes(samples: Samples, *, eta: datetime) -> bytes:
    """Sample 07 (the leg's new ETA), reported now with an ETA a few seconds ahead."""
    payload = samples.payload("07_eta_updated", occurred_at=iso(datetime.now(UTC)))
    data = payload["data"]
    for part in (data["resource"], data["shipment"], *data["containers"]):
        part["estimated_arrival_date"] = iso(eta)
    return json.dumps(payload).encode()


def unreadable_event(samples: Samples) -> bytes:
    """Sample 07 under an id of its own, with an occurred_at nobody can read."""
    return samples.body("07_eta_updated", id=samples.fresh_id(66001), occurred_at="yesterday-ish")


async def fails(stack: Stack, body: bytes) -> str:
    answer = await stack.post(body)
    assert answer.status_code == 200 and answer.json()["status"] == "accepted", answer.text
    event_id: str = answer.json()["event_id"]
    with pytest.raises(WorkflowFailureError):
        await stack.wait(event_id)
    return event_id
