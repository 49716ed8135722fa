"""`FlexportEventWorkflow`: one run per Flexport event id, from the log entry to the records."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.records import (
        ApplyEventInput,
        MarkFailedInput,
        RecordActivities,
        RecordEventInput,
    )
    from app.records import EventOutcome

WORKFLOW_ID_PREFIX = "flexport-event-"

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


def workflow_id_for(event_id: str) -> str:
    return WORKFLOW_ID_PREFIX + event_id


@dataclass(frozen=True)
class EventInput:
    event_id: str
    body: str
    received_at: str  # ISO-8601; the workflow sandbox cannot decode datetime fields


@workflow.defn
class FlexportEventWorkflow:
    @workflow.run
    async def run(self, input: EventInput) -> EventOutcome:
        recorded = await workflow.execute_activity_method(
            RecordActivities.record_event,
            RecordEventInput(
                event_id=input.event_id,
                body=input.body,
                workflow_id=workflow.info().workflow_id,
                received_at=input.received_at,
            ),
            start_to_close_timeout=RECORDS_TIMEOUT,
            retry_policy=RECORDS_RETRY,
        )
        if recorded.status == "ignored":
            workflow.logger.info("event %s has an unknown type: stored, ignored", input.event_id)
            return recorded
        try:
            return await workflow.execute_activity_method(
                RecordActivities.apply_event,
                ApplyEventInput(event_id=input.event_id),
                start_to_close_timeout=RECORDS_TIMEOUT,
                retry_policy=RECORDS_RETRY,
            )
        except ActivityError as err:
            reason = str(err.cause or err)
            await workflow.execute_activity_method(
                RecordActivities.mark_event_failed,
                MarkFailedInput(event_id=input.event_id, error=reason),
                start_to_close_timeout=RECORDS_TIMEOUT,
                retry_policy=RECORDS_RETRY,
            )
            # Failing the run lets a redelivery of this event start a new one.
            raise ApplicationError(
                f"event {input.event_id} could not be applied: {reason}", non_retryable=True
            ) from err
