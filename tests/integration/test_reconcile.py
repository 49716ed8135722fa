"""Reconciliation against a real-HTTP stand-in for Flexport's Events API (envelope, paging by
absolute `next`, Bearer check, a 429 on each page's first request), a real Temporal dev server, a
real SQLite log and a real worker: from the CLI and on its Temporal schedule.

The journey of shipment 418563 with a third of its events never delivered ends, after one
reconcile, with the records of a fully delivered journey; every event runs once."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select
from temporalio.client import Client, ScheduleOverlapPolicy, WorkflowFailureError
from temporalio.service import RPCError

from app import bootstrap
from app.core.events import Event
from app.core.ids import event_workflow_id
from app.flexport_api.client import FlexportClient
from app.ingest.reconcile import Reconciler, Window, reconcile_window
from app.ingest.starter import EventStarter, StartResult
from app.settings import Settings, load_settings
from app.store import reconcile_runs
from app.store.models import EventRecord
from app.store.reconcile_runs import RECONCILE_SOURCE
from tests.flexport_standin import FlexportStandIn
from tests.integration.harness import JOURNEY, Samples, Stack, StackFactory
from tests.integration.test_observability import sample_value
from tests.integration.test_webhook_pipeline import comparable, journey_shipment
from tests.log_registry import register_payload, register_secret
from workflows.event import EVENT_WORKFLOW_TYPE
from workflows.worker import ACTIVITY_THREADS, build_worker, ensure_reconcile_schedule

pytestmark = pytest.mark.integration

PAGE_SIZE = 4  # the journey's 13 events on 4 pages
# The samples occurred in February and March 2026.
SINCE = "2026-01-01T00:00:00Z"
WINDOW = Window(since=datetime(2026, 1, 1, tzinfo=UTC), until=datetime(2026, 6, 1, tzinfo=UTC))
RESULT_LINE = "listed {listed}, known {known}, missing {missing}, started {started}"


def new_token() -> str:
    token = secrets.token_urlsafe(24)
    register_secret(token)  # the session fails if any log record holds it
    return token


@pytest.fixture
def token() -> str:
    return new_token()


def journey_events(samples: Samples) -> list[dict[str, Any]]:
    """The journey's Event objects with this test's ids, in order; no log may hold one."""
    events = [samples.payload(name) for name in JOURNEY]
    for event in events:
        register_payload(json.dumps(event))
        register_payload(json.dumps(event, ensure_ascii=False))
    return events


def event_id(event: dict[str, Any]) -> str:
    return str(event["id"])


def body(event: dict[str, Any]) -> bytes:
    return json.dumps(event).encode("utf-8")


async def deliver(stack: Stack, events: list[dict[str, Any]]) -> None:
    for event in events:
        await stack.deliver(body(event))


def split(events: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(delivered, never delivered): every third event is never delivered."""
    never = events[2::3]
    return [e for e in events if e not in never], never


@pytest.fixture
async def reference(make_stack: StackFactory) -> dict[str, Any]:
    """Shipment 418563 after its whole journey was delivered, as the API shows it."""
    return comparable(await journey_shipment(await make_stack(), Samples(), JOURNEY))


@pytest.fixture
def flexport(token: str) -> Iterator[FlexportStandIn]:
    with FlexportStandIn(token=token, page_size=PAGE_SIZE) as standin:
        standin.throttle_each_page("1")  # a 429 with Retry-After on each page's first request
        yield standin


async def shipment(stack: Stack) -> dict[str, Any]:
    response = await stack.api("/shipments/418563")
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


async def runs_per_event(stack: Stack, expected: int) -> Counter[str]:
    """How many runs of `EventWorkflow` each workflow id of the stack's queue has."""
    query = f'TaskQueue = "{stack.task_queue}" AND WorkflowType = "{EVENT_WORKFLOW_TYPE}"'
    found: Counter[str] = Counter()
    for _ in range(100):  # visibility is eventually consistent
        found = Counter([w.id async for w in stack.client.list_workflows(query)])
        if found.total() >= expected:
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.5)  # a second run would have shown up by now
    return Counter([w.id async for w in stack.client.list_workflows(query)])


