"""The worker: polls the task queue and runs flexhook's workflows (`EventWorkflow`,
`EventWorkflowV1`, `EtaWatchWorkflow`, `ExceptionWatchWorkflow`, `RecipientWorkflow`,
`ReconcileWorkflow`, `PayloadRetentionWorkflow`) and the activities `app.bootstrap` wires for
them; keeps the reconcile and payload retention schedules.

Alerts are sent by a second worker in the same process, on the send queue (`send_queue`), with
threads and slots of its own: a destination that never answers can take at most those, never
the threads and slots that keep the records (`process_event`)."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from temporalio.client import (
    Client,
    Interceptor,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleHandle,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleState,
)
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.service import RPCError
from temporalio.worker import PollerBehaviorAutoscaling, Worker

from activities.recipient import RecipientActivities
from activities.reconcile import ReconcileActivities
from app import temporal_client
from app.payload_codec import PayloadKeys
from workflows.eta_watch import EtaWatchWorkflow
from workflows.event import EventWorkflow
from workflows.event_v1 import EventWorkflowV1
from workflows.exception_watch import ExceptionWatchWorkflow
from workflows.policies import send_queue
from workflows.recipient import RecipientWorkflow
from workflows.recipient_starter import resume_waiting
from workflows.reconcile import ReconcileWorkflow
from workflows.retention import PayloadRetentionWorkflow
from workflows.retention_schedule import apply_payload_retention_schedule, keep_schedule
from workflows.types import ReconcileInput

ACTIVITY_THREADS = 16
# Send slots (and threads) of the send worker: FLEXHOOK_SEND_CONCURRENCY.
SEND_CONCURRENCY = 8

log = logging.getLogger("flexhook.worker")


class ActivitySet(Protocol):
    """What a worker registers: every activity, and the parts it starts and stops itself
    (`app.bootstrap.WorkerActivities`)."""

    @property
    def recipients(self) -> RecipientActivities: ...

    @property
    def reconcile(self) -> ReconcileActivities | None: ...

    def all(self) -> list[Callable[..., Any]]: ...

    def sends(self) -> list[Callable[..., Any]]: ...


class Workers:
    """The process's two workers, run together: the main one (workflows, records, every
    activity) and the send worker (the set's `sends` on `send_queue`, with
    `send_concurrency` slots on a thread pool of its own, shut down with it)."""

    def __init__(self, main: Worker, sends: Worker, executor: ThreadPoolExecutor) -> None:
        self.main = main
        self.sends = sends
        self._executor = executor
        self._running = AsyncExitStack()

    async def __aenter__(self) -> Workers:
        async with AsyncExitStack() as starting:
            starting.callback(self._executor.shutdown, wait=False)
            await starting.enter_async_context(self.sends)
            await starting.enter_async_context(self.main)
            self._running = starting.pop_all()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._running.aclose()


def build_worker(
    client: Client,
    *,
    task_queue: str,
    activities: ActivitySet,
    executor: ThreadPoolExecutor,
    send_concurrency: int = SEND_CONCURRENCY,
) -> Workers:
    """The main worker for every workflow and `activities`, and the send worker beside it; the
    caller owns `executor` (`ACTIVITY_THREADS` threads, the main worker's).
    `ReconcileWorkflow` is registered when `activities` can reconcile. The main worker keeps
    the send activities too, for sends that runs scheduled on its queue before the send queue
    existed."""
    sends_executor = ThreadPoolExecutor(send_concurrency, thread_name_prefix="flexhook-send")
    sends = Worker(
        client,
        task_queue=send_queue(task_queue),
        activities=activities.sends(),
        activity_executor=sends_executor,
        max_concurrent_activities=send_concurrency,
    )
    return Workers(_main_worker(client, task_queue, activities, executor), sends, sends_executor)


def _main_worker(
    client: Client, task_queue: str, activities: ActivitySet, executor: ThreadPoolExecutor
) -> Worker:
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[
            EventWorkflow,
            EventWorkflowV1,  # runs started on the first shape, until none is open
            EtaWatchWorkflow,
            ExceptionWatchWorkflow,
            RecipientWorkflow,
            *([ReconcileWorkflow] if activities.reconcile else []),
            PayloadRetentionWorkflow,
        ],
        activities=activities.all(),
        activity_executor=executor,
        max_concurrent_activities=ACTIVITY_THREADS,
        # Every event starts a new workflow, whose first (for most events only) task comes from
        # the task queue, not a sticky queue: the SDK's default of five pollers, four of them
        # sticky, kept the worker waiting for work (docs/benchmark.md). Autoscaling pollers
        # follow the backlog.
        workflow_task_poller_behavior=PollerBehaviorAutoscaling(),
    )


async def ensure_search_attributes(client: Client, *, namespace: str) -> None:
    """Register flexhook's custom search attributes on `namespace` where they are missing."""
    from temporalio.api.enums.v1 import IndexedValueType
    from temporalio.api.operatorservice.v1 import (
        AddSearchAttributesRequest,
        ListSearchAttributesRequest,
    )

    from workflows.search_attributes import ALL_KEYS

    existing = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=namespace)
    )
    missing = {
        key.name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD
        for key in ALL_KEYS
        if key.name not in existing.custom_attributes
    }
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=namespace, search_attributes=missing)
        )


