"""The client side of `ExceptionWatchWorkflow`: signal-with-start `changed` on an exception's
watch, from the web process (async, `changed`) or from event processing, a sync activity on the
worker's thread pool (`ExceptionWatchSignals`)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta

from temporalio.client import Client

from app.core.ids import exception_workflow_id
from workflows.exception_watch import CHANGED_SIGNAL, ExceptionWatchWorkflow
from workflows.types import ExceptionWatchInput

RPC_TIMEOUT = timedelta(seconds=10)


async def changed(
    client: Client, *, task_queue: str, exception_id: int, rpc_timeout: timedelta = RPC_TIMEOUT
) -> None:
    """Tell the watch of `exception_id` that its row changed, starting it if none runs (a
    reopened exception's watch runs again under the same id)."""
    await client.start_workflow(
        ExceptionWatchWorkflow.run,
        ExceptionWatchInput(exception_id=exception_id),
        id=exception_workflow_id(exception_id),
        task_queue=task_queue,
        start_signal=CHANGED_SIGNAL,
        static_summary=f"exception watch · exception {exception_id}",
        rpc_timeout=rpc_timeout,
    )


def exception_teller(client: Client, *, task_queue: str) -> Callable[[int], Awaitable[None]]:
    """`changed` bound to a client and task queue: what the API and the dashboard are given as
    `tell_exception_watch`."""

    async def tell(exception_id: int) -> None:
        await changed(client, task_queue=task_queue, exception_id=exception_id)

    return tell


class ExceptionWatchSignals:
    """An `activities.exceptions.ExceptionWatchFeed` over a Temporal client. Sync activities get
    no client of their own, so each call runs on `loop`, the event loop the client and the
    worker run on, and blocks the calling thread until Temporal answers: an error fails the
    activity, whose retry tells the watch again."""

    def __init__(
        self,
        client: Client,
        *,
        task_queue: str,
        loop: asyncio.AbstractEventLoop,
        rpc_timeout: timedelta = RPC_TIMEOUT,
    ) -> None:
        self._client = client
        self._task_queue = task_queue
        self._loop = loop
        self._rpc_timeout = rpc_timeout

    def changed(self, exception_id: int) -> None:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            raise RuntimeError("ExceptionWatchSignals blocks: call it from a worker thread")
        future = asyncio.run_coroutine_threadsafe(
            changed(
                self._client,
                task_queue=self._task_queue,
                exception_id=exception_id,
                rpc_timeout=self._rpc_timeout,
            ),
            self._loop,
        )
        try:
            future.result(timeout=3 * self._rpc_timeout.total_seconds())
        except TimeoutError:
            future.cancel()
            raise
