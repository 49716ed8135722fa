"""The ETA watch end to end: signed events through the web app, a real Temporal dev server with
its durable timers, real SMTP. Grace and ETAs are seconds, so that the timers fire in the test.

Each test watches a shipment of its own (the watch's id is the shipment's), so tests sharing the
dev server never signal each other's watch.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.enums.v1 import WorkflowExecutionStatus
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode

from activities.digest import DigestSender
from app.bootstrap import wire_activities
from app.core.ids import eta_watch_workflow_id
from notifications.destinations import NotifyConfig
from notifications.notifier import Notifier
from notifications.render import Renderer
from tests.integration.harness import LOCAL, Inbox, Samples, Stack, StackFactory, mailto
from workflows.eta_feed import EtaWatchSignals
from workflows.eta_watch import ALERTED, ARRIVED, SIGNALS_PER_RUN
from workflows.search_attributes import SHIPMENT_ID
from workflows.types import EtaUpdate
from workflows.worker import ACTIVITY_THREADS, build_worker

pytestmark = pytest.mark.integration

GRACE = timedelta(seconds=1)
HISTORIES = Path(__file__).resolve().parent.parent / "histories"


# -- events --------------------------------------------------------------------------------------


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def eta_event(
    samples: Samples, shipment_id: str, *, estimated_arrival: datetime, occurred_at: datetime
) -> bytes:
    """Sample 22 (compact `shipment.eta_updated`) for `shipment_id`, with these times."""
    payload = samples.payload("22_compact_eta_updated", id=f"evt_eta_{uuid.uuid4().hex[:12]}")
    payload["data"].update(
        shipment_id=shipment_id,
        estimated_arrival=iso(estimated_arrival),
        occurred_at=iso(occurred_at),
    )
    payload["data"].pop("previous_estimated_arrival")
    return json.dumps(payload).encode()


def milestone_event(
    samples: Samples, shipment_id: str, milestone: str, *, occurred_at: datetime
) -> bytes:
    """Sample 21 (compact `shipment.milestone`) for `shipment_id`: `milestone` at that time."""
    payload = samples.payload("21_compact_shipment_milestone", id=f"evt_ms_{uuid.uuid4().hex[:12]}")
    payload["data"].update(
        shipment_id=shipment_id, milestone=milestone, occurred_at=iso(occurred_at)
    )
    return json.dumps(payload).encode()


# -- the stack -----------------------------------------------------------------------------------


def notify_config(path: Path, port: int) -> Path:
    path.write_text(f'urls:\n  - "{mailto(port)}":\n      tag: eta_missed\n', encoding="utf-8")
    return path


@pytest.fixture
def shipment_id() -> str:
    return f"eta{uuid.uuid4().hex[:12]}"


@pytest.fixture
def config(tmp_path: Path, smtp: tuple[Inbox, int]) -> Path:
    return notify_config(tmp_path / "notifications.yml", smtp[1])


def watch(stack: Stack, shipment_id: str) -> WorkflowHandle[Any, Any]:
    return stack.client.get_workflow_handle(eta_watch_workflow_id(shipment_id))


async def result(handle: WorkflowHandle[Any, Any], *, within: float = 30) -> str:
    outcome: str = await asyncio.wait_for(handle.result(), within)
    return outcome


async def status(handle: WorkflowHandle[Any, Any]) -> WorkflowExecutionStatus.ValueType | None:
    try:
        description = await handle.describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return None
        raise
    return description.raw_description.workflow_execution_info.status


def plain_text(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def subjects(inbox: Inbox) -> list[str]:
    return [str(message["Subject"]) for message in inbox.messages()]


async def eta_missed_rows(stack: Stack, shipment_id: str) -> list[dict[str, Any]]:
    response = await stack.api("/notifications", shipment_id=shipment_id)
    assert response.status_code == 200
    rows: list[dict[str, Any]] = response.json()["notifications"]
    return [row for row in rows if row["kind"] == "eta_missed"]


async def record_history(handle: WorkflowHandle[Any, Any], name: str) -> None:
    """With FLEXHOOK_RECORD_HISTORIES=1, keep this run's history for the replay test."""
    if os.environ.get("FLEXHOOK_RECORD_HISTORIES") == "1":
        history = await handle.fetch_history()
        (HISTORIES / f"{name}.json").write_text(history.to_json(), encoding="utf-8")


# -- the tests -----------------------------------------------------------------------------------


def now_utc() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