def logged(stack: Stack) -> dict[str, tuple[str, str | None]]:
    """event id -> (status, source) of every logged event."""
    with Session(stack.engine) as session:
        return {r.event_id: (r.status, r.source) for r in session.exec(select(EventRecord))}


def recorded_runs(stack: Stack) -> list[dict[str, Any]]:
    """The stack's reconcile runs, oldest first."""
    with Session(stack.engine) as session:
        return list(reversed(reconcile_runs.recent_runs(session, limit=100)))


async def workflow_exists(client: Client, workflow_id: str) -> bool:
    try:
        await client.get_workflow_handle(workflow_id).describe()
    except RPCError:
        return False
    return True


# -- the command line -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Cli:
    code: int
    stdout: str
    stderr: str


def cli_env(stack: Stack, *, token: str, flexport: FlexportStandIn) -> dict[str, str]:
    """The environment `flexhook worker` would have: the test's database, Temporal and queue."""
    return {
        "DATABASE_URL": stack.engine.url.render_as_string(hide_password=False),
        "TEMPORAL_ADDRESS": stack.client.service_client.config.target_host,
        "FLEXHOOK_TASK_QUEUE": stack.task_queue,
        "FLEXPORT_API_TOKEN": token,
        "FLEXPORT_API_URL": flexport.base_url,
    }


async def flexhook(*args: str, env: dict[str, str], cwd: Path) -> Cli:
    inherited = {
        k: v for k, v in os.environ.items() if not k.startswith(("FLEXHOOK_", "FLEXPORT_"))
    }
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "flexhook"),
        *args,
        env={**inherited, **env},
        cwd=cwd,  # no stray .env
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await process.communicate()
    assert process.returncode is not None
    return Cli(process.returncode, stdout.decode(), stderr.decode())


async def test_one_reconcile_completes_a_journey_a_third_of_which_was_never_delivered(
    make_stack: StackFactory,
    reference: dict[str, Any],
    flexport: FlexportStandIn,
    token: str,
    tmp_path: Path,
) -> None:
    stack, samples = await make_stack(), Samples()
    events = journey_events(samples)
    delivered, never = split(events)
    await deliver(stack, delivered)
    flexport.add_events(*events)
    env = cli_env(stack, token=token, flexport=flexport)

    first = await flexhook("reconcile", "--since", SINCE, env=env, cwd=tmp_path)

    assert first.code == 0, first.stderr
    assert first.stdout.splitlines() == [
        RESULT_LINE.format(listed=13, known=9, missing=4, started=4)
    ]
    for event in never:
        await stack.wait(event_id(event))
    assert comparable(await shipment(stack)) == reference
    runs = await runs_per_event(stack, expected=len(events))
    assert runs == Counter({event_workflow_id(event_id(e)): 1 for e in events})
    log = logged(stack)
    assert {log[event_id(e)] for e in never} == {("processed", RECONCILE_SOURCE)}
    assert {log[event_id(e)] for e in delivered} == {("processed", None)}

    second = await flexhook("reconcile", "--since", SINCE, env=env, cwd=tmp_path)

    assert second.code == 0, second.stderr
    assert second.stdout.splitlines() == [
        RESULT_LINE.format(listed=13, known=13, missing=0, started=0)
    ]
    assert await runs_per_event(stack, expected=len(events)) == runs
    # Every page was throttled once, retried after Retry-After, and always sent the token.
    pages = flexport.requests_to("/events")
    assert len(pages) == 2 * 4 * 2
    assert {r.headers["authorization"] for r in pages} == {f"Bearer {token}"}
    assert pages[0].query["f.occurred_at.gte"] == "2026-01-01T00:00:00+00:00"
    assert [
        (r["trigger"], r["outcome"], r["missing"], r["started"]) for r in recorded_runs(stack)
    ] == [
        ("cli", "ok", 4, 4),
        ("cli", "ok", 0, 0),
    ]
    await the_runs_show_in_the_api_and_the_metrics(stack)


