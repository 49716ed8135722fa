"""`PayloadRetentionWorkflow`: remove the raw payloads of events older than the retention from
the event log. Started daily by the `flexhook-payload-retention` schedule
(`workflows.retention_schedule`)."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.retention_types import (
        PayloadRetentionInput,
        RemovedPayloads,
        RemovePayloadsInput,
    )

# Each attempt works in batches and heartbeats its place: a retry resumes there.
REMOVE_TIMEOUT = timedelta(hours=1)
REMOVE_HEARTBEAT = timedelta(minutes=2)
REMOVE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
    maximum_attempts=10,  # tomorrow's run tries again
)


@workflow.defn
class PayloadRetentionWorkflow:
    @workflow.run
    async def run(self, input: PayloadRetentionInput) -> RemovedPayloads:
        received_before = workflow.now() - timedelta(seconds=input.retention_seconds)
        removed: RemovedPayloads = await workflow.execute_activity(
            "remove_old_payloads",
            RemovePayloadsInput(received_before=received_before.isoformat()),
            start_to_close_timeout=REMOVE_TIMEOUT,
            heartbeat_timeout=REMOVE_HEARTBEAT,
            retry_policy=REMOVE_RETRY,
            result_type=RemovedPayloads,
        )
        workflow.logger.info(
            "payload retention (%s): %d payload(s) removed", input.trigger, removed.removed
        )
        return removed
