"""Timeouts and retry policies of the activities flexhook's workflows run: every workflow
takes them from here."""

from __future__ import annotations

from datetime import timedelta

from temporalio.common import RetryPolicy

# Data errors never heal by retrying; anything else (the database away, a lock, a bug) is retried
# until it heals or the event's processing deadline passes.
DATA_ERRORS = ["EventDataError", "MalformedEvent", "StoreDataError", "ProcessDeadline"]
RECORDS_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=60),
    non_retryable_error_types=DATA_ERRORS,
)
RECORDS_TIMEOUT = timedelta(seconds=30)
# How long after its run started `process_event` is retried before the event is failed
# (`FLEXHOOK_PROCESS_DEADLINE` travels in the workflow input; this is its default).
PROCESS_DEADLINE = timedelta(hours=1)

# An alert that cannot get through is retried with backoff for a bounded time, then recorded as
# failed; a URL Apprise rejects is not retried at all, nor a send to a destination whose
# breaker is open (`DestinationSkipped`, raised non-retryable). Each attempt's own send stops at
# FLEXHOOK_SEND_DEADLINE (at most 50 s), well inside the attempt's timeout.
NOTIFY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=60),
    non_retryable_error_types=["InvalidDestination"],
)
NOTIFY_ATTEMPT_TIMEOUT = timedelta(seconds=60)
NOTIFY_DEADLINE = timedelta(minutes=15)
# Sends run on the worker's send queue: the run's task queue plus this.
SEND_QUEUE_SUFFIX = "-sends"


def send_queue(task_queue: str) -> str:
    """The task queue of the sends of runs on `task_queue`."""
    return task_queue + SEND_QUEUE_SUFFIX
