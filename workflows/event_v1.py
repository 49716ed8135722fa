"""The event workflow's first shape, frozen: record, apply and plan as three regular activities,
then one send per destination. Registered under its original type name, `FlexportEventWorkflow`,
only so that runs started on it before `FlexportEvent` replaced it finish (and replay). Delete it
once none is open: `temporal workflow list --query 'WorkflowType="FlexportEventWorkflow" AND
ExecutionStatus="Running"'` lists none. Never change what it does."""

from __future__ import annotations

import asyncio

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.types import (
        ApplyEventInput,
        Delivery,
        MarkFailedInput,
        PlanInput,
        RecordEventInput,
    )
    from app.core.outcome import EventOutcome
    from app.core.statuses import EventStatus
    from workflows.policies import RECORDS_RETRY, RECORDS_TIMEOUT
    from workflows.sending import send_alert
    from workflows.types import EventInput


@workflow.defn(name="FlexportEventWorkflow")
class EventWorkflowV1:
    @workflow.run
    async def run(self, input: EventInput) -> EventOutcome:
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
        await asyncio.gather(*(send_alert(delivery) for delivery in deliveries))
