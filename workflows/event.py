"""`EventWorkflow` (workflow type `FlexportEvent`): one run per Flexport event id, from
the log entry to the records and the alerts.

One local activity, `process_event`, records the event, applies it and plans its alerts in one
database transaction; then one regular activity per alert destination sends it. That is two
Temporal actions for an event that alerts nobody (start, local activity). The activity is retried
until `FLEXHOOK_PROCESS_DEADLINE` after the run started (it travels in `EventInput`); past it, a
failing attempt logs the event failed and the run fails: no event is retried forever. Runs
started on the first shape (three regular activities) finish on `workflows.event_v1`, under the
type name they started with: a new workflow type rather than `workflow.patched`, because a patch
also upserts the `TemporalChangeVersion` search attribute, one more billable action on every run.

The workflow runs outside Temporal's sandbox (`sandboxed=False`). The sandbox re-imports a
workflow's modules and proxies its globals for every new run; for a workflow of one or a few
workflow tasks, that is the largest part of the worker's CPU outside the activity (measured with
`make bench`: 15.0 -> 12.0 ms of worker CPU per event). What the sandbox would catch cannot
happen here: the code calls no clock, random source or I/O of its own, only
`execute_local_activity` and `send_alert`, and the replay test
(`tests/unit/test_workflow_replay.py`) replays recorded histories on every change.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.types import ProcessedEvent, ProcessEventInput
    from app.core.outcome import EventOutcome
    from app.core.statuses import EventStatus
    from workflows.policies import PROCESS_DEADLINE, RECORDS_RETRY, RECORDS_TIMEOUT
    from workflows.sending import send_alert
    from workflows.types import EventInput

# The workflow type new events start as (`FlexportEventWorkflow` was the first shape's).
EVENT_WORKFLOW_TYPE = "FlexportEvent"


@workflow.defn(name=EVENT_WORKFLOW_TYPE, sandboxed=False)
class EventWorkflow:
    @workflow.run
    async def run(self, input: EventInput) -> EventOutcome:
        """Record, apply and plan in one local activity; then one send per destination."""
        # Past this moment an attempt that fails fails the event (logged, ops told) instead of
        # being retried. Only the activity's input changes: no new command, nothing to patch.
        deadline = PROCESS_DEADLINE
        if input.process_deadline_seconds is not None:
            deadline = timedelta(seconds=input.process_deadline_seconds)
        fail_after = workflow.info().start_time + deadline
        try:
            processed: ProcessedEvent = await workflow.execute_local_activity(
                "process_event",
                ProcessEventInput(
                    event_id=input.event_id,
                    body=input.body,
                    workflow_id=workflow.info().workflow_id,
                    received_at=input.received_at,
                    fail_after=fail_after.isoformat(),
                ),
                start_to_close_timeout=RECORDS_TIMEOUT,
                retry_policy=RECORDS_RETRY,
                result_type=ProcessedEvent,
            )
        except (ActivityError, ApplicationError) as err:
            # The activity has logged the event as failed, with the reason (where the database
            # allowed it: past the deadline, it gives up even when it could not). A local activity's
            # failure arrives as its own ApplicationError, not wrapped in an ActivityError.
            reason = err.cause if isinstance(err, ActivityError) and err.cause else err
            raise ApplicationError(
                f"event {input.event_id} could not be applied: {reason}", non_retryable=True
            ) from err
        outcome = processed.outcome
        if outcome.status == EventStatus.IGNORED:
            workflow.logger.info("event %s has an unknown type: stored, ignored", input.event_id)
        await asyncio.gather(*(send_alert(delivery) for delivery in processed.deliveries))
        return outcome
