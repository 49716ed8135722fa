"""The exception watch end to end: signed Flexport events through the web app, a real Temporal
dev server with its durable timers and signals, real SMTP. SLAs are seconds, so that the
timers fire in the test.

Every stack has a database of its own, whose exception ids would start at 1 in each: each test
starts them at a random offset, so that tests sharing the dev server never signal each
other's watch (`exception-<id>`).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from temporalio.api.enums.v1 import WorkflowExecutionStatus
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from activities.digest import DigestSender
from activities.exceptions import ExceptionRules
from app.bootstrap import wire_activities
from app.core.access import Role
from app.core.exception_clock import parse_severity_durations
from app.core.ids import event_workflow_id, exception_workflow_id
from app.store import exceptions, tokens
from app.store.exception_models import ExceptionEntry, ShipmentExceptionRow
from app.store.models import Notification
from notifications.destinations import NotifyConfig
from notifications.notifier import Notifier
from notifications.render import Renderer
from tests.helpers import eventually
from tests.integration.harness import (
    LOCAL,
    Inbox,
    Samples,
    Stack,
    StackFactory,
    add_recipient,
    free_port,
    mailto,
    temporal_binary,
    write_config,
)
from workflows.exception_feed import changed
from workflows.exception_watch import RESOLVED
from workflows.search_attributes import dev_server_flags
from workflows.worker import ACTIVITY_THREADS, build_worker

pytestmark = pytest.mark.integration

HOLD_TYPE = "/shipment#customs_agriculture_hold"
HISTORIES = Path(__file__).resolve().parent.parent / "histories"


def rules(*, ack: str = "critical=2s", resolve: str = "critical=1h") -> ExceptionRules:
    return ExceptionRules(
        ack_sla=parse_severity_durations(ack), resolve_sla=parse_severity_durations(resolve)
    )


# -- events and records -----------------------------------------------------------------------


def shipment_event(samples: Samples, name: str, shipment_id: int, **changes: Any) -> bytes:
    """A packaged `/shipment` sample for `shipment_id`, re-identified, with `changes`."""
    payload = samples.payload(name, id=f"evt_{uuid.uuid4().hex[:12]}", **changes)
    payload["data"]["resource"]["id"] = shipment_id
    return json.dumps(payload).encode()


def hold(samples: Samples, shipment_id: int) -> bytes:
    """Flexport ships no hold sample: a hold is the same `/shipment` event under its type."""
    return shipment_event(samples, "01_shipment_created", shipment_id, type=HOLD_TYPE)


def release(samples: Samples, shipment_id: int) -> bytes:
    return shipment_event(samples, "11_customs_released", shipment_id)


def start_exception_ids(engine: Engine) -> None:
    """Make this database's exception ids start at a random offset (a resolved placeholder)."""
    seed = random.randrange(10**6, 2 * 10**9)
    with Session(engine) as session:
        session.add(
            ShipmentExceptionRow(
                id=seed,
                shipment_id="placeholder",
                family="other",
                severity="low",
                severity_rank=3,
                state="resolved",
                opened_at=datetime.now(UTC),
            )
        )
        session.commit()
        if engine.dialect.name == "postgresql":
            session.execute(
                sa.text("SELECT setval(pg_get_serial_sequence('shipment_exception', 'id'), :s)"),
                {"s": seed},
            )
            session.commit()


def the_exception(engine: Engine) -> ShipmentExceptionRow:
    with Session(engine) as session:
        row = session.exec(
            select(ShipmentExceptionRow).where(ShipmentExceptionRow.shipment_id != "placeholder")
        ).one()
        session.expunge(row)
        return row


def timeline(engine: Engine, exception_id: int) -> list[str]:
    with Session(engine) as session:
        entries = session.exec(
            select(ExceptionEntry)
            .where(ExceptionEntry.exception_id == exception_id)
            .order_by(col(ExceptionEntry.id))
        ).all()
        return [f"{e.who} {e.what}" for e in entries]


def ledger_rows(engine: Engine, kind: str) -> list[Notification]:
    with Session(engine) as session:
        return list(session.exec(select(Notification).where(Notification.kind == kind)).all())


async def act(
    stack: Stack, exception_id: int, action: exceptions.Action, by: str, **values: Any
) -> None:
    """A person's action as the API takes it: commit, then tell the watch."""
    with Session(stack.engine) as session:
        exceptions.act(
            session,
            exception_id=exception_id,
            action=action,
            by=by,
            at=datetime.now(UTC),
            **values,
        )
        session.commit()
    await changed(stack.client, task_queue=stack.task_queue, exception_id=exception_id)


def add_person(engine: Engine, name: str, contact: str | None) -> None:
    with Session(engine) as session:
        tokens.create_token(
            session,
            name=name,
            role=Role.OPERATOR,
            expires_in=None,
            contact=contact,
            created_by="test",
            now=datetime.now(UTC),
        )
        session.commit()