async def test_an_eta_that_passes_with_no_arrival_alerts_once(
    make_stack: StackFactory,
    samples: Samples,
    smtp: tuple[Inbox, int],
    config: Path,
    shipment_id: str,
) -> None:
    inbox, _ = smtp
    stack = await make_stack(notify_config=config, eta_grace=GRACE)
    now = now_utc()
    eta = now + timedelta(seconds=3)
    body = eta_event(samples, shipment_id, estimated_arrival=eta, occurred_at=now)

    await stack.deliver(body)
    handle = watch(stack, shipment_id)
    description = await handle.describe()
    assert description.typed_search_attributes.get(SHIPMENT_ID) == shipment_id
    assert subjects(inbox) == []  # not before the ETA and its grace have passed

    assert await result(handle) == ALERTED
    [subject] = subjects(inbox)
    assert subject.startswith("ETA passed, no arrival: ") and " late — " in subject
    assert shipment_id in subject
    said = plain_text(inbox.messages()[0])
    assert f"its estimated arrival, {eta:%Y-%m-%d %H:%M} UTC, passed " in said
    [row] = await eta_missed_rows(stack, shipment_id)
    assert row["status"] == "sent"
    await record_history(handle, "eta_watch__missed_one_destination")

    # The same delivery again is a duplicate, and the same ETA from a newer event is no news.
    assert (await stack.post(body)).json()["status"] == "duplicate"
    await stack.deliver(
        eta_event(samples, shipment_id, estimated_arrival=eta, occurred_at=now_utc())
    )
    assert await status(handle) == WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_COMPLETED
    # Told that ETA again all the same (say, a retried activity), a new run finds it alerted.
    feed = EtaWatchSignals(
        stack.client, task_queue=stack.task_queue, loop=asyncio.get_running_loop()
    )
    await asyncio.to_thread(
        feed.watch,
        shipment_id=shipment_id,
        estimated_arrival=eta.isoformat(),
        stamp=f"{eta:%Y-%m-%dT%H:%M:%S}.000000|retried",
        event_id="retried",
        grace=GRACE,
    )
    assert await result(watch(stack, shipment_id)) == ALERTED
    assert len(inbox.messages()) == 1
    assert len(await eta_missed_rows(stack, shipment_id)) == 1


async def test_the_timer_fires_once_across_a_worker_restart(
    make_stack: StackFactory,
    samples: Samples,
    smtp: tuple[Inbox, int],
    config: Path,
    shipment_id: str,
) -> None:
    inbox, _ = smtp
    stack = await make_stack(with_worker=False, notify_config=config)

    async def worker(exits: AsyncExitStack) -> None:
        notifier = Notifier(Renderer(), timeout=10, destination_allow=LOCAL)
        executor = exits.enter_context(ThreadPoolExecutor(ACTIVITY_THREADS))
        activities = wire_activities(
            stack.engine,
            client=stack.client,
            task_queue=stack.task_queue,
            notifier=notifier,
            config=NotifyConfig(config),
            digests=DigestSender(Renderer(), destination_allow=LOCAL),
            eta_grace=GRACE,
        )
        running = build_worker(
            stack.client, task_queue=stack.task_queue, activities=activities, executor=executor
        )
        await exits.enter_async_context(running)

    now = now_utc()
    eta = now + timedelta(seconds=3)
    async with AsyncExitStack() as first:
        await worker(first)
        await stack.deliver(eta_event(samples, shipment_id, estimated_arrival=eta, occurred_at=now))
        handle = watch(stack, shipment_id)
        assert await status(handle) == WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING
    # No worker while the timer comes due: it fires on the server, and waits for one.
    await asyncio.sleep((eta + GRACE - datetime.now(UTC)).total_seconds() + 1)
    assert subjects(inbox) == []

    async with AsyncExitStack() as second:
        await worker(second)
        assert await result(handle) == ALERTED
    assert len(subjects(inbox)) == 1
    assert len(await eta_missed_rows(stack, shipment_id)) == 1


