"""`ExceptionWatchWorkflow` (type `ExceptionWatch`): one per exception that is not resolved,
id `exception-<id>`; it keeps the exception's clocks and sends its messages.

Each turn a local activity reads the row: resolved, or the next due time (escalate, remind or
wake) and the notices waiting in its outbox. Notices are planned and sent first; a resolved
exception's watch then ends. Otherwise the watch waits on a durable timer for the due time, or
for the `changed` signal (a person acted, Flexport reported or cleared), whichever comes first;
at the due time an activity performs what is due against the row (escalate and remind once per
episode, wake a snooze) and the watch sends what it planned.

Person actions never run through here: the store's compare-and-set keeps them and automation
apart, and every turn re-reads the row, so a lost signal only delays until the next timer. The
history stays bounded: after `TURNS_PER_RUN` turns, or when Temporal suggests it, the run
continues as new with the same input.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.types import ExceptionClock, ExceptionDueInput, ExceptionWatchStep
    from workflows.policies import RECORDS_RETRY, RECORDS_TIMEOUT
    from workflows.sending import send_alert
    from workflows.types import ExceptionWatchInput

EXCEPTION_WATCH_TYPE = "ExceptionWatch"
CHANGED_SIGNAL = "changed"
# A turn adds a dozen events or so to the history; 200 keep a run well below the size at which
# Temporal suggests continuing as new.
TURNS_PER_RUN = 200

# How a watch ends: its result.
RESOLVED = "resolved"


@workflow.defn(name=EXCEPTION_WATCH_TYPE, sandboxed=False)
class ExceptionWatchWorkflow:
    @workflow.init
    def __init__(self, input: ExceptionWatchInput) -> None:
        self._exception_id = input.exception_id
        self._changed = False
        self._turns = 0

    @workflow.run
    async def run(self, input: ExceptionWatchInput) -> str:
        """`resolved` once the exception is resolved (or gone) and its notices sent."""
        while True:
            self._changed = False
            clock = await self._read()
            if clock.notices:
                await self._step("plan_exception_notices")
            if clock.resolved:
                return RESOLVED
            if self._turns >= TURNS_PER_RUN or workflow.info().is_continue_as_new_suggested():
                workflow.continue_as_new(ExceptionWatchInput(exception_id=self._exception_id))
            self._turns += 1
            if await self._due(clock):
                await self._step("perform_exception_due")

    @workflow.signal(name=CHANGED_SIGNAL)
    def changed(self) -> None:
        """The row changed: read it again."""
        self._changed = True

    def _input(self) -> ExceptionDueInput:
        return ExceptionDueInput(exception_id=self._exception_id, at=workflow.now().isoformat())

    async def _read(self) -> ExceptionClock:
        clock: ExceptionClock = await workflow.execute_local_activity(
            "read_exception_clock",
            self._input(),
            start_to_close_timeout=RECORDS_TIMEOUT,
            retry_policy=RECORDS_RETRY,
            result_type=ExceptionClock,
        )
        return clock

    async def _due(self, clock: ExceptionClock) -> bool:
        """Wait for the due time on a durable timer (for ever when no clock runs); False when
        the row changed first."""
        if self._changed:
            return False
        if clock.due_at is None:
            await workflow.wait_condition(lambda: self._changed)
            return False
        remaining = datetime.fromisoformat(clock.due_at) - workflow.now()
        if remaining > timedelta(0):
            with contextlib.suppress(TimeoutError):  # the timer fired
                await workflow.wait_condition(
                    lambda: self._changed, timeout=remaining, timeout_summary=clock.due or "due"
                )
        return not self._changed or workflow.now() >= datetime.fromisoformat(clock.due_at)

    async def _step(self, activity: str) -> None:
        """Run one planning activity, then send what it planned."""
        step: ExceptionWatchStep = await workflow.execute_activity(
            activity,
            self._input(),
            start_to_close_timeout=RECORDS_TIMEOUT,
            retry_policy=RECORDS_RETRY,
            result_type=ExceptionWatchStep,
        )
        await asyncio.gather(*(send_alert(delivery) for delivery in step.deliveries))
