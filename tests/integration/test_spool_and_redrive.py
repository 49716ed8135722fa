"""Nothing lost while Temporal is away (the spool), and ops can run events again (redrive)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, func, select
from temporalio.client import Client, WorkflowFailureError
from temporalio.testing import WorkflowEnvironment

from app.store.models import Milestone
from tests.integration.harness import Samples, Stack, StackFactory, TcpGate, free_port

pytestmark = pytest.mark.integration


@pytest.fixture
async def gate(temporal_env: WorkflowEnvironment) -> AsyncIterator[TcpGate]:
    """A gate in front of the shared Temporal server, shut at first."""
    host, port = temporal_env.client.service_client.config.target_host.rsplit(":", 1)
    gate = TcpGate(int(port), target_host=host)
    yield gate
    await gate.shut()


async def event_status(stack: Stack, event_id: str) -> str:
    response = await stack.api(f"/events/{event_id}")
    status: str = response.json()["status"]
    return status


async def wait_for_status(stack: Stack, event_id: str, wanted: str, *, seconds: float = 60) -> None:
    for _ in range(int(seconds * 10)):
        if await event_status(stack, event_id) == wanted:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(
        f"event {event_id} never became {wanted}: {await event_status(stack, event_id)}"
    )


async def wait_until_failed(stack: Stack, event_id: str) -> None:
    """The log says failed and the run has closed (the log is written just before it closes)."""
    await wait_for_status(stack, event_id, "failed")
    with pytest.raises(WorkflowFailureError):
        await stack.wait(event_id)


async def test_while_temporal_is_away_events_are_queued_then_relayed_once(
    make_stack: StackFactory, samples: Samples, gate: TcpGate
) -> None:
    stack = await make_stack(client=await Client.connect(gate.address, lazy=True), rpc_timeout=1)
    departed, arrived = samples.body("06_leg_departed"), samples.body("09_leg_arrived")

    first = await stack.post(departed)
    again = await stack.post(departed)
    other = await stack.post(arrived)

    assert [r.status_code for r in (first, again, other)] == [200, 200, 200]
    assert [r.json()["status"] for r in (first, again, other)] == ["queued"] * 3
    event_id = first.json()["event_id"]
    assert first.json()["workflow_id"] == f"flexport-event-{event_id}"
    assert await event_status(stack, event_id) == "queued"
    spool = (await stack.api("/spool")).json()
    assert spool["depth"] == 2
    assert spool["oldest_age_seconds"] >= 0
    ready = await stack.http.get("/readyz")
    assert ready.status_code == 503
    assert ready.json() == {"database": "up", "temporal": "down"}

    await gate.open()
    await wait_for_status(stack, event_id, "processed")
    await wait_for_status(stack, other.json()["event_id"], "processed")

    assert (await stack.api("/spool")).json()["depth"] == 0
    shipment = (await stack.api("/shipments/418563")).json()
    assert shipment["status"] == "arrived"
    with Session(stack.engine) as session:
        count = session.exec(select(func.count()).select_from(Milestone)).one()
    assert count == 2
    assert (await stack.post(departed)).json()["status"] == "duplicate"


async def test_with_temporal_and_the_database_away_the_answer_is_503(
    make_stack: StackFactory, samples: Samples
) -> None:
    unreachable = await Client.connect(f"127.0.0.1:{free_port()}", lazy=True)
    database = f"postgresql+psycopg://flexhook:secret@127.0.0.1:{free_port()}/flexhook"
    stack = await make_stack(
        client=unreachable, with_worker=False, rpc_timeout=1, database_url=database
    )

    response = await stack.post(samples.body("06_leg_departed"))
    ready = await stack.http.get("/readyz")

    assert response.status_code == 503
    assert response.json()["error"] == "unavailable"
    assert (ready.status_code, ready.json()) == (503, {"database": "down", "temporal": "down"})


async def test_redrive_runs_a_failed_event_again_and_leaves_a_processed_one_alone(
    stack: Stack, samples: Samples
) -> None:
    broken = samples.payload("21_compact_shipment_milestone")
    broken["data"]["occurred_at"] = "not a time"
    failed = (await stack.post(json.dumps(broken).encode())).json()
    processed = await stack.deliver(samples.body("06_leg_departed"))
    await wait_until_failed(stack, failed["event_id"])
    headers = {"authorization": f"Bearer {stack.api_token}"}

    rerun = await stack.http.post(f"/api/events/{failed['event_id']}/redrive", headers=headers)
    no_op = await stack.http.post(f"/api/events/{processed['event_id']}/redrive", headers=headers)
    missing = await stack.http.post("/api/events/nope/redrive", headers=headers)
    unauthorized = await stack.http.post(f"/api/events/{failed['event_id']}/redrive")

    assert rerun.json()["status"] == "accepted"
    assert no_op.json()["status"] == "duplicate"
    assert missing.status_code == 404
    assert unauthorized.status_code == 401
    runs = [
        w.run_id
        async for w in stack.client.list_workflows(f'WorkflowId = "{failed["workflow_id"]}"')
    ]
    for _ in range(50):  # visibility is eventually consistent
        if len(runs) == 2:
            break
        await asyncio.sleep(0.1)
        runs = [
            w.run_id
            async for w in stack.client.list_workflows(f'WorkflowId = "{failed["workflow_id"]}"')
        ]
    assert len(runs) == 2


async def test_redrive_of_an_ignored_event_classifies_it_again(
    stack: Stack, samples: Samples
) -> None:
    answer = await stack.deliver(samples.body("06_leg_departed", type="/shipment_leg#teleported"))
    headers = {"authorization": f"Bearer {stack.api_token}"}

    rerun = await stack.http.post(f"/api/events/{answer['event_id']}/redrive", headers=headers)
    outcome = await stack.wait(answer["event_id"])

    assert rerun.json()["status"] == "accepted"
    assert outcome["status"] == "ignored"
    assert await event_status(stack, answer["event_id"]) == "ignored"


async def run_cli(*args: str, env: dict[str, str]) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "flexhook"),
        *args,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    assert process.returncode is not None
    return process.returncode, output.decode()


async def test_the_redrive_command_redrives_failed_events_with_a_summary(
    stack: Stack, samples: Samples, temporal_env: WorkflowEnvironment
) -> None:
    broken = samples.payload("21_compact_shipment_milestone")
    broken["data"]["occurred_at"] = "not a time"
    failed = (await stack.post(json.dumps(broken).encode())).json()
    await stack.deliver(samples.body("06_leg_departed"))
    await wait_until_failed(stack, failed["event_id"])
    env: dict[str, Any] = {
        "DATABASE_URL": str(stack.engine.url),
        "TEMPORAL_ADDRESS": temporal_env.client.service_client.config.target_host,
        "FLEXHOOK_TASK_QUEUE": stack.task_queue,
    }

    dry_code, dry = await run_cli("redrive", "--status", "failed", "--dry-run", env=env)
    code, output = await run_cli("redrive", "--status", "failed", "--shipment", "418563", env=env)

    assert dry_code == 0
    assert failed["event_id"] in dry and "1 failed event(s) match (dry run)" in dry
    assert code == 0, output
    assert "1 accepted" in output
    none_code, none = await run_cli("redrive", "--status", "queued", env=env)
    assert none_code == 0 and "0 queued event(s) match" in none
