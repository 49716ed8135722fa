"""`RecipientWorkflow`: one long-lived run per destination whose alerts may wait (a daily digest,
quiet hours), `recipient-<destination id>`.

It needs no signal: the planner leaves held alerts in the ledger and starts the workflow if it
is not running; the workflow sleeps on durable timers until the next moment something may be
due (the end of quiet hours, the digest time, both computed in the recipient's time zone by
`wake_recipient`), then sends what is due: held alerts one at a time, oldest first, through the
same `send_notification` as every alert, or one digest. A run continues as new every
`ROUNDS_PER_RUN` wake-ups, so its history stays small; it ends when nothing waits for the
destination any more (its recipient was removed).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.recipient_types import (
        RECIPIENT_WORKFLOW,
        DigestFailure,
        DigestInput,
        RecipientInput,
        RecipientWake,
        WakeInput,
    )
    from activities.types import Delivery  # itself: the sandbox resolves RecipientWake's hints
    from workflows.policies import (
        NOTIFY_ATTEMPT_TIMEOUT,
        NOTIFY_DEADLINE,
        NOTIFY_RETRY,
        RECORDS_RETRY,
        RECORDS_TIMEOUT,
    )
    from workflows.sending import send_alert, send_queue_of_run

# About a month of daily wake-ups per run (quiet hours and a digest wake once a day each).
ROUNDS_PER_RUN = 30
# A timer is never shorter: a worker whose clock runs behind the server's must not spin.
MIN_SLEEP = timedelta(seconds=1)


@workflow.defn(name=RECIPIENT_WORKFLOW)
class RecipientWorkflow:
    @workflow.run
    async def run(self, input: RecipientInput) -> None:
        for _ in range(ROUNDS_PER_RUN):
            wake: RecipientWake = await workflow.execute_activity(
                "wake_recipient",
                WakeInput(destination_id=input.destination_id),
                start_to_close_timeout=RECORDS_TIMEOUT,
                retry_policy=RECORDS_RETRY,
                result_type=RecipientWake,
            )
            releases: list[Delivery] = wake.releases
            for delivery in releases:  # one at a time: in the order they happened
                await send_alert(delivery)
            if wake.digest_date is not None:
                await self._digest(
                    DigestInput(destination_id=input.destination_id, local_date=wake.digest_date)
                )
            if wake.next_wake is None:
                return
            delay = datetime.fromisoformat(wake.next_wake) - workflow.now()
            await workflow.sleep(max(delay, MIN_SLEEP))
            if workflow.info().is_continue_as_new_suggested():
                break
        workflow.continue_as_new(RecipientInput(destination_id=input.destination_id))

    async def _digest(self, digest: DigestInput) -> None:
        try:
            await workflow.execute_activity(
                "send_digest",
                digest,
                task_queue=send_queue_of_run(),
                start_to_close_timeout=NOTIFY_ATTEMPT_TIMEOUT,
                schedule_to_close_timeout=NOTIFY_DEADLINE,
                retry_policy=NOTIFY_RETRY,
                result_type=str,
            )
        except ActivityError as err:
            workflow.logger.warning(
                "digest of %s to %s failed: %s",
                digest.local_date,
                digest.destination_id,
                err.cause or err,
            )
            await workflow.execute_activity(
                "mark_digest_failed",
                DigestFailure(digest=digest, error=str(err.cause or err)),
                start_to_close_timeout=RECORDS_TIMEOUT,
                retry_policy=RECORDS_RETRY,
            )
