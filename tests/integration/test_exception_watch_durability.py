"""The exception watch's clock survives: a worker restart, a Temporal server restart (a dev
server of its own, persisted to a file) and a hand-over to a new run, each escalating once; and
a person's reopening made while Temporal is down gets its watch, and its escalation, once
Temporal is back.
"""

from __future__ import annotations

import asyncio
import random
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.api.enums.v1 import WorkflowExecutionStatus
from temporalio.client import Client, WorkflowHandle

from app.core.ids import event_workflow_id, exception_workflow_id
from tests.helpers import eventually
from tests.integration.exception_stack import (
    act,
    hold,
    persisted_temporal,
    rules,
    run_worker,
    start_exception_ids,
    the_exception,
    timeline,
    to,
    untold,
    watch,
    watch_on,
)
from tests.integration.harness import (
    Inbox,
    Samples,
    Stack,
    StackFactory,
    free_port,
    mailto,
    write_config,
)
from workflows import exception_watch
from workflows.exception_feed import changed

pytestmark = pytest.mark.integration


@pytest.fixture
def shipment_id() -> int:
    return random.randrange(10**8, 10**9)


@pytest.fixture
def config(tmp_path: Path, smtp: tuple[Inbox, int]) -> Path:
    return write_config(
        tmp_path / "notifications.yml", (mailto(smtp[1], "escalations@example.com"), "escalation")
    )


# -- the tests --------------------------------------------------------------------------------


async def test_the_escalation_fires_once_across_a_worker_restart(
    make_stack: StackFactory,
    samples: Samples,
    smtp: tuple[Inbox, int],
    config: Path,
    shipment_id: int,
) -> None:
    inbox, _ = smtp
    stack = await make_stack(with_worker=False, notify_config=config)
    start_exception_ids(stack.engine)

    async with AsyncExitStack() as first:
        await run_worker(first, stack, stack.client, config)
        await stack.deliver(hold(samples, shipment_id))
        row = the_exception(stack.engine)
        assert row.id is not None
        handle = watch(stack, row.id)
    assert [line.split(" ")[1] for line in timeline(stack.engine, row.id)] == ["opened"]
    status = (await handle.describe()).raw_description.workflow_execution_info.status
    assert status == WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING
    # No worker while the timer comes due: it fires on the server, and waits for one.
    await asyncio.sleep((row.opened_at + timedelta(seconds=6) - datetime.now(UTC)).total_seconds())
    assert inbox.received == []

    async with AsyncExitStack() as second:
        await run_worker(second, stack, stack.client, config)
        await eventually(lambda: to(inbox, "escalations@example.com"), what="the escalation")
        # Told again (a retried activity, a redelivery): no second escalation.
        await changed(stack.client, task_queue=stack.task_queue, exception_id=row.id)
        await eventually(lambda: "system escalated" in timeline(stack.engine, row.id or 0))
    assert len(to(inbox, "escalations@example.com")) == 1
    assert timeline(stack.engine, row.id).count("system escalated") == 1


async def test_the_escalation_fires_once_across_a_temporal_server_restart(
    make_stack: StackFactory,
    samples: Samples,
    smtp: tuple[Inbox, int],
    config: Path,
    shipment_id: int,
    tmp_path: Path,
) -> None:
    """A dev server of its own, persisted to a file: stopped with the watch's timer running
    (and no worker), started again past the SLA."""
    inbox, _ = smtp
    port = free_port()

    first = await persisted_temporal(port, tmp_path / "temporal.db")
    stack = await make_stack(with_worker=False, client=first.client, notify_config=config)
    start_exception_ids(stack.engine)
    try:
        async with AsyncExitStack() as exits:
            await run_worker(exits, stack, first.client, config)
            exception_id, opened_at = await held(stack, first.client, hold(samples, shipment_id))
            running = await watch_on(first.client, exception_id).describe()
            status = running.raw_description.workflow_execution_info.status
            assert status == WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING
    finally:
        await first.shutdown()
    await asyncio.sleep((opened_at + timedelta(seconds=6) - datetime.now(UTC)).total_seconds())
    assert inbox.received == []

    second = await persisted_temporal(port, tmp_path / "temporal.db")
    try:
        async with AsyncExitStack() as exits:
            await run_worker(exits, stack, second.client, config)
            await eventually(lambda: to(inbox, "escalations@example.com"), what="the escalation")
            await eventually(lambda: "system escalated" in timeline(stack.engine, exception_id))
    finally:
        await second.shutdown()
    assert len(to(inbox, "escalations@example.com")) == 1
    assert timeline(stack.engine, exception_id).count("system escalated") == 1


async def reads_of_the_row(run: WorkflowHandle[Any, Any]) -> int:
    """How many turns `run` has taken: each reads the row in a local activity (a marker)."""
    history = await run.fetch_history()
    return sum(1 for event in history.events if event.HasField("marker_recorded_event_attributes"))


