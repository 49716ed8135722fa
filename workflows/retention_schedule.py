"""The `flexhook-payload-retention` schedule the worker keeps: `PayloadRetentionWorkflow` once a
day with `FLEXHOOK_PAYLOAD_RETENTION`; removed when that is 0 (payloads are kept for ever)."""

from __future__ import annotations

import logging
from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.service import RPCError, RPCStatusCode

from activities.retention_types import PayloadRetentionInput
from workflows.retention import PayloadRetentionWorkflow

PAYLOAD_RETENTION_SCHEDULE_ID = "flexhook-payload-retention"
EVERY = timedelta(days=1)

log = logging.getLogger("flexhook.worker")


def payload_retention_schedule(
    *, task_queue: str, retention: timedelta, schedule_id: str = PAYLOAD_RETENTION_SCHEDULE_ID
) -> Schedule:
    """A run a day; one still going when the next is due makes that one skip, and after
    downtime one missed run is caught up."""
    hours = retention.total_seconds() / 3600
    return Schedule(
        action=ScheduleActionStartWorkflow(
            PayloadRetentionWorkflow.run,
            PayloadRetentionInput(retention_seconds=retention.total_seconds()),
            id=schedule_id,  # each run's id is this plus its scheduled time
            task_queue=task_queue,
            static_summary=f"remove event payloads older than {hours:g}h",
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=EVERY)]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=EVERY),
        state=ScheduleState(
            note=f"kept by flexhook worker: daily, payloads older than {hours:g}h "
            "(FLEXHOOK_PAYLOAD_RETENTION)"
        ),
    )


async def keep_schedule(client: Client, schedule_id: str, schedule: Schedule) -> None:
    """Create the schedule, or update it to `schedule` (an operator's pause stands)."""
    try:
        await client.create_schedule(schedule_id, schedule)
        return
    except ScheduleAlreadyRunningError:
        pass

    def update(current: ScheduleUpdateInput) -> ScheduleUpdate:
        if current.description.schedule.state.paused:
            schedule.state = current.description.schedule.state  # with the operator's note
        return ScheduleUpdate(schedule=schedule)

    await client.get_schedule_handle(schedule_id).update(update)


async def apply_payload_retention_schedule(
    client: Client,
    *,
    task_queue: str,
    retention: timedelta,
    schedule_id: str = PAYLOAD_RETENTION_SCHEDULE_ID,
) -> None:
    """Create or update the schedule for `retention`; with 0 delete it, so that no run removes
    payloads any more. A failure is logged: events keep flowing without the schedule."""
    try:
        if retention <= timedelta(0):
            await _delete(client, schedule_id)
            log.info("payload retention off (0): payloads are kept; no schedule %s", schedule_id)
            return
        await keep_schedule(
            client,
            schedule_id,
            payload_retention_schedule(
                task_queue=task_queue, retention=retention, schedule_id=schedule_id
            ),
        )
    except RPCError as exc:
        log.error("could not keep schedule %s: %s", schedule_id, exc)
        return
    log.info(
        "payload retention schedule %s: daily, payloads older than %gh",
        schedule_id,
        retention.total_seconds() / 3600,
    )


async def _delete(client: Client, schedule_id: str) -> None:
    try:
        await client.get_schedule_handle(schedule_id).delete()
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
