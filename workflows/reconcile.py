"""`ReconcileWorkflow`: one reconciliation with Flexport's Events API, page by page, then its
record. Started by the `flexhook-reconcile` schedule (see `workflows.worker`)."""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, FailureError

with workflow.unsafe.imports_passed_through():
    from activities.types import ReconcilePageInput, ReconcilePageResult, ReconcileReport
    from workflows.types import ReconcileInput


# One page: a few requests with the client's own retries inside. Flexport unavailable is retried
# with backoff (after its Retry-After when it names one), a bounded number of times, so that a
# run ends and the schedule's next one can start; anything else fails the page at once.
PAGE_TIMEOUT = timedelta(minutes=5)
PAGE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=2),
    maximum_attempts=6,
)
# The record is retried until the database heals: a run is never left unrecorded.
RECORD_TIMEOUT = timedelta(seconds=30)
RECORD_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=60),
)


@workflow.defn
class ReconcileWorkflow:
    @workflow.run
    async def run(self, input: ReconcileInput) -> ReconcileReport:
        started_at = workflow.now()
        until = datetime.fromisoformat(input.until) if input.until else started_at
        since = (
            datetime.fromisoformat(input.since)
            if input.since
            else until - timedelta(seconds=input.lookback_seconds)
        )
        counts = [0, 0, 0, 0]  # listed, known, missing, started
        errors: list[str] = []
        failure: str | None = None
        next_url: str | None = None
        while True:
            try:
                page: ReconcilePageResult = await workflow.execute_activity(
                    "reconcile_page",
                    ReconcilePageInput(
                        since=since.isoformat(), until=until.isoformat(), next_url=next_url
                    ),
                    start_to_close_timeout=PAGE_TIMEOUT,
                    retry_policy=PAGE_RETRY,
                    result_type=ReconcilePageResult,
                )
            except ActivityError as err:
                cause = err.cause or err
                failure = cause.message if isinstance(cause, FailureError) else str(cause)
                errors.append(failure)
                break
            for index, value in enumerate((page.listed, page.known, page.missing, page.started)):
                counts[index] += value
            errors += page.errors
            if page.next_url is None:
                break
            next_url = page.next_url
        listed, known, missing, started = counts
        report = ReconcileReport(
            trigger=input.trigger,
            since=since.isoformat(),
            until=until.isoformat(),
            started_at=started_at.isoformat(),
            finished_at=workflow.now().isoformat(),
            listed=listed,
            known=known,
            missing=missing,
            started=started,
            errors=errors,
            workflow_id=workflow.info().workflow_id,
        )
        await workflow.execute_activity(
            "record_reconcile_run",
            report,
            start_to_close_timeout=RECORD_TIMEOUT,
            retry_policy=RECORD_RETRY,
            result_type=int,
        )
        summary = (
            f"listed {listed}, known {known}, missing {missing}, started {started}, "
            f"{len(errors)} error(s)"
        )
        if failure is not None:
            # Recorded first; failing the run shows it in the Temporal UI and the schedule.
            raise ApplicationError(f"reconcile failed ({summary}): {failure}", non_retryable=True)
        workflow.logger.info("reconcile %s..%s: %s", report.since, report.until, summary)
        return report