async def _more_reads(run: WorkflowHandle[Any, Any], than: int) -> bool:
    return await reads_of_the_row(run) > than


async def test_a_watch_hands_over_to_a_new_run_and_keeps_its_clock(
    make_stack: StackFactory,
    samples: Samples,
    smtp: tuple[Inbox, int],
    config: Path,
    shipment_id: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    inbox, _ = smtp
    monkeypatch.setattr(exception_watch, "TURNS_PER_RUN", 2)  # the workflow is not sandboxed
    stack = await make_stack(notify_config=config, exception_rules=rules(ack="critical=6s"))
    start_exception_ids(stack.engine)
    await stack.deliver(hold(samples, shipment_id))
    row = the_exception(stack.engine)
    assert row.id is not None
    first_run = (await watch(stack, row.id).describe()).run_id

    first = stack.client.get_workflow_handle(exception_workflow_id(row.id), run_id=first_run)
    await eventually(partial(_more_reads, first, 0), what="the watch's first turn")
    for note in ("one", "two"):  # one turn each: signals that land together make one turn
        turns = await reads_of_the_row(first)
        await act(stack, row.id, "note", "erin", note=note)
        await eventually(partial(_more_reads, first, turns), what=f"the turn after note {note}")

    async def handed_over() -> bool:
        status = (await first.describe()).raw_description.workflow_execution_info.status
        return bool(status == WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW)

    await eventually(handed_over, what="the first run to continue as new")
    await act(stack, row.id, "note", "erin", note="three")  # told to the new run
    await eventually(lambda: to(inbox, "escalations@example.com"), what="the escalation")
    assert len(to(inbox, "escalations@example.com")) == 1


async def test_a_reopening_made_while_temporal_is_down_escalates_once_it_is_back(
    make_stack: StackFactory,
    samples: Samples,
    smtp: tuple[Inbox, int],
    config: Path,
    shipment_id: int,
    tmp_path: Path,
) -> None:
    """The hold is resolved by hand and its watch ends. Temporal goes down; a person reopens the
    hold through the API, which answers and keeps the untold change. Temporal comes back: the
    web process's relay starts the watch, which escalates the reopened hold at its SLA, once."""
    inbox, _ = smtp
    port = free_port()
    first = await persisted_temporal(port, tmp_path / "temporal.db")
    stack = await make_stack(
        with_worker=False,
        client=first.client,
        notify_config=config,
        rpc_timeout=2.0,
        untold_watch_after=timedelta(seconds=1),
    )
    start_exception_ids(stack.engine)
    try:
        async with AsyncExitStack() as exits:
            await run_worker(exits, stack, first.client, config)
            exception_id, _ = await held(stack, first.client, hold(samples, shipment_id))
            resolved = await act_by_api(stack, exception_id, "resolve", "released at the port")
            assert resolved.json()["state"] == "resolved"
            ended = await watch_on(first.client, exception_id).result()
            assert ended == "resolved"
    finally:
        await first.shutdown()

    reopened = await act_by_api(stack, exception_id, "reopen", "held again")
    assert reopened.json()["state"] == "open"
    assert untold(stack.engine) == [exception_id]
    await asyncio.sleep(8)  # past the reopened hold's 5 s SLA, with nobody to escalate it
    assert inbox.received == []

    second = await persisted_temporal(port, tmp_path / "temporal.db")
    try:
        async with AsyncExitStack() as exits:
            await run_worker(exits, stack, second.client, config)
            await eventually(
                lambda: to(inbox, "escalations@example.com"), timeout=60, what="the escalation"
            )
            await eventually(lambda: not untold(stack.engine), what="the mark forgotten")
            await eventually(lambda: "system escalated" in timeline(stack.engine, exception_id))
    finally:
        await second.shutdown()
    assert len(to(inbox, "escalations@example.com")) == 1
    assert [line.rsplit(" ", 1)[1] for line in timeline(stack.engine, exception_id)][-3:] == [
        "resolved",
        "reopened",
        "escalated",
    ]


async def held(stack: Stack, client: Client, body: bytes) -> tuple[int, datetime]:
    """Post a hold through `stack`'s web process, wait for its event's run on `client`'s
    server, and return the id of the exception it opened and when it opened."""
    posted = await stack.post(body)
    assert posted.status_code == 200, posted.text
    await client.get_workflow_handle(event_workflow_id(posted.json()["event_id"])).result()
    row = the_exception(stack.engine)
    assert row.id is not None
    return row.id, row.opened_at


async def act_by_api(stack: Stack, exception_id: int, action: str, note: str) -> httpx.Response:
    answer = await stack.http.post(
        f"/api/exceptions/{exception_id}/{action}",
        json={"note": note},
        headers={"authorization": f"Bearer {stack.api_token}"},
    )
    assert answer.status_code == 200, answer.text
    return answer