async def the_runs_show_in_the_api_and_the_metrics(stack: Stack) -> None:
    """After the two CLI runs above: GET /api/reconcile and /metrics report them."""
    answer = await stack.api("/reconcile")
    assert answer.status_code == 200
    runs = answer.json()["runs"]
    assert [(r["missing"], r["started"]) for r in runs] == [(0, 0), (4, 4)]  # newest first
    assert runs[0]["since"].startswith("2026-01-01") and runs[0]["errors"] == []
    unauthorized = await stack.http.get("/api/reconcile")
    assert unauthorized.status_code == 401

    text = (await stack.metrics.get("/metrics")).text
    assert sample_value(text, "flexhook_reconcile_runs", trigger="cli", outcome="ok") == 2
    assert sample_value(text, "flexhook_reconcile_started_events") == 4
    assert sample_value(text, "flexhook_reconciled_events") == 4
    assert sample_value(text, "flexhook_reconcile_last_missing") == 0


async def test_a_dry_run_lists_what_is_missing_and_starts_nothing(
    stack: Stack, samples: Samples, flexport: FlexportStandIn, token: str, tmp_path: Path
) -> None:
    events = journey_events(samples)
    delivered, never = split(events)
    await deliver(stack, delivered)
    flexport.add_events(*events)

    dry = await flexhook(
        "reconcile",
        "--since",
        SINCE,
        "--dry-run",
        env=cli_env(stack, token=token, flexport=flexport),
        cwd=tmp_path,
    )

    assert dry.code == 0, dry.stderr
    assert dry.stdout.splitlines() == [
        *(f"missing\t{event_id(e)}" for e in never),
        RESULT_LINE.format(listed=13, known=9, missing=4, started=0) + " (dry run)",
    ]
    for event in never:
        assert not await workflow_exists(stack.client, event_workflow_id(event_id(event)))
    assert set(logged(stack)) == {event_id(e) for e in delivered}
    [run] = recorded_runs(stack)
    assert (run["dry_run"], run["missing"], run["started"], run["outcome"]) == (True, 4, 0, "ok")


async def test_a_wrong_token_fails_in_one_line_naming_the_setting(
    stack: Stack, samples: Samples, flexport: FlexportStandIn, tmp_path: Path
) -> None:
    flexport.add_events(*journey_events(samples))
    wrong = new_token()

    failed = await flexhook(
        "reconcile",
        "--since",
        SINCE,
        env=cli_env(stack, token=wrong, flexport=flexport),
        cwd=tmp_path,
    )

    assert failed.code == 1
    assert failed.stdout == ""
    assert failed.stderr.splitlines() == [
        "Error: configuration error: Flexport refused the API token (401) for GET /events: "
        "check FLEXPORT_API_TOKEN and its scopes"
    ]
    assert wrong not in failed.stderr
    [run] = recorded_runs(stack)
    assert (run["outcome"], run["listed"], run["started"]) == ("error", 0, 0)
    assert "(401)" in run["errors"][0]
    assert logged(stack) == {}


async def test_a_failed_event_is_known_not_missing(
    stack: Stack, samples: Samples, token: str
) -> None:
    broken = samples.payload("16_invoice_shared")
    broken["data"]["resource"]["due_date"] = "sometime soon"
    register_payload(json.dumps(broken))
    answer = (await stack.post(body(broken))).json()
    with pytest.raises(WorkflowFailureError):
        await stack.wait(answer["event_id"])
    assert logged(stack)[answer["event_id"]][0] == "failed"

    with (
        FlexportStandIn([broken], token=token) as flexport,
        FlexportClient(token=token, base_url=flexport.base_url) as client,
    ):
        tally = await reconcile_window(flexport=client, reconciler=reconciler(stack), window=WINDOW)

    assert tally.summary() == RESULT_LINE.format(listed=1, known=1, missing=0, started=0)
    assert logged(stack)[answer["event_id"]] == ("failed", None)  # a redrive's to run again
    assert await runs_per_event(stack, expected=1) == Counter({answer["workflow_id"]: 1})


# -- a delivery racing reconcile ------------------------------------------------------------------


def reconciler(stack: Stack, starter: EventStarter | None = None) -> Reconciler:
    return Reconciler(
        engine=stack.engine,
        starter=starter
        or EventStarter(
            stack.client, task_queue=stack.task_queue, rpc_timeout=timedelta(seconds=10)
        ),
    )


