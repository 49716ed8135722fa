"""`FlexportEventWorkflow`: one run per Flexport event id, from the log entry to the records."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.types import (
        ApplyEventInput,
        Delivery,
        DeliveryFailure,
        MarkFailedInput,
        PlanInput,
        ProcessedEvent,
        ProcessEventInput,
        RecordEventInput,
    )
    from app.core.outcome import EventOutcome
    from app.core.statuses import EventStatus
    from workflows.types import EventInput

# Data errors never heal by retrying; anything else (the database away, a lock) is retried until
# it heals, so an accepted event is never dropped on the floor.
DATA_ERRORS = ["EventDataError", "MalformedEvent"]
RECORDS_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=60),
    non_retryable_error_types=DATA_ERRORS,
)
RECORDS_TIMEOUT = timedelta(seconds=30)

# An alert that cannot get through is retried with backoff for a bounded time, then recorded as
# failed; a URL Apprise rejects is not retried at all. Neither touches the records.
NOTIFY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=60),
    non_retryable_error_types=["InvalidDestination"],
)
NOTIFY_ATTEMPT_TIMEOUT = timedelta(seconds=60)

# Runs started after this patch record, apply and plan in one local activity (`process_event`),
# half the Temporal actions of the three regular activities before it.
ONE_LOCAL_ACTIVITY = "one-local-activity"
NOTIFY_DEADLINE = timedelta(minutes=15)


@workflow.defn
class FlexportEventWorkflow:
    @workflow.run
    async def run(self, input: EventInput) -> EventOutcome:
        if workflow.patched(ONE_LOCAL_ACTIVITY):
            return await self._process(input)
        return await self._record_apply_plan(input)

    async def _process(self, input: EventInput) -> EventOutcome:
        """Record, apply and plan in one local activity; then one send per destination."""
        try:
            processed: ProcessedEvent = await workflow.execute_local_activity(
                "process_event",
                ProcessEventInput(
                    event_id=input.event_id,
                    body=input.body,
                    workflow_id=workflow.info().workflow_id,
                    received_at=input.received_at,
                ),
                start_to_close_timeout=RECORDS_TIMEOUT,
                retry_policy=RECORDS_RETRY,
                result_type=ProcessedEvent,
            )
        except (ActivityError, ApplicationError) as err:
            # The activity has logged the event as failed, with the reason. A local activity's
            # failure arrives as its own ApplicationError, not wrapped in an ActivityError.
            reason = err.cause if isinstance(err, ActivityError) and err.cause else err
            raise ApplicationError(
                f"event {input.event_id} could not be applied: {reason}", non_retryable=True
            ) from err
        outcome = processed.outcome
        if outcome.status == EventStatus.IGNORED:
            workflow.logger.info("event %s has an unknown type: stored, ignored", input.event_id)
        await asyncio.gather(*(self._send(delivery) for delivery in processed.deliveries))
        return outcome

    async def _record_apply_plan(self, input: EventInput) -> EventOutcome:
        """The path before `ONE_LOCAL_ACTIVITY`: three regular activities. Kept so that runs
        started on it replay; remove it (and the patch check) once none is open."""
        recorded: EventOutcome = await workflow.execute_activity(
            "record_event",
            RecordEventInput(
                event_id=input.event_id,
                body=input.body,
                workflow_id=workflow.info().workflow_id,
                received_at=input.received_at,
            ),
            start_to_close_timeout=RECORDS_TIMEOUT,
            retry_policy=RECORDS_RETRY,
            result_type=EventOutcome,
        )
        if recorded.status == EventStatus.IGNORED:
            workflow.logger.info("event %s has an unknown type: stored, ignored", input.event_id)
            return recorded
        try:
            outcome: EventOutcome = await workflow.execute_activity(
                "apply_event",
                ApplyEventInput(event_id=input.event_id),
                start_to_close_timeout=RECORDS_TIMEOUT,
                retry_policy=RECORDS_RETRY,
                result_type=EventOutcome,
            )
        except ActivityError as err:
            reason = str(err.cause or err)
            await workflow.execute_activity(
                "mark_event_failed",
                MarkFailedInput(event_id=input.event_id, error=reason),
                start_to_close_timeout=RECORDS_TIMEOUT,
                retry_policy=RECORDS_RETRY,
            )
            # Failing the run lets a redelivery of this event start a new one.
            raise ApplicationError(
                f"event {input.event_id} could not be applied: {reason}", non_retryable=True
            ) from err
        if outcome.alerts:
            await self._notify(outcome)
        return outcome

    async def _notify(self, outcome: EventOutcome) -> None:
        deliveries: list[Delivery] = await workflow.execute_activity(
            "plan_notifications",
            PlanInput(alerts=outcome.alerts),
            start_to_close_timeout=RECORDS_TIMEOUT,
            retry_policy=RECORDS_RETRY,
            result_type=list[Delivery],
        )
        await asyncio.gather(*(self._send(delivery) for delivery in deliveries))

    async def _send(self, delivery: Delivery) -> None:
        try:
            await workflow.execute_activity(
                "send_notification",
                delivery,
                start_to_close_timeout=NOTIFY_ATTEMPT_TIMEOUT,
                schedule_to_close_timeout=NOTIFY_DEADLINE,
                retry_policy=NOTIFY_RETRY,
                result_type=str,
            )
        except ActivityError as err:
            workflow.logger.warning(
                "alert %s to %s failed: %s",
                delivery.alert.dedup_key,
                delivery.destination_id,
                err.cause or err,
            )
            await workflow.execute_activity(
                "mark_notification_failed",
                DeliveryFailure(delivery=delivery, error=str(err.cause or err)),
                start_to_close_timeout=RECORDS_TIMEOUT,
                retry_policy=RECORDS_RETRY,
            )