# -- the reconcile schedule -------------------------------------------------------------------

RECONCILE_SCHEDULE_ID = "flexhook-reconcile"


@dataclass(frozen=True)
class ReconcileSchedule:
    """How often `ReconcileWorkflow` runs and over how much of the past; `every` None: the
    schedule is off, and `off_reason` says why."""

    every: timedelta | None
    lookback: timedelta
    off_reason: str = ""
    schedule_id: str = RECONCILE_SCHEDULE_ID


def _duration(value: timedelta) -> str:
    """`72h`, `15m`, `1h30m`: durations as the settings write them."""
    seconds, parts = int(value.total_seconds()), list[str]()
    for unit, size in (("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size or (unit == "s" and not parts):
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts)


def reconcile_schedule(
    *,
    task_queue: str,
    every: timedelta,
    lookback: timedelta,
    schedule_id: str = RECONCILE_SCHEDULE_ID,
) -> Schedule:
    """A run every `every` over the `lookback` before it; a run still going when the next is
    due makes that one skip, and after downtime only the latest missed run is caught up (each
    run looks back far enough to cover the others)."""
    return Schedule(
        action=ScheduleActionStartWorkflow(
            ReconcileWorkflow.run,
            ReconcileInput(lookback_seconds=lookback.total_seconds(), trigger="schedule"),
            id=schedule_id,  # each run's id is this plus its scheduled time
            task_queue=task_queue,
            static_summary=f"reconcile with Flexport's Events API, lookback {_duration(lookback)}",
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
        policy=SchedulePolicy(
            overlap=ScheduleOverlapPolicy.SKIP, catchup_window=max(every, timedelta(minutes=1))
        ),
        state=ScheduleState(
            note=f"kept by flexhook worker: every {_duration(every)}, lookback "
            f"{_duration(lookback)} (FLEXHOOK_RECONCILE_EVERY, FLEXHOOK_RECONCILE_LOOKBACK)"
        ),
    )


async def ensure_reconcile_schedule(
    client: Client,
    *,
    task_queue: str,
    every: timedelta,
    lookback: timedelta,
    schedule_id: str = RECONCILE_SCHEDULE_ID,
) -> ScheduleHandle:
    """Create the schedule, or update it to these settings (an operator's pause stands)."""
    schedule = reconcile_schedule(
        task_queue=task_queue, every=every, lookback=lookback, schedule_id=schedule_id
    )
    await keep_schedule(client, schedule_id, schedule)
    return client.get_schedule_handle(schedule_id)


async def apply_reconcile_schedule(
    client: Client, *, task_queue: str, schedule: ReconcileSchedule
) -> None:
    """Create or update the schedule when it is on; when off, touch nothing and say so. A
    failure is logged: the events keep flowing without the schedule."""
    if schedule.every is None:
        log.info(
            "reconcile schedule %s not created (%s); nothing is deleted: an existing one stays "
            "as it is (remove it with `temporal schedule delete --schedule-id %s`)",
            schedule.schedule_id,
            schedule.off_reason or "reconciliation is off",
            schedule.schedule_id,
        )
        return
    try:
        await ensure_reconcile_schedule(
            client,
            task_queue=task_queue,
            every=schedule.every,
            lookback=schedule.lookback,
            schedule_id=schedule.schedule_id,
        )
    except RPCError as exc:
        log.error("could not create or update schedule %s: %s", schedule.schedule_id, exc)
        return
    log.info(
        "reconcile schedule %s: every %s, lookback %s",
        schedule.schedule_id,
        _duration(schedule.every),
        _duration(schedule.lookback),
    )


async def connect(
    address: str,
    *,
    namespace: str,
    runtime: Runtime | None = None,
    attempts: int = 60,
    payload_keys: PayloadKeys = (),
    interceptors: Sequence[Interceptor] = (),
) -> Client:
    """Connect to Temporal, waiting up to `attempts` seconds for it to come up."""
    for attempt in range(attempts):
        try:
            return await temporal_client.connect(
                address=address,
                namespace=namespace,
                runtime=runtime,
                payload_keys=payload_keys,
                interceptors=interceptors,
            )
        except RuntimeError:
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(1)
    raise AssertionError("unreachable")


async def serve(
    *,
    address: str,
    namespace: str,
    task_queue: str,
    activities: Callable[[Client], ActivitySet],
    metrics_address: str | None = None,
    reconcile_schedule: ReconcileSchedule | None = None,
    payload_keys: PayloadKeys = (),
    payload_retention: timedelta | None = None,
    send_concurrency: int = SEND_CONCURRENCY,
    interceptors: Sequence[Interceptor] = (),
) -> None:
    """Run the workers until SIGINT or SIGTERM, then drain them and return.

    `activities` builds the worker's activities over its client, on the worker's event loop.
    With `metrics_address` (host:port), Temporal's own Prometheus metrics of this worker are
    served there at /metrics: task latencies, slots, activity outcomes. `reconcile_schedule` is
    applied at start, and so is the payload retention schedule with `payload_retention` (0:
    payloads are kept, no schedule). With `payload_keys` every payload is encrypted
    (`app.payload_codec`). `interceptors` go on the client and its workers (tracing).
    """
    runtime = None
    if metrics_address:
        runtime = Runtime(
            telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=metrics_address))
        )
    client = await connect(
        address,
        namespace=namespace,
        runtime=runtime,
        payload_keys=payload_keys,
        interceptors=interceptors,
    )
    await ensure_search_attributes(client, namespace=namespace)
    registered = activities(client)
    if reconcile_schedule is not None:
        await apply_reconcile_schedule(client, task_queue=task_queue, schedule=reconcile_schedule)
    if payload_retention is not None:
        await apply_payload_retention_schedule(
            client, task_queue=task_queue, retention=payload_retention
        )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    with ThreadPoolExecutor(max_workers=ACTIVITY_THREADS) as executor:
        worker = build_worker(
            client,
            task_queue=task_queue,
            activities=registered,
            executor=executor,
            send_concurrency=send_concurrency,
        )
        try:
            async with worker:
                log.info(
                    "worker polling %s and %s on %s (namespace %s)",
                    task_queue,
                    send_queue(task_queue),
                    address,
                    namespace,
                )
                await resume_waiting(
                    client, task_queue=task_queue, recipients=registered.recipients
                )
                await stop.wait()
                log.info("worker stopping")
        finally:
            if registered.reconcile is not None:
                registered.reconcile.close()
