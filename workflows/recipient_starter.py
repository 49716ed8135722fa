"""The client side of `RecipientWorkflow`: how planning, a sync activity on the worker's thread
pool, gets the workflow of a destination whose alerts now wait running."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from datetime import timedelta

from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.service import RPCError

from activities.recipient import RecipientActivities
from activities.recipient_types import RecipientInput, recipient_workflow_id
from workflows.recipient import RecipientWorkflow

log = logging.getLogger("flexhook.worker")


class RecipientStarter:
    """Starts the recipient workflow of destinations; one that runs already is left alone.

    The planner calls it (`__call__`) from a worker thread once its transaction has committed,
    so the workflow finds the held rows; the call runs on `loop`, the event loop the client and
    the worker run on, and blocks until Temporal answers: an error fails the activity, whose
    retry starts it again. `resume` is the awaitable form, for the worker as it starts.
    """

    def __init__(
        self,
        client: Client,
        *,
        task_queue: str,
        loop: asyncio.AbstractEventLoop,
        rpc_timeout: timedelta = timedelta(seconds=5),
    ) -> None:
        self._client = client
        self._task_queue = task_queue
        self._loop = loop
        self._rpc_timeout = rpc_timeout

    async def start(self, destination_id: str) -> None:
        await self._client.start_workflow(
            RecipientWorkflow.run,
            RecipientInput(destination_id=destination_id),
            id=recipient_workflow_id(destination_id),
            task_queue=self._task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            static_summary=f"held alerts and digests · {destination_id}",
            rpc_timeout=self._rpc_timeout,
        )

    async def resume(self, destination_ids: Iterable[str]) -> None:
        for destination_id in destination_ids:
            await self.start(destination_id)

    def __call__(self, destination_ids: Iterable[str]) -> None:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            raise RuntimeError("RecipientStarter blocks: call it from a worker thread")
        future = asyncio.run_coroutine_threadsafe(
            self.resume(sorted(set(destination_ids))), self._loop
        )
        try:
            future.result(timeout=3 * self._rpc_timeout.total_seconds())
        except TimeoutError:
            future.cancel()
            raise


async def resume_waiting(
    client: Client, *, task_queue: str, recipients: RecipientActivities
) -> None:
    """Start the workflow of every destination with held alerts that has none running (one an
    operator terminated, say); a failure is logged, and the next held alert starts it again."""
    destination_ids = await asyncio.to_thread(recipients.waiting_destinations)
    starter = RecipientStarter(client, task_queue=task_queue, loop=asyncio.get_running_loop())
    try:
        await starter.resume(destination_ids)
    except RPCError as exc:
        log.error("could not resume the recipient workflows: %s", exc)
