"""The worker: polls the task queue and runs `FlexportEventWorkflow` and its activities."""

from __future__ import annotations

import asyncio
import logging
import signal
from concurrent.futures import ThreadPoolExecutor

from temporalio.client import Client
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import Worker

from activities.delivery import NotificationActivities
from activities.processing import RecordActivities
from app import temporal_client
from workflows.event import FlexportEventWorkflow

ACTIVITY_THREADS = 16

log = logging.getLogger("flexhook.worker")


def build_worker(
    client: Client,
    *,
    task_queue: str,
    records: RecordActivities,
    notifications: NotificationActivities,
    executor: ThreadPoolExecutor,
) -> Worker:
    """A worker for the event workflow; the caller owns `executor` (`ACTIVITY_THREADS` threads)."""
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[FlexportEventWorkflow],
        activities=[
            *records.with_planner(notifications).all(),
            *records.all(),
            *notifications.all(),
        ],
        activity_executor=executor,
        max_concurrent_activities=ACTIVITY_THREADS,
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


async def connect(
    address: str, *, namespace: str, runtime: Runtime | None = None, attempts: int = 60
) -> Client:
    """Connect to Temporal, waiting up to `attempts` seconds for it to come up."""
    for attempt in range(attempts):
        try:
            return await temporal_client.connect(
                address=address, namespace=namespace, runtime=runtime
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
    records: RecordActivities,
    notifications: NotificationActivities,
    metrics_address: str | None = None,
) -> None:
    """Run a worker until SIGINT or SIGTERM, then drain it and return.

    With `metrics_address` (host:port), Temporal's own Prometheus metrics of this worker are
    served there at /metrics: task latencies, slots, activity outcomes.
    """
    runtime = None
    if metrics_address:
        runtime = Runtime(
            telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=metrics_address))
        )
    client = await connect(address, namespace=namespace, runtime=runtime)
    await ensure_search_attributes(client, namespace=namespace)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    with ThreadPoolExecutor(max_workers=ACTIVITY_THREADS) as executor:
        worker = build_worker(
            client,
            task_queue=task_queue,
            records=records,
            notifications=notifications,
            executor=executor,
        )
        async with worker:
            log.info("worker polling %s on %s (namespace %s)", task_queue, address, namespace)
            await stop.wait()
            log.info("worker stopping")
