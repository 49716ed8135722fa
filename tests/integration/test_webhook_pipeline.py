"""Signed Flexport events over HTTP → a Temporal workflow → records, exactly once and in order."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Sequence
from typing import Any

import pytest
from sqlmodel import Session, func, select
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError
from temporalio.service import RPCError

from app.core.ids import event_workflow_id
from app.store.models import EventRecord, Milestone
from tests.helpers import load_sample, sample_names
from tests.integration.harness import JOURNEY, Samples, Stack, StackFactory

pytestmark = pytest.mark.integration


async def workflow_exists(client: Client, workflow_id: str) -> bool:
    try:
        await client.get_workflow_handle(workflow_id).describe()
    except RPCError:
        return False
    return True


def count(stack: Stack, model: Any, *where: Any) -> int:
    with Session(stack.engine) as session:
        return int(session.exec(select(func.count()).select_from(model).where(*where)).one())


@pytest.mark.parametrize("name", sample_names())
async def test_every_sample_is_accepted_and_processed(
    stack: Stack, samples: Samples, name: str
) -> None:
    answer = await stack.deliver(samples.body(name))

    assert answer["status"] == "accepted"
    assert answer["workflow_id"] == f"flexport-event-{answer['event_id']}"
    event = (await stack.api(f"/events/{answer['event_id']}")).json()
    assert event["status"] == "processed"
    assert event["type"] == samples.payload(name)["type"]
    assert event["processed_at"] is not None
    assert event["payload"]["id"] == samples.fresh_id(load_sample(name)["id"])


async def journey_shipment(stack: Stack, samples: Samples, order: Sequence[str]) -> dict[str, Any]:
    for name in order:
        await stack.deliver(samples.body(name))
    response = await stack.api("/shipments/418563")
    assert response.status_code == 200
    shipment: dict[str, Any] = response.json()
    return shipment


def comparable(shipment: dict[str, Any]) -> dict[str, Any]:
    """The shipment without what legitimately depends on delivery order or run:
    when it was last written, which event ids it saw, and whether a milestone arrived late."""
    result = {
        k: v for k, v in shipment.items() if k not in ("updated_at", "milestones", "containers")
    }
    result["milestones"] = [
        {k: v for k, v in m.items() if k not in ("late", "event_id")}
        for m in shipment["milestones"]
    ]
    result["containers"] = [
        {k: v for k, v in c.items() if k != "updated_at"} for c in shipment["containers"]
    ]
    return result


async def test_the_journey_in_shuffled_order_ends_as_in_order(make_stack: StackFactory) -> None:
    in_order = await journey_shipment(await make_stack(), Samples(), JOURNEY)
    shuffled_order = list(JOURNEY)
    random.Random(418563).shuffle(shuffled_order)
    assert tuple(shuffled_order) != JOURNEY
    shuffled = await journey_shipment(await make_stack(), Samples(), shuffled_order)

    assert comparable(shuffled) == comparable(in_order)
    assert in_order["status"] == "delivered"
    assert in_order["name"] == "SS26 Apparel - Yantian to LA #3"
    assert in_order["location"]["name"] == "Acme Outfitters DC - Ontario"
    assert in_order["estimated_arrival"] == "2026-03-15T13:00:00+00:00"
    assert in_order["previous_estimated_arrival"] == "2026-03-13T15:00:00+00:00"
    assert in_order["actual_departure"] == "2026-02-26T13:20:00+00:00"
    assert in_order["delivered_at"] == "2026-03-17T18:02:00+00:00"
    assert [m["milestone"] for m in in_order["milestones"]] == [
        "departed",
        "arrived",
        "customs_cleared",
        "out_for_delivery",
        "delivered",
        "delivered",
    ]
    assert not any(m["late"] for m in in_order["milestones"])
    assert in_order["containers"][0]["number"] == "CSNU7261843"
    assert in_order["containers"][0]["last_event"] == "empty_returned"


async def test_the_journey_posted_all_at_once_to_two_workers_ends_as_in_order(
    make_stack: StackFactory,
) -> None:
    in_order = await journey_shipment(await make_stack(), Samples(), JOURNEY)
    stack, samples = await make_stack(workers=2), Samples()

    answers = await asyncio.gather(*(stack.post(samples.body(name)) for name in JOURNEY * 2))
    assert sorted(a.json()["status"] for a in answers).count("accepted") == len(JOURNEY)
    await asyncio.gather(*(stack.wait(a.json()["event_id"]) for a in answers[: len(JOURNEY)]))
    at_once = (await stack.api("/shipments/418563")).json()

    assert comparable(at_once) == comparable(in_order)
    events = (await stack.api("/events", limit=100)).json()["events"]
    assert sorted(e["status"] for e in events) == ["processed"] * len(JOURNEY)


async def test_a_late_departed_never_moves_the_status_back(stack: Stack, samples: Samples) -> None:
    await stack.deliver(samples.body("09_leg_arrived"))
    await stack.deliver(samples.body("06_leg_departed"))

    shipment = (await stack.api("/shipments/418563")).json()
    assert shipment["status"] == "arrived"
    departed = [m for m in shipment["milestones"] if m["milestone"] == "departed"]
    assert departed[0]["late"] is True


async def test_twenty_concurrent_deliveries_start_one_workflow(
    stack: Stack, samples: Samples
) -> None:
    body = samples.body("06_leg_departed")

    responses = await asyncio.gather(*(stack.post(body) for _ in range(20)))

    assert [r.status_code for r in responses] == [200] * 20
    statuses = sorted(r.json()["status"] for r in responses)
    assert statuses == ["accepted"] + ["duplicate"] * 19
    event_id = responses[0].json()["event_id"]
    await stack.wait(event_id)
    assert count(stack, Milestone, Milestone.event_id == event_id) == 1
    assert count(stack, EventRecord, EventRecord.event_id == event_id) == 1


async def test_a_redelivery_after_completion_is_a_duplicate(stack: Stack, samples: Samples) -> None:
    body = samples.body("09_leg_arrived")
    first = await stack.deliver(body)

    again = await stack.post(body)

    assert again.status_code == 200
    assert again.json() == {**first, "status": "duplicate"}
    history = await stack.client.get_workflow_handle(first["workflow_id"]).fetch_history()
    assert history.events  # the one run, untouched
    assert count(stack, Milestone, Milestone.event_id == first["event_id"]) == 1


async def test_an_unknown_type_is_stored_as_ignored(stack: Stack, samples: Samples) -> None:
    body = samples.body("06_leg_departed", type="/shipment_leg#teleported_to_mars")

    answer = await stack.deliver(body)

    assert answer["status"] == "accepted"
    event = (await stack.api(f"/events/{answer['event_id']}")).json()
    assert event["status"] == "ignored"
    assert event["category"] == "other"
    assert event["payload"]["type"] == "/shipment_leg#teleported_to_mars"
    # Applied to nothing, but the details of its `data.shipment` still refresh the shipment.
    shipment = (await stack.api("/shipments/418563")).json()
    assert shipment["name"] == samples.payload("06_leg_departed")["data"]["shipment"]["name"]
    assert (shipment["status"], shipment["location"], shipment["milestones"]) == (None, None, [])


async def test_an_event_that_cannot_be_applied_fails_and_may_be_redelivered(
    stack: Stack, samples: Samples
) -> None:
    payload = samples.payload("21_compact_shipment_milestone")
    payload["data"]["occurred_at"] = "the day before yesterday"
    body = json.dumps(payload).encode()

    answer = (await stack.post(body)).json()
    handle = stack.client.get_workflow_handle(answer["workflow_id"])
    with pytest.raises(WorkflowFailureError) as failure:
        await handle.result()
    assert "could not be applied" in str(failure.value.cause)

    event = (await stack.api(f"/events/{answer['event_id']}")).json()
    assert event["status"] == "failed"
    assert "occurred_at is not a timestamp" in event["error"]
    assert (await handle.describe()).status == WorkflowExecutionStatus.FAILED
    redelivered = await stack.post(body)
    assert redelivered.json()["status"] == "accepted"


async def test_bad_deliveries_are_refused_and_start_nothing(stack: Stack, samples: Samples) -> None:
    payload = samples.payload("06_leg_departed")
    body = json.dumps(payload).encode()
    workflow_id = event_workflow_id(str(payload["id"]))

    forged = await stack.post(body, secret="not-our-secret")
    unsigned = await stack.http.post("/webhooks/flexport", content=body)
    tampered = await stack.post(body, headers={"x-hub-signature-256": "sha256=" + "0" * 64})
    not_json = await stack.post(b"{not json")
    no_type = await stack.post(b'{"id": 12345}')
    array = await stack.post(b"[1, 2, 3]")
    too_large = await stack.post(
        b'{"type": "/shipment#created", "pad": "' + b"x" * (1024 * 1024) + b'"}'
    )

    assert [r.status_code for r in (forged, unsigned, tampered)] == [401, 401, 401]
    assert forged.json()["error"] == "invalid_signature"
    assert [r.status_code for r in (not_json, no_type, array)] == [400, 400, 400]
    assert no_type.json()["error"] == "malformed_event"
    assert too_large.status_code == 413
    assert not await workflow_exists(stack.client, workflow_id)
    assert count(stack, EventRecord) == 0


async def test_a_chunked_body_over_the_limit_is_refused(make_stack: StackFactory) -> None:
    stack = await make_stack(max_body_bytes=1000)

    async def chunks() -> Any:
        for _ in range(10):
            yield b"x" * 500

    response = await stack.http.post(
        "/webhooks/flexport", content=chunks(), headers={"x-hub-signature-256": "sha256=00"}
    )

    assert response.status_code == 413
    assert response.json()["error"] == "body_too_large"


async def test_health_and_readiness(stack: Stack) -> None:
    assert (await stack.http.get("/healthz")).json() == {"status": "ok"}
    ready = await stack.http.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"database": "up", "temporal": "up"}  # up or down, nothing more


async def test_workflows_are_searchable_by_shipment(stack: Stack, samples: Samples) -> None:
    answer = await stack.deliver(samples.body("06_leg_departed"))
    queue = stack.task_queue
    query = f'ShipmentId = "418563" AND EventCategory = "milestone" AND TaskQueue = "{queue}"'

    found: list[str] = []
    for _ in range(100):  # visibility is eventually consistent
        found = [w.id async for w in stack.client.list_workflows(query)]
        if found:
            break
        await asyncio.sleep(0.1)

    assert found == [answer["workflow_id"]]


async def test_the_read_api_needs_the_token_and_filters(stack: Stack, samples: Samples) -> None:
    departed = await stack.deliver(samples.body("06_leg_departed"))
    await stack.deliver(samples.body("16_invoice_shared"))
    await stack.deliver(samples.body("20_purchase_order_updated"))

    assert (await stack.http.get("/api/shipments")).status_code == 401
    wrong = await stack.http.get("/api/events", headers={"authorization": "Bearer nope"})
    assert wrong.status_code == 401

    shipments = (await stack.api("/shipments", status="departed")).json()["shipments"]
    assert [s["id"] for s in shipments] == ["418563"]
    assert (await stack.api("/shipments", status="delivered")).json()["shipments"] == []
    milestones = (await stack.api("/events", type="/shipment_leg#departed")).json()["events"]
    assert [e["event_id"] for e in milestones] == [departed["event_id"]]
    assert "payload" not in milestones[0]
    by_shipment = (await stack.api("/events", shipment_id="418563", limit=10)).json()["events"]
    assert len(by_shipment) == 2
    invoice = (await stack.api("/invoices/q7Xk2LpRTu-9vWc0aB1n3g")).json()
    assert (invoice["amount"], invoice["currency"], invoice["status"]) == (
        "6840.00",
        "USD",
        "outstanding",
    )
    order = (await stack.api("/purchase-orders/771204")).json()
    assert order["buyer"] == "Acme Outfitters Inc."
    container = (await stack.api("/containers/CSNU7261843")).json()
    assert container["shipment_id"] == "418563"
    assert (await stack.api("/bookings/287114")).json()["shipment_id"] == "418563"
    assert (await stack.api("/documents/nope")).status_code == 404
    assert (await stack.api("/events", limit="lots")).status_code == 400
