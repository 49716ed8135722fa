"""`EventWorkflow` on the real dev server with mocked activities, as Temporal's Python
samples test workflows
(https://github.com/temporalio/samples-python/blob/main/tests/hello/hello_activity_test.py):
a worker on a task queue of its own runs the real workflow with `@activity.defn` functions
registered under the real activity names, so the workflow's own logic (order of steps, fan-out,
error handling, retry policies) is what is tested, with no database and no notifier behind it.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
from temporalio import activity
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

# -- project imports: re-point these after a restructure ---------------------------------------
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
from app.core.alert import Alert
from app.core.outcome import EventOutcome
from workflows.event import EventWorkflow
from workflows.policies import send_queue
from workflows.types import EventInput

# ------------------------------------------------------------------------------------------------

pytestmark = pytest.mark.integration

EVENT_ID = "48262090"
BODY = '{"id": 48262090, "type": "/shipment_leg#departed"}'  # the mocks never read it
RECEIVED_AT = "2026-02-27T00:02:20+00:00"
DEPARTED = Alert(
    kind="departed",
    event_id=EVENT_ID,
    event_type="/shipment_leg#departed",
    shipment_id="418563",
    headline="Departed",
    occurred_at="2026-02-26T13:20:00+00:00",
    shipment_name="SS26 Apparel - Yantian to LA #3",
    place_name="Yantian",
    place_country="CN",
)
RECORDED = EventOutcome(
    event_id=EVENT_ID, status="processing", category="milestone", shipment_id="418563"
)
NO_ALERTS = EventOutcome(
    event_id=EVENT_ID,
    status="processed",
    category="milestone",
    shipment_id="418563",
    milestone="cargo_ready",
)
WITH_ALERT = EventOutcome(
    event_id=EVENT_ID,
    status="processed",
    category="milestone",
    shipment_id="418563",
    milestone="departed",
    alerts=[DEPARTED],
)


@dataclass
class MockActivities:
    """Mocks of every activity under its real name; each call is kept, in order. New runs call
    only `process_event` and the sends; the rest serve runs started before that path."""

    recorded: EventOutcome = RECORDED
    applied: EventOutcome | Exception = NO_ALERTS
    planned: list[Delivery] = field(default_factory=list)
    send_errors: dict[str, Exception] = field(default_factory=dict)  # by destination id
    calls: list[tuple[str, Any]] = field(default_factory=list)

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]

    def inputs(self, name: str) -> list[Any]:
        return [arg for called, arg in self.calls if called == name]

    @activity.defn(name="process_event")
    async def process_event(self, input: ProcessEventInput) -> ProcessedEvent:
        self.calls.append(("process_event", input))
        if self.recorded.status == "ignored":
            return ProcessedEvent(outcome=self.recorded, deliveries=[])
        if isinstance(self.applied, Exception):
            raise self.applied
        return ProcessedEvent(outcome=self.applied, deliveries=self.planned)

    @activity.defn(name="record_event")
    async def record_event(self, input: RecordEventInput) -> EventOutcome:
        self.calls.append(("record_event", input))
        return self.recorded

    @activity.defn(name="apply_event")
    async def apply_event(self, input: ApplyEventInput) -> EventOutcome:
        self.calls.append(("apply_event", input))
        if isinstance(self.applied, Exception):
            raise self.applied
        return self.applied

    @activity.defn(name="mark_event_failed")
    async def mark_event_failed(self, input: MarkFailedInput) -> None:
        self.calls.append(("mark_event_failed", input))

    @activity.defn(name="plan_notifications")
    async def plan_notifications(self, input: PlanInput) -> list[Delivery]:
        self.calls.append(("plan_notifications", input))
        return self.planned

    @activity.defn(name="send_notification")
    async def send_notification(self, delivery: Delivery) -> str:
        self.calls.append(("send_notification", delivery))
        error = self.send_errors.get(delivery.destination_id)
        if error is not None:
            raise error
        return "sent"

    @activity.defn(name="mark_notification_failed")
    async def mark_notification_failed(self, failure: DeliveryFailure) -> None:
        self.calls.append(("mark_notification_failed", failure))

    def all(self) -> list[Any]:
        return [
            self.process_event,
            self.record_event,
            self.apply_event,
            self.mark_event_failed,
            self.plan_notifications,
            self.send_notification,
            self.mark_notification_failed,
        ]


async def run_workflow(client: Client, mocks: MockActivities) -> EventOutcome:
    """Run one event through the real workflow on a worker of its own with `mocks`."""
    task_queue = str(uuid.uuid4())
    async with (
        Worker(client, task_queue=task_queue, workflows=[EventWorkflow], activities=mocks.all()),
        # Sends go to the send queue, as in production (`workflows.worker.build_worker`).
        Worker(client, task_queue=send_queue(task_queue), activities=[mocks.send_notification]),
    ):
        async with asyncio.timeout(60):  # a step retried that should not be hangs, not passes
            return await client.execute_workflow(
                EventWorkflow.run,
                EventInput(event_id=EVENT_ID, body=BODY, received_at=RECEIVED_AT),
                id=f"test-mocked-{uuid.uuid4()}",
                task_queue=task_queue,
            )


async def test_an_event_that_alerts_nobody_is_one_local_activity(
    temporal_client: Client,
) -> None:
    mocks = MockActivities(applied=NO_ALERTS)

    result = await run_workflow(temporal_client, mocks)

    assert result == NO_ALERTS
    assert mocks.names() == ["process_event"]
    [processed] = mocks.inputs("process_event")
    assert (processed.event_id, processed.body, processed.received_at) == (
        EVENT_ID,
        BODY,
        RECEIVED_AT,
    )
    assert processed.workflow_id.startswith("test-mocked-")


async def test_two_planned_destinations_get_one_send_each(temporal_client: Client) -> None:
    planned = [
        Delivery(alert=DEPARTED, destination_id="destination-email"),
        Delivery(alert=DEPARTED, destination_id="destination-slack"),
    ]
    mocks = MockActivities(applied=WITH_ALERT, planned=planned)

    result = await run_workflow(temporal_client, mocks)

    assert result == WITH_ALERT
    assert mocks.names() == ["process_event", "send_notification", "send_notification"]
    # The two sends run at once: their order is not the workflow's to promise.
    sent = mocks.inputs("send_notification")
    assert sorted(sent, key=lambda d: d.destination_id) == planned


async def test_a_data_error_fails_the_run_without_retrying(temporal_client: Client) -> None:
    # The real activity logs the event as failed, then raises this, non-retryable.
    mocks = MockActivities(
        applied=ApplicationError(
            "occurred_at is not a timestamp: 'soon'", type="EventDataError", non_retryable=True
        )
    )

    with pytest.raises(WorkflowFailureError) as failure:
        await run_workflow(temporal_client, mocks)

    assert mocks.names() == ["process_event"]  # not retried
    cause = failure.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.non_retryable
    assert f"event {EVENT_ID} could not be applied" in cause.message
    assert "occurred_at is not a timestamp" in cause.message


async def test_an_unknown_type_is_recorded_and_nothing_else(temporal_client: Client) -> None:
    ignored = EventOutcome(event_id=EVENT_ID, status="ignored", category="other")
    mocks = MockActivities(recorded=ignored)

    result = await run_workflow(temporal_client, mocks)

    assert result == ignored
    assert mocks.names() == ["process_event"]


async def test_a_destination_apprise_rejects_is_marked_failed_and_the_run_completes(
    temporal_client: Client,
) -> None:
    planned = [
        Delivery(alert=DEPARTED, destination_id="destination-good"),
        Delivery(alert=DEPARTED, destination_id="destination-rejected"),
    ]
    rejected = ApplicationError(
        "Apprise does not accept this mailto:// URL", type="InvalidDestination", non_retryable=True
    )
    mocks = MockActivities(
        applied=WITH_ALERT, planned=planned, send_errors={"destination-rejected": rejected}
    )

    result = await run_workflow(temporal_client, mocks)

    assert result == WITH_ALERT
    names = mocks.names()
    assert names[:1] == ["process_event"]
    assert sorted(names[1:]) == [
        "mark_notification_failed",
        "send_notification",
        "send_notification",
    ]
    assert sorted(mocks.inputs("send_notification"), key=lambda d: d.destination_id) == planned
    [failed] = mocks.inputs("mark_notification_failed")
    assert failed.delivery == planned[1]
    assert "Apprise does not accept" in failed.error
    # Marked failed after its one send (not retried), whenever the good send ran.
    assert mocks.calls.index(("mark_notification_failed", failed)) > mocks.calls.index(
        ("send_notification", planned[1])
    )
