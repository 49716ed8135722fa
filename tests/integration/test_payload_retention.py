"""Payload retention (M6) on a real Temporal dev server and a real database (SQLite, or
PostgreSQL with FLEXHOOK_TEST_DATABASE=postgresql): the worker's daily schedule removes the
payloads of old events and keeps everything else."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update
from sqlmodel import Session, col, select
from temporalio.client import Client, ScheduleActionExecutionStartWorkflow, ScheduleHandle
from temporalio.service import RPCError

from activities.retention_types import RemovedPayloads
from app.store.models import EventRecord
from tests.integration.harness import Samples, Stack, StackFactory, ledger, write_config
from workflows.retention_schedule import apply_payload_retention_schedule

pytestmark = pytest.mark.integration

RETENTION = timedelta(days=30)


def backdate(stack: Stack, event_id: str, *, days: int, status: str | None = None) -> None:
    """Make an event look received `days` ago (and, with `status`, in that status)."""
    values: dict[str, Any] = {"received_at": datetime.now(UTC) - timedelta(days=days)}
    if status is not None:
        values["status"] = status
    with Session(stack.engine) as session:
        session.execute(
            update(EventRecord).where(col(EventRecord.event_id) == event_id).values(**values)
        )
        session.commit()


def payloads(stack: Stack) -> dict[str, str | None]:
    with Session(stack.engine) as session:
        rows = session.exec(select(EventRecord.event_id, EventRecord.payload)).all()
    return dict(rows)


async def triggered_run(client: Client, handle: ScheduleHandle) -> RemovedPayloads:
    """Trigger the schedule now; its run's result once it has ended."""
    await handle.trigger()
    for _ in range(600):
        actions = (await handle.describe()).info.recent_actions
        if actions:
            action = actions[-1].action
            assert isinstance(action, ScheduleActionExecutionStartWorkflow)
            run = client.get_workflow_handle(action.workflow_id, result_type=RemovedPayloads)
            removed: RemovedPayloads = await run.result()
            return removed
        await asyncio.sleep(0.1)
    raise AssertionError("the schedule started no run")


async def test_the_schedule_removes_old_payloads_and_keeps_records_ids_and_ledger(
    make_stack: StackFactory, samples: Samples, tmp_path: Path, json_endpoint: Any
) -> None:
    posted, port = json_endpoint
    hook = f"json://127.0.0.1:{port}/hook"
    config = write_config(tmp_path / "notifications.yml", (hook, "departed"))
    stack = await make_stack(notify_config=config)
    old = (await stack.deliver(samples.body("06_leg_departed")))["event_id"]
    in_flight = (await stack.deliver(samples.body("01_shipment_created")))["event_id"]
    recent = (await stack.deliver(samples.body("09_leg_arrived")))["event_id"]
    backdate(stack, old, days=60)
    backdate(stack, in_flight, days=60, status="processing")  # still being worked on
    shipment_before = (await stack.api("/shipments/418563")).json()
    ledger_before = await ledger(stack, event_id=old)
    assert [row["status"] for row in ledger_before] == ["sent"]
    schedule_id = f"flexhook-payload-retention-test-{uuid.uuid4().hex[:12]}"

    await apply_payload_retention_schedule(
        stack.client, task_queue=stack.task_queue, retention=RETENTION, schedule_id=schedule_id
    )
    handle = stack.client.get_schedule_handle(schedule_id)
    try:
        described = await handle.describe()
        assert [i.every for i in described.schedule.spec.intervals] == [timedelta(days=1)]
        result = await triggered_run(stack.client, handle)
    finally:
        await handle.delete()

    assert result.removed == 1
    kept = payloads(stack)
    assert kept[old] is None
    assert kept[in_flight] is not None and kept[recent] is not None
    detail = (await stack.api(f"/events/{old}")).json()
    assert detail["payload"] is None
    assert detail["payload_removed"] == "removed by payload retention"
    assert (detail["event_id"], detail["type"], detail["status"]) == (
        old,
        "/shipment_leg#departed",
        "processed",
    )
    assert (await stack.api(f"/events/{recent}")).json()["payload"]["id"] is not None
    assert (await stack.api("/shipments/418563")).json() == shipment_before
    assert await ledger(stack, event_id=old) == ledger_before
    redrive = await stack.http.post(
        f"/api/events/{old}/redrive", headers={"authorization": f"Bearer {stack.api_token}"}
    )
    assert redrive.status_code == 409
    assert redrive.json()["error"] == "payload_removed"
    assert len(posted) == 1  # and no alert went out again
    signed_in = await stack.http.post("/dashboard/sign-in", data={"token": stack.api_token})
    assert signed_in.status_code == 303
    page = await stack.http.get(f"/dashboard/events/{old}")
    assert page.status_code == 200
    assert "Removed by payload retention" in page.text


async def test_retention_zero_removes_the_schedule(make_stack: StackFactory) -> None:
    stack = await make_stack(with_worker=False)
    schedule_id = f"flexhook-payload-retention-test-{uuid.uuid4().hex[:12]}"
    await apply_payload_retention_schedule(
        stack.client, task_queue=stack.task_queue, retention=RETENTION, schedule_id=schedule_id
    )

    await apply_payload_retention_schedule(
        stack.client, task_queue=stack.task_queue, retention=timedelta(0), schedule_id=schedule_id
    )

    with pytest.raises(RPCError):
        await stack.client.get_schedule_handle(schedule_id).describe()