def watch(stack: Stack, exception_id: int) -> WorkflowHandle[Any, Any]:
    return stack.client.get_workflow_handle(exception_workflow_id(exception_id))


async def record_history(handle: WorkflowHandle[Any, Any], name: str) -> None:
    """With FLEXHOOK_RECORD_HISTORIES=1, keep this run's history for the replay test."""
    if os.environ.get("FLEXHOOK_RECORD_HISTORIES") == "1":
        history = await handle.fetch_history()
        (HISTORIES / f"{name}.json").write_text(history.to_json(), encoding="utf-8")


def to(inbox: Inbox, address: str) -> list[str]:
    return [r.title for r in inbox.received if r.to == address]


@pytest.fixture
def shipment_id() -> int:
    return random.randrange(10**8, 10**9)


@pytest.fixture
def config(tmp_path: Path, smtp: tuple[Inbox, int]) -> Path:
    return write_config(
        tmp_path / "notifications.yml", (mailto(smtp[1], "escalations@example.com"), "escalation")
    )


# -- the tests --------------------------------------------------------------------------------


async def test_an_unacknowledged_hold_escalates_once_acknowledged_released_acknowledger_told(
    make_stack: StackFactory,
    samples: Samples,
    smtp: tuple[Inbox, int],
    config: Path,
    shipment_id: int,
) -> None:
    inbox, port = smtp
    stack = await make_stack(notify_config=config, exception_rules=rules())
    start_exception_ids(stack.engine)
    add_person(stack.engine, "alice", mailto(port, "alice@example.com"))

    await stack.deliver(hold(samples, shipment_id))
    await stack.deliver(hold(samples, shipment_id))  # reported twice: one exception
    row = the_exception(stack.engine)
    assert (row.state, row.occurrences) == ("open", 2)
    assert row.id is not None
    handle = watch(stack, row.id)
    description = await handle.describe()
    assert description.workflow_type == "ExceptionWatch"

    [subject] = await eventually(lambda: to(inbox, "escalations@example.com"), what="escalation")
    assert subject.startswith("Customs hold not acknowledged within 2s — ")
    said = inbox.received[0].html
    assert f"http://flexhook.test/dashboard/exceptions/{row.id}" in said

    await act(stack, row.id, "acknowledge", "alice")
    await stack.deliver(release(samples, shipment_id))

    assert await asyncio.wait_for(handle.result(), 30) == RESOLVED
    [notice] = to(inbox, "alice@example.com")
    assert notice.startswith(
        f"Customs hold you acknowledged was resolved by flexport:{release_id(stack)} — "
    )
    assert len(to(inbox, "escalations@example.com")) == 1
    assert len(ledger_rows(stack.engine, "escalation")) == 1
    assert [line.split(" ", 1)[1] for line in timeline(stack.engine, row.id)] == [
        "opened",
        "occurrence",
        "escalated",
        "acknowledged",
        "resolved",
    ]
    await record_history(handle, "exception_watch__escalated_acknowledged_released")


def release_id(stack: Stack) -> str:
    resolved_by = the_exception(stack.engine).resolved_by or ""
    return resolved_by.removeprefix("flexport:")


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


async def run_worker(exits: AsyncExitStack, stack: Stack, client: Client, config: Path) -> None:
    """The production worker for `stack` on `client`, ack SLA 5 s, until `exits` closes."""
    notifier = Notifier(Renderer(), timeout=10, destination_allow=LOCAL)
    executor = exits.enter_context(ThreadPoolExecutor(ACTIVITY_THREADS))
    activities = wire_activities(
        stack.engine,
        client=client,
        task_queue=stack.task_queue,
        notifier=notifier,
        config=NotifyConfig(config),
        digests=DigestSender(Renderer(), destination_allow=LOCAL),
        exception_rules=rules(ack="critical=5s"),
    )
    running = build_worker(
        client, task_queue=stack.task_queue, activities=activities, executor=executor
    )
    await exits.enter_async_context(running)


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

    async def server() -> WorkflowEnvironment:
        return await WorkflowEnvironment.start_local(
            port=port,
            dev_server_existing_path=temporal_binary(),
            dev_server_database_filename=str(tmp_path / "temporal.db"),
            dev_server_extra_args=dev_server_flags(),
        )

    first = await server()
    stack = await make_stack(with_worker=False, client=first.client, notify_config=config)
    start_exception_ids(stack.engine)
    try:
        async with AsyncExitStack() as exits:
            await run_worker(exits, stack, first.client, config)
            posted = await stack.post(hold(samples, shipment_id))
            assert posted.status_code == 200, posted.text
            event = first.client.get_workflow_handle(event_workflow_id(posted.json()["event_id"]))
            await event.result()
            row = the_exception(stack.engine)
            assert row.id is not None
            running = await watch_on(first.client, row.id).describe()
            status = running.raw_description.workflow_execution_info.status
            assert status == WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING
    finally:
        await first.shutdown()
    await asyncio.sleep((row.opened_at + timedelta(seconds=6) - datetime.now(UTC)).total_seconds())
    assert inbox.received == []

    second = await server()
    try:
        async with AsyncExitStack() as exits:
            await run_worker(exits, stack, second.client, config)
            await eventually(lambda: to(inbox, "escalations@example.com"), what="the escalation")
            await eventually(lambda: "system escalated" in timeline(stack.engine, row.id or 0))
    finally:
        await second.shutdown()
    assert len(to(inbox, "escalations@example.com")) == 1
    assert timeline(stack.engine, row.id).count("system escalated") == 1


