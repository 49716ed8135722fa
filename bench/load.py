"""The Temporal SDK load generator, run as its own process; prints one JSON line.

`start`: start `EventWorkflow` exactly as the web process does (same input, id, id
policies, search attributes, summary and RPC timeout), from `--concurrency` tasks sharing one
client, for `--duration` seconds after `--warmup`. The baseline for flexhook's ack rate.

`noop`: start `--count` one-activity no-op workflows (bench/noop.py), then wait until Temporal
says all of them completed. The baseline for flexhook's end-to-end rate, and (with `--sample`,
every body that one sample's) for its actions and history per event.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import uvloop
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy

from app.core.events import parse_event
from app.core.ids import event_workflow_id
from app.ingest.starter import workflow_summary
from bench import payloads
from bench.noop import NoopInput
from workflows import search_attributes
from workflows.event import EventWorkflow
from workflows.types import EventInput

RPC_TIMEOUT = timedelta(seconds=2)  # FLEXHOOK_START_TIMEOUT's default, as the web process uses


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def flexhook_starts(
    client: Client, *, task_queue: str, tag: str, secret: str
) -> Iterator[Callable[[], Awaitable[Any]]]:
    """Ready-to-call starts of flexhook's workflow, one per unique delivery."""
    for delivery in payloads.deliveries(tag, secret=secret):
        event = parse_event(delivery.body)
        kwargs: dict[str, Any] = {
            "id": event_workflow_id(event.event_id),
            "id_reuse_policy": WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
            "id_conflict_policy": WorkflowIDConflictPolicy.FAIL,
            "search_attributes": search_attributes.for_event(
                shipment_id=event.shipment_id, event_type=event.type, category=event.category
            ),
            "static_summary": workflow_summary(event),
            "task_queue": task_queue,
            "rpc_timeout": RPC_TIMEOUT,
        }
        arg = EventInput(
            event_id=event.event_id,
            body=delivery.body.decode("utf-8"),
            received_at=datetime.now(UTC).isoformat(),
        )
        yield lambda arg=arg, kwargs=kwargs: client.start_workflow(  # type: ignore[misc]
            EventWorkflow.run, arg, **kwargs
        )


async def start_rate(args: argparse.Namespace) -> dict[str, Any]:
    client = await Client.connect(args.address)
    starts = flexhook_starts(client, task_queue=args.task_queue, tag=args.tag, secret=args.secret)
    # Prepared up front (more than Temporal can take here), so the timed loop only starts.
    ready: deque[Callable[[], Awaitable[Any]]] = deque(
        next(starts) for _ in range(int(400 * (args.duration + args.warmup)))
    )
    begin = time.perf_counter() + args.warmup
    end = begin + args.duration
    latencies: list[float] = []
    errors: Counter[str] = Counter()

    async def worker() -> None:
        while True:
            sent = time.perf_counter()
            if sent >= end:
                return
            start = ready.popleft() if ready else next(starts)
            try:
                await start()
            except Exception as exc:
                if sent >= begin:
                    errors[type(exc).__name__] += 1
                continue
            done = time.perf_counter()
            if begin <= done < end:
                latencies.append(done - sent)

    tasks = [asyncio.create_task(worker()) for _ in range(args.concurrency)]
    await asyncio.sleep(max(0.0, begin - time.perf_counter()))
    cpu_begin = time.process_time()  # this process's CPU over the measured window
    await asyncio.gather(*tasks)
    cpu = time.process_time() - cpu_begin
    return {
        "loader_cpu_pct": round(100 * cpu / (time.perf_counter() - begin)),
        "requests": len(latencies),
        "duration_s": args.duration,
        "rate": len(latencies) / args.duration,
        "p50_ms": percentile(latencies, 50) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "mean_ms": statistics.fmean(latencies) * 1000 if latencies else float("nan"),
        "errors": dict(errors),
    }


async def noop_e2e(args: argparse.Namespace) -> dict[str, Any]:
    client = await Client.connect(args.address)
    prefix = f"noop-{args.tag}-"
    source = (
        payloads.one_kind(args.sample, args.tag, secret=args.secret, first_shipment=0)
        if args.sample
        else payloads.deliveries(args.tag, secret=args.secret)
    )
    inputs = deque(
        NoopInput(event_id=d.event_id, body=d.body.decode("utf-8"))
        for d in _take(source, args.count)
    )
    errors: Counter[str] = Counter()
    started = time.perf_counter()

    async def worker() -> None:
        while inputs:
            item = inputs.popleft()
            try:
                await client.start_workflow(
                    "BenchNoopWorkflow",
                    item,
                    id=prefix + item.event_id,
                    task_queue=args.task_queue,
                    rpc_timeout=RPC_TIMEOUT,
                )
            except Exception as exc:
                errors[type(exc).__name__] += 1

    await asyncio.gather(*(worker() for _ in range(args.concurrency)))
    all_started = time.perf_counter()
    query = (
        "WorkflowType = 'BenchNoopWorkflow' AND ExecutionStatus = 'Completed' "
        f"AND WorkflowId STARTS_WITH '{prefix}'"
    )
    expected = args.count - sum(errors.values())
    completed = 0
    deadline = all_started + args.timeout
    while time.perf_counter() < deadline:
        completed = (await client.count_workflows(query)).count
        if completed >= expected:
            break
        await asyncio.sleep(0.25)  # each count costs the server ~10 ms
    finished = time.perf_counter()
    return {
        "count": args.count,
        "completed": completed,
        "start_seconds": all_started - started,
        "total_seconds": finished - started,
        "rate": completed / (finished - started),
        "errors": dict(errors),
    }


def _take(iterator: Iterator[payloads.Delivery], count: int) -> list[payloads.Delivery]:
    return [next(iterator) for _ in range(count)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("mode", choices=["start", "noop"])
    parser.add_argument("--address", required=True)
    parser.add_argument("--task-queue", required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--tag", required=True, help="prefix of this run's event ids")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--duration", type=float, default=6.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--sample", help="noop: carry this bundled sample's body (all: cycle)")
    args = parser.parse_args()
    run = start_rate if args.mode == "start" else noop_e2e
    result = uvloop.run(run(args))
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