async def test_a_later_eta_rearms_the_watch(
    make_stack: StackFactory,
    samples: Samples,
    smtp: tuple[Inbox, int],
    config: Path,
    shipment_id: str,
) -> None:
    inbox, _ = smtp
    stack = await make_stack(notify_config=config, eta_grace=GRACE)
    now = now_utc()
    first_eta = now + timedelta(seconds=2)
    await stack.deliver(
        eta_event(samples, shipment_id, estimated_arrival=first_eta, occurred_at=now)
    )
    # Moved before it came due: the first ETA alerts nobody.
    moved = now + timedelta(seconds=5)
    await stack.deliver(
        eta_event(
            samples, shipment_id, estimated_arrival=moved, occurred_at=now + timedelta(seconds=1)
        )
    )
    handle = watch(stack, shipment_id)
    watched = await handle.query("watching", result_type=EtaUpdate)
    assert watched.estimated_arrival == moved.isoformat()
    assert await result(handle) == ALERTED
    assert len(subjects(inbox)) == 1
    await record_history(handle, "eta_watch__moved_then_missed")

    # A later ETA after the alert: a new watch, a second alert once that one passes too.
    later = now_utc() + timedelta(seconds=3)
    await stack.deliver(
        eta_event(samples, shipment_id, estimated_arrival=later, occurred_at=now_utc())
    )
    assert await status(handle) == WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING
    assert len(inbox.messages()) == 1
    assert await result(handle) == ALERTED
    said = [plain_text(message) for message in inbox.messages()]
    assert f"estimated arrival, {moved:%Y-%m-%d %H:%M} UTC" in said[0]
    assert f"estimated arrival, {later:%Y-%m-%d %H:%M} UTC" in said[1]
    rows = await eta_missed_rows(stack, shipment_id)
    assert sorted(row["status"] for row in rows) == ["sent", "sent"]


async def test_an_arrival_ends_the_watch(
    make_stack: StackFactory,
    samples: Samples,
    smtp: tuple[Inbox, int],
    config: Path,
    shipment_id: str,
) -> None:
    inbox, _ = smtp
    stack = await make_stack(notify_config=config, eta_grace=GRACE)
    now = now_utc()
    eta = now + timedelta(seconds=3)
    await stack.deliver(eta_event(samples, shipment_id, estimated_arrival=eta, occurred_at=now))
    handle = watch(stack, shipment_id)

    await stack.deliver(milestone_event(samples, shipment_id, "arrived", occurred_at=now_utc()))

    assert await result(handle, within=2) == ARRIVED  # at once, not when the timer would fire
    await asyncio.sleep((eta + GRACE - datetime.now(UTC)).total_seconds() + 1)
    assert subjects(inbox) == []
    assert await eta_missed_rows(stack, shipment_id) == []
    await record_history(handle, "eta_watch__arrived")


async def test_news_only_an_eta_in_the_past_or_older_than_the_arrival_arms_nothing(
    make_stack: StackFactory,
    samples: Samples,
    shipment_id: str,
) -> None:
    stack = await make_stack(eta_grace=GRACE)
    now = now_utc()

    await stack.deliver(
        eta_event(
            samples,
            shipment_id,
            estimated_arrival=now - timedelta(hours=1),
            occurred_at=now - timedelta(hours=2),
        )
    )
    assert await status(watch(stack, shipment_id)) is None

    # An arrival, then an ETA reported before it (history, however future the ETA it names).
    await stack.deliver(milestone_event(samples, shipment_id, "arrived", occurred_at=now))
    await stack.deliver(
        eta_event(
            samples,
            shipment_id,
            estimated_arrival=now + timedelta(days=3),
            occurred_at=now - timedelta(minutes=5),
        )
    )
    assert await status(watch(stack, shipment_id)) is None


async def test_the_watch_continues_as_new_carrying_its_eta(
    make_stack: StackFactory,
    samples: Samples,
    temporal_client: Client,
    shipment_id: str,
) -> None:
    stack = await make_stack(eta_grace=GRACE)
    now = now_utc()
    eta = now + timedelta(hours=1)
    await stack.deliver(eta_event(samples, shipment_id, estimated_arrival=eta, occurred_at=now))
    handle = watch(stack, shipment_id)
    first_run = (await handle.describe()).run_id
    watched = await handle.query("watching", result_type=EtaUpdate)

    # An older report is ignored; repeats of what it knows (a retried activity, say) too. Both
    # count towards the handover.
    older = dataclasses.replace(
        watched, estimated_arrival=(eta + timedelta(days=1)).isoformat(), stamp="2000-01-01"
    )
    await handle.signal("eta", older)
    assert await handle.query("watching", result_type=EtaUpdate) == watched
    for _ in range(SIGNALS_PER_RUN - 1):
        await handle.signal("eta", watched)

    for _ in range(100):
        description = await handle.describe()
        if description.run_id != first_run:
            break
        await asyncio.sleep(0.05)
    assert description.run_id != first_run
    assert description.typed_search_attributes.get(SHIPMENT_ID) == shipment_id
    assert await handle.query("watching", result_type=EtaUpdate) == watched
    await stack.deliver(milestone_event(samples, shipment_id, "delivered", occurred_at=now_utc()))
    assert await result(handle) == ARRIVED