class DeliveredJustBefore(EventStarter):
    """Flexport's delivery of the same event lands between reconcile's claim and its start."""

    def __init__(self, stack: Stack) -> None:
        super().__init__(
            stack.client, task_queue=stack.task_queue, rpc_timeout=timedelta(seconds=10)
        )
        self._stack = stack
        self.webhook_answers: list[str] = []

    async def start(
        self, event: Event, *, body: str, received_at: datetime, rerun: bool = False
    ) -> StartResult:
        response = await self._stack.post(body.encode("utf-8"))
        self.webhook_answers.append(response.json()["status"])
        return await super().start(event, body=body, received_at=received_at, rerun=rerun)


async def test_a_delivery_landing_while_reconcile_starts_the_event_runs_once(
    stack: Stack, samples: Samples, token: str
) -> None:
    events = journey_events(samples)
    delivered, never = split(events)
    await deliver(stack, delivered)
    starter = DeliveredJustBefore(stack)

    with (
        FlexportStandIn(events, token=token, page_size=PAGE_SIZE) as flexport,
        FlexportClient(token=token, base_url=flexport.base_url) as client,
    ):
        tally = await reconcile_window(
            flexport=client, reconciler=reconciler(stack, starter), window=WINDOW
        )

    assert tally.summary() == RESULT_LINE.format(listed=13, known=9, missing=4, started=0)
    assert starter.webhook_answers == ["accepted"] * 4  # the deliveries won each start
    for event in never:
        await stack.wait(event_id(event))
    runs = await runs_per_event(stack, expected=len(events))
    assert runs == Counter({event_workflow_id(event_id(e)): 1 for e in events})
    # Not reconcile's doing after all: the mark is withdrawn.
    assert set(logged(stack).values()) == {("processed", None)}


async def test_deliveries_and_reconcile_at_the_same_moment_run_each_event_once(
    make_stack: StackFactory, reference: dict[str, Any], token: str
) -> None:
    stack, samples = await make_stack(), Samples()
    events = journey_events(samples)
    delivered, never = split(events)
    await deliver(stack, delivered)

    with (
        FlexportStandIn(events, token=token, page_size=PAGE_SIZE) as flexport,
        FlexportClient(token=token, base_url=flexport.base_url) as client,
    ):
        tally, answers = await asyncio.gather(
            reconcile_window(flexport=client, reconciler=reconciler(stack), window=WINDOW),
            asyncio.gather(*(stack.post(body(event)) for event in never)),
        )

    for event in never:
        await stack.wait(event_id(event))
    runs = await runs_per_event(stack, expected=len(events))
    assert runs == Counter({event_workflow_id(event_id(e)): 1 for e in events})
    accepted_by_webhook = [a.json()["status"] for a in answers].count("accepted")
    assert accepted_by_webhook + tally.started == len(never)
    marked = [i for i, (_, source) in logged(stack).items() if source == RECONCILE_SOURCE]
    assert len(marked) == tally.started
    assert comparable(await shipment(stack)) == reference


# -- on its schedule ----------------------------------------------------------------------------


@pytest.fixture
async def exits() -> AsyncIterator[AsyncExitStack]:
    async with AsyncExitStack() as stack:
        yield stack


def worker_settings(
    stack: Stack, *, token: str, flexport: FlexportStandIn, data_dir: Path
) -> Settings:
    return load_settings(
        flexport_api_token=token,
        flexport_api_url=flexport.base_url,
        task_queue=stack.task_queue,
        data_dir=data_dir,
    )


async def start_worker(stack: Stack, settings: Settings, exits: AsyncExitStack) -> None:
    """The production worker (`build_worker` over `bootstrap`'s activities) on the stack's queue,
    reconcile activities included."""
    activities = bootstrap.worker_activities(settings, stack.engine, stack.client)
    assert activities.reconcile is not None
    exits.callback(activities.reconcile.close)
    executor = exits.enter_context(ThreadPoolExecutor(ACTIVITY_THREADS))
    worker = build_worker(
        stack.client, task_queue=stack.task_queue, activities=activities, executor=executor
    )
    await exits.enter_async_context(worker)


