"""The end-to-end baseline: a workflow that runs one no-op activity, and a worker for it.

It carries the same body as flexhook's workflow (as its input and its activity's), so the ratio
to it measures flexhook's workflow shape and database work, not the size of the payload.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from dataclasses import dataclass
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import PollerBehaviorAutoscaling, Worker


@dataclass(frozen=True)
class NoopInput:
    event_id: str
    body: str


@activity.defn(name="bench_noop")
async def noop(input: NoopInput) -> None:
    return None


@workflow.defn(name="BenchNoopWorkflow")
class NoopWorkflow:
    @workflow.run
    async def run(self, input: NoopInput) -> None:
        await workflow.execute_activity(noop, input, start_to_close_timeout=timedelta(seconds=30))


async def serve(address: str, task_queue: str) -> None:
    client = await Client.connect(address)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[NoopWorkflow],
        activities=[noop],
        # The poller behaviour of flexhook's worker, so the baseline differs in its work only.
        workflow_task_poller_behavior=PollerBehaviorAutoscaling(),
    ):
        print(f"noop worker polling {task_queue}", flush=True)
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--address", required=True)
    parser.add_argument("--task-queue", required=True)
    args = parser.parse_args()
    asyncio.run(serve(args.address, args.task_queue))


if __name__ == "__main__":
    main()
