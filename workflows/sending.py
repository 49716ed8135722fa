"""Sending one alert to one destination from workflow code: the step every workflow that alerts
shares (deterministic: it only schedules activities)."""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.types import Delivery, DeliveryFailure
    from workflows.policies import (
        NOTIFY_ATTEMPT_TIMEOUT,
        NOTIFY_DEADLINE,
        NOTIFY_RETRY,
        RECORDS_RETRY,
        RECORDS_TIMEOUT,
        send_queue,
    )


def send_queue_of_run() -> str:
    """The task queue this run's sends go to: its send queue (`workflows.worker.send_queue`),
    served by slots and threads of their own.

    No `workflow.patched` here: a patch upserts the `TemporalChangeVersion` search attribute, one
    more billable action on every run that alerts, and replay does not compare an activity's task
    queue, so runs that scheduled their sends on their own queue before replay as they were (their
    recorded histories do), and the main worker still serves those sends.
    """
    return send_queue(workflow.info().task_queue)


async def send_alert(delivery: Delivery) -> None:
    """Send one alert to one destination, retried for a bounded time; when it cannot get through,
    record the failure in the ledger (the run goes on)."""
    try:
        await workflow.execute_activity(
            "send_notification",
            delivery,
            task_queue=send_queue_of_run(),
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