def watch_on(client: Client, exception_id: int) -> WorkflowHandle[Any, Any]:
    return client.get_workflow_handle(exception_workflow_id(exception_id))


async def test_an_acknowledged_hold_never_escalates_and_reminds_once(
    make_stack: StackFactory,
    samples: Samples,
    smtp: tuple[Inbox, int],
    config: Path,
    shipment_id: int,
) -> None:
    inbox, _ = smtp
    stack = await make_stack(
        notify_config=config, exception_rules=rules(ack="critical=1h", resolve="critical=4s")
    )
    start_exception_ids(stack.engine)

    await stack.deliver(hold(samples, shipment_id))
    row = the_exception(stack.engine)
    assert row.id is not None
    await act(stack, row.id, "acknowledge", "bob")

    [subject] = await eventually(lambda: to(inbox, "escalations@example.com"), what="reminder")
    assert subject.startswith("Customs hold acknowledged, not resolved within 4s — ")
    await act(stack, row.id, "note", "bob", note="broker called")
    await eventually(lambda: "bob noted" in timeline(stack.engine, row.id or 0))
    assert len(to(inbox, "escalations@example.com")) == 1
    assert ledger_rows(stack.engine, "escalation")[0].dedup_key.endswith(":reminder")
    assert "system escalated" not in timeline(stack.engine, row.id)


async def test_a_snooze_wakes_on_time_and_an_assignee_hears_of_it(
    make_stack: StackFactory,
    samples: Samples,
    smtp: tuple[Inbox, int],
    config: Path,
    shipment_id: int,
) -> None:
    inbox, port = smtp
    stack = await make_stack(notify_config=config, exception_rules=rules(ack="critical=1h"))
    start_exception_ids(stack.engine)
    add_person(stack.engine, "carol", mailto(port, "carol@example.com"))
    add_person(stack.engine, "dave", None)  # no contact: skipped

    await stack.deliver(hold(samples, shipment_id))
    row = the_exception(stack.engine)
    assert row.id is not None
    await act(stack, row.id, "assign", "carol", assignee="carol")  # herself: no notice
    await act(stack, row.id, "assign", "alice", assignee="dave")
    await act(stack, row.id, "assign", "alice", assignee="carol")
    until = datetime.now(UTC) + timedelta(seconds=2)
    await act(stack, row.id, "snooze", "alice", until=until)

    await eventually(lambda: the_exception(stack.engine).state == "open", what="the wake-up")
    assert datetime.now(UTC) >= until
    assert timeline(stack.engine, row.id)[-1] == "system woke"
    [subject] = await eventually(lambda: to(inbox, "carol@example.com"), what="the notice")
    assert subject.startswith("Customs hold assigned to you — ")
    assert [r.to for r in inbox.received] == ["carol@example.com"]


async def test_quiet_hours_and_a_digest_do_not_hold_an_escalation(
    make_stack: StackFactory,
    samples: Samples,
    smtp: tuple[Inbox, int],
    tmp_path: Path,
    shipment_id: int,
) -> None:
    inbox, port = smtp
    stack = await make_stack(exception_rules=rules())
    start_exception_ids(stack.engine)
    for address, preferences in (
        ("quiet@example.com", {"quiet_hours": "00:00-23:59"}),
        ("digest@example.com", {"delivery": "digest", "digest_at": "00:00"}),
    ):
        created = await add_recipient(
            stack, url=mailto(port, address), kinds=["escalation"], **preferences
        )
        assert created.status_code == 201, created.text

    await stack.deliver(hold(samples, shipment_id))

    await eventually(
        lambda: sorted(r.to for r in inbox.received) == ["digest@example.com", "quiet@example.com"],
        what="the escalation at both",
    )
    rows = ledger_rows(stack.engine, "escalation")
    assert sorted(row.status for row in rows) == ["sent", "sent"]
