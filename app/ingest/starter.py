"""Temporal adapter for the web process: start one `EventWorkflow` per event id."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from app.core.events import Event
from app.core.ids import event_workflow_id
from app.core.statuses import StartStatus
from app.ingest.errors import EventRejected, EventTooLarge, TemporalUnavailable
from workflows import exception_feed, search_attributes
from workflows.event import EventWorkflow
from workflows.types import EventInput

# Temporal refuses payloads over 2 MB by default. The body travels JSON-encoded with ASCII
# escapes, where one character can take up to 12 bytes (an emoji becomes two \uXXXX escapes).
MAX_ENCODED_BODY = 1_500_000
_WORST_BYTES_PER_CHARACTER = 12


def ensure_fits(body: str) -> None:
    """Raise `EventTooLarge` if `body` would not fit in a workflow input."""
    if len(body) * _WORST_BYTES_PER_CHARACTER <= MAX_ENCODED_BODY:
        return  # too small to exceed it whatever it holds
    encoded = len(json.dumps(body))  # how Temporal's JSON converter writes a string
    if encoded > MAX_ENCODED_BODY:
        raise EventTooLarge(
            f"the body takes {encoded} bytes once encoded for Temporal (at most {MAX_ENCODED_BODY})"
        )


@dataclass(frozen=True)
class StartResult:
    status: StartStatus
    workflow_id: str


class EventStarter:
    """Starts event workflows so that a redelivery is a no-op unless the earlier run failed."""

    def __init__(
        self,
        client: Client,
        *,
        task_queue: str,
        rpc_timeout: timedelta,
        process_deadline: timedelta | None = None,
    ) -> None:
        self._client = client
        self._task_queue = task_queue
        self._rpc_timeout = rpc_timeout
        # None: the workflow's default (`workflows.policies.PROCESS_DEADLINE`).
        self._deadline = process_deadline.total_seconds() if process_deadline else None

    async def exception_changed(self, exception_id: int) -> None:
        """Tell the watch of `exception_id` that a person changed it (signal-with-start)."""
        await exception_feed.changed(
            self._client,
            task_queue=self._task_queue,
            exception_id=exception_id,
            rpc_timeout=self._rpc_timeout,
        )

    async def start(
        self, event: Event, *, body: str, received_at: datetime, rerun: bool = False
    ) -> StartResult:
        """Start the event's workflow. `rerun` (an operator's redrive of an ignored event) lets a
        finished success run again; otherwise only a failed, terminated or cancelled one may."""
        workflow_id = event_workflow_id(event.event_id)
        try:
            # The SDK retries an unavailable server for up to 10 s on its own; the whole start,
            # not just one attempt, must fit the start timeout. A start cut short that did reach
            # the server is harmless: the spool starts it again and Temporal says duplicate.
            async with asyncio.timeout(self._rpc_timeout.total_seconds()):
                await self._start(event, body=body, received_at=received_at, rerun=rerun)
        except WorkflowAlreadyStartedError:
            return StartResult(status=StartStatus.DUPLICATE, workflow_id=workflow_id)
        except RPCError as exc:
            if exc.status == RPCStatusCode.INVALID_ARGUMENT:
                raise EventRejected(f"Temporal refused the event: {exc.message}") from exc
            raise TemporalUnavailable(type(exc).__name__) from exc
        except (RuntimeError, TimeoutError) as exc:
            raise TemporalUnavailable(type(exc).__name__) from exc
        return StartResult(status=StartStatus.ACCEPTED, workflow_id=workflow_id)

    async def _start(self, event: Event, *, body: str, received_at: datetime, rerun: bool) -> None:
        workflow_id = event_workflow_id(event.event_id)
        await self._client.start_workflow(
            EventWorkflow.run,
            EventInput(
                event_id=event.event_id,
                body=body,
                received_at=received_at.isoformat(),
                process_deadline_seconds=self._deadline,
            ),
            id=workflow_id,
            task_queue=self._task_queue,
            id_reuse_policy=(
                WorkflowIDReusePolicy.ALLOW_DUPLICATE
                if rerun
                else WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY
            ),
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            search_attributes=search_attributes.for_event(
                shipment_id=event.shipment_id, event_type=event.type, category=event.category
            ),
            static_summary=workflow_summary(event),
            rpc_timeout=self._rpc_timeout,
        )

    async def check(self) -> None:
        """Raise `TemporalUnavailable` unless the frontend answers its health check."""
        try:
            healthy = await self._client.service_client.check_health(timeout=self._rpc_timeout)
        except (RPCError, RuntimeError, TimeoutError) as exc:
            raise TemporalUnavailable(type(exc).__name__) from exc
        if not healthy:
            raise TemporalUnavailable("health check failed")


def workflow_summary(event: Event) -> str:
    what = event.milestone or event.classification.name
    shipment = f"shipment {event.shipment_id}" if event.shipment_id else "no shipment"
    return f"{what} · {shipment} · {event.type}"[:200]