async def scheduled(stack: Stack, exits: AsyncExitStack, *, every: timedelta) -> Any:
    """The reconcile schedule, with an id of this test's own, deleted at the end."""
    handle = await ensure_reconcile_schedule(
        stack.client,
        task_queue=stack.task_queue,
        every=every,
        lookback=datetime.now(UTC) - WINDOW.since,
        schedule_id=f"flexhook-reconcile-test-{uuid.uuid4().hex[:12]}",
    )
    exits.push_async_callback(handle.delete)
    return handle


async def triggered_run(stack: Stack, handle: Any, *, runs_before: int) -> dict[str, Any]:
    """Trigger the schedule; the run it records once its workflow has ended."""
    await handle.trigger()
    for _ in range(600):
        runs = recorded_runs(stack)
        if len(runs) > runs_before:
            run = runs[-1]
            with suppress(WorkflowFailureError):
                await stack.client.get_workflow_handle(run["workflow_id"]).result()
            return run
        await asyncio.sleep(0.1)
    raise AssertionError("the scheduled run recorded nothing")


async def test_the_schedule_reconciles_once_per_run_and_records_it(
    make_stack: StackFactory,
    reference: dict[str, Any],
    flexport: FlexportStandIn,
    token: str,
    tmp_path: Path,
    exits: AsyncExitStack,
) -> None:
    stack, samples = await make_stack(with_worker=False), Samples()
    settings = worker_settings(stack, token=token, flexport=flexport, data_dir=tmp_path)
    await start_worker(stack, settings, exits)
    events = journey_events(samples)
    delivered, never = split(events)
    await deliver(stack, delivered)
    flexport.add_events(*events)
    handle = await scheduled(stack, exits, every=timedelta(hours=1))

    described = await handle.describe()
    assert [i.every for i in described.schedule.spec.intervals] == [timedelta(hours=1)]
    assert described.schedule.policy.overlap == ScheduleOverlapPolicy.SKIP
    first = await triggered_run(stack, handle, runs_before=0)

    assert (first["trigger"], first["outcome"], first["errors"]) == ("schedule", "ok", [])
    assert (first["listed"], first["known"], first["missing"], first["started"]) == (13, 9, 4, 4)
    assert first["workflow_id"].startswith(described.id)
    for event in never:
        await stack.wait(event_id(event))
    assert comparable(await shipment(stack)) == reference
    runs = await runs_per_event(stack, expected=len(events))
    assert runs == Counter({event_workflow_id(event_id(e)): 1 for e in events})

    await asyncio.sleep(1.1)  # a scheduled run's id ends in its second: the next needs another
    second = await triggered_run(stack, handle, runs_before=1)

    assert (second["listed"], second["known"], second["missing"], second["started"]) == (
        13,
        13,
        0,
        0,
    )
    assert await runs_per_event(stack, expected=len(events)) == runs
    # A worker starting again with other settings updates the schedule in place.
    await ensure_reconcile_schedule(
        stack.client,
        task_queue=stack.task_queue,
        every=timedelta(minutes=30),
        lookback=timedelta(hours=72),
        schedule_id=described.id,
    )
    updated = (await handle.describe()).schedule
    assert [i.every for i in updated.spec.intervals] == [timedelta(minutes=30)]


async def test_a_scheduled_run_with_a_refused_token_is_recorded_as_an_error(
    make_stack: StackFactory, flexport: FlexportStandIn, tmp_path: Path, exits: AsyncExitStack
) -> None:
    stack = await make_stack(with_worker=False)
    settings = worker_settings(stack, token=new_token(), flexport=flexport, data_dir=tmp_path)
    await start_worker(stack, settings, exits)
    handle = await scheduled(stack, exits, every=timedelta(hours=1))

    run = await triggered_run(stack, handle, runs_before=0)

    assert (run["trigger"], run["outcome"], run["listed"]) == ("schedule", "error", 0)
    assert run["errors"] == [
        "Flexport refused the API token (401) for GET /events: check FLEXPORT_API_TOKEN and "
        "its scopes"
    ]
    with pytest.raises(WorkflowFailureError) as failure:
        await stack.client.get_workflow_handle(run["workflow_id"]).result()
    assert "reconcile failed" in str(failure.value.cause)
    assert len(flexport.requests_to("/events")) == 1  # refused for good: no retry
