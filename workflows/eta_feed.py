"""The client side of `EtaWatchWorkflow`: how event processing, a sync activity on the worker's
thread pool, tells a shipment's ETA watch what changed."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from datetime import timedelta
from typing import Any

from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from app.core.ids import eta_watch_workflow_id
from workflows import search_attributes
from workflows.eta_watch import ARRIVED_SIGNAL, ETA_SIGNAL, EtaWatchWorkflow
from workflows.types import ArrivalNotice, EtaUpdate, EtaWatchInput


class EtaWatchSignals:
    """An `activities.eta_watch.EtaWatchFeed` over a Temporal client: signal-with-start for an
    ETA, a plain signal for an arrival (no watch running is fine).

    Sync activities get no client of their own (`activity.client()` is for async ones), so each
    call runs on `loop`, the event loop the client and the worker run on, and blocks the calling
    thread until Temporal answers: an error fails the activity, whose retry tells the watch again.
    """

    def __init__(
        self,
        client: Client,
        *,
        task_queue: str,
        loop: asyncio.AbstractEventLoop,
        rpc_timeout: timedelta = timedelta(seconds=10),
    ) -> None:
        self._client = client
        self._task_queue = task_queue
        self._loop = loop
        self._rpc_timeout = rpc_timeout

    def watch(
        self,
        *,
        shipment_id: str,
        estimated_arrival: str,
        stamp: str,
        event_id: str,
        grace: timedelta,
    ) -> None:
        update = EtaUpdate(
            estimated_arrival=estimated_arrival,
            stamp=stamp,
            event_id=event_id,
            grace_seconds=grace.total_seconds(),
        )
        self._call(
            self._client.start_workflow(
                EtaWatchWorkflow.run,
                EtaWatchInput(shipment_id=shipment_id, eta=update),
                id=eta_watch_workflow_id(shipment_id),
                task_queue=self._task_queue,
                start_signal=ETA_SIGNAL,
                start_signal_args=[update],
                search_attributes=search_attributes.for_shipment(shipment_id),
                static_summary=f"ETA watch · shipment {shipment_id}"[:200],
                rpc_timeout=self._rpc_timeout,
            )
        )

    def end(self, *, shipment_id: str, event_id: str, milestone: str) -> None:
        handle = self._client.get_workflow_handle(eta_watch_workflow_id(shipment_id))
        try:
            self._call(
                handle.signal(
                    ARRIVED_SIGNAL,
                    ArrivalNotice(event_id=event_id, milestone=milestone),
                    rpc_timeout=self._rpc_timeout,
                )
            )
        except RPCError as exc:
            # Not found: no watch runs, or it has ended already; nothing to end.
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise

    def _call(self, call: Coroutine[Any, Any, Any]) -> None:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            call.close()
            raise RuntimeError("EtaWatchSignals blocks: call it from a worker thread, not the loop")
        future = asyncio.run_coroutine_threadsafe(call, self._loop)
        try:
            future.result(timeout=3 * self._rpc_timeout.total_seconds())
        except TimeoutError:
            future.cancel()
            raise
