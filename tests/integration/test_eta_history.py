"""`GET /api/shipments/{id}/eta-history` through the real stack: Flexport's ETA update and leg
arrival (samples 07 and 09) re-issued for one shipment, signed, posted to the webhook and run by
the worker on a real Temporal server, once in the order they happened and once shuffled with a
redelivery. Both shipments answer the same history."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from tests.helpers import load_sample
from tests.integration.harness import Samples, Stack

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

SAMPLE_SHIPMENT = 418563


def for_shipment(node: Any, shipment_id: int) -> Any:
    """`node` with every reference to the sample's shipment pointing at `shipment_id`."""
    if isinstance(node, list):
        return [for_shipment(item, shipment_id) for item in node]
    if not isinstance(node, dict):
        return node
    moved = {key: for_shipment(value, shipment_id) for key, value in node.items()}
    names_shipment = node.get("_object") == "/shipment" or node.get("ref_type") == "/shipment"
    if names_shipment and node.get("id") == SAMPLE_SHIPMENT:
        moved["id"] = shipment_id
    return moved


def eta_update(event_id: int, shipment_id: int, occurred_at: str, estimate: str) -> bytes:
    """Sample 07 (`/shipment_leg#updated_estimated_time_of_arrival`) as another event."""
    payload = for_shipment(copy.deepcopy(load_sample("07_eta_updated")), shipment_id)
    payload.update(id=event_id, occurred_at=occurred_at)
    for part in ("resource", "shipment"):
        payload["data"][part]["estimated_arrival_date"] = estimate
    return json.dumps(payload).encode()


def arrival(event_id: int, shipment_id: int) -> bytes:
    """Sample 09 (`/shipment_leg#arrived`, 15 Mar 12:42 UTC; it still carries the ETA of the
    15th 13:00 UTC, reported as it arrived) for this shipment."""
    payload = for_shipment(copy.deepcopy(load_sample("09_leg_arrived")), shipment_id)
    payload["id"] = event_id
    return json.dumps(payload).encode()


# The ETA updates of one voyage: name, when reported, the estimate (in the port's zone).
UPDATES = [
    ("original", "2026-03-05T17:44:09.930Z", "2026-03-15T06:00:00.000-07:00"),
    ("later", "2026-03-07T09:00:00.000Z", "2026-03-16T06:00:00.000-07:00"),
    ("same again", "2026-03-08T12:30:00.000Z", "2026-03-16T06:00:00.000-07:00"),
    ("earlier", "2026-03-10T02:15:00.000Z", "2026-03-14T22:00:00.000-07:00"),
    ("after arrival", "2026-03-16T08:00:00.000Z", "2026-03-20T06:00:00.000-07:00"),
]
# What the history answers (estimate and reported at in UTC), by name.
EXPECTED = [
    ("2026-03-15T13:00:00+00:00", "2026-03-05T17:44:09.930000+00:00", "original"),
    ("2026-03-16T13:00:00+00:00", "2026-03-07T09:00:00+00:00", "later"),
    ("2026-03-15T05:00:00+00:00", "2026-03-10T02:15:00+00:00", "earlier"),
]


def journey(samples: Samples, shipment_id: int) -> dict[str, bytes]:
    """The events of one voyage by name, with ids of their own."""
    base = shipment_id % 10**6 * 100
    events = {
        name: eta_update(int(samples.fresh_id(base + n)), shipment_id, occurred_at, estimate)
        for n, (name, occurred_at, estimate) in enumerate(UPDATES)
    }
    events["arrived"] = arrival(int(samples.fresh_id(base + 99)), shipment_id)
    return events


IN_ORDER = ["original", "later", "same again", "earlier", "arrived", "after arrival"]
# Flexport promises no order; "later" is delivered twice.
SHUFFLED = ["after arrival", "arrived", "earlier", "later", "original", "same again", "later"]


async def deliver_all(stack: Stack, events: dict[str, bytes], order: list[str]) -> None:
    for name in order:
        response = await stack.post(events[name])
        assert response.status_code == 200, response.text
        await stack.wait(response.json()["event_id"])


async def history(stack: Stack, shipment_id: int) -> list[dict[str, Any]]:
    response = await stack.api(f"/shipments/{shipment_id}/eta-history")
    assert response.status_code == 200, response.text
    points: list[dict[str, Any]] = response.json()["points"]
    return points


async def test_the_history_is_the_same_whatever_order_the_events_came_in(
    stack: Stack, samples: Samples
) -> None:
    in_order, shuffled = 900_000 + samples.salt % 10**5, 800_000 + samples.salt % 10**5
    first, second = journey(samples, in_order), journey(samples, shuffled)
    await deliver_all(stack, first, IN_ORDER)
    await deliver_all(stack, second, SHUFFLED)

    ids = {json.loads(body)["id"]: name for name, body in [*first.items(), *second.items()]}
    for shipment_id in (in_order, shuffled):
        points = await history(stack, shipment_id)
        named = [(p["estimate"], p["reported_at"], ids[int(p["event_id"])]) for p in points]
        assert named == EXPECTED, shipment_id


async def test_an_unknown_shipment_is_not_found_and_strangers_are_refused(stack: Stack) -> None:
    response = await stack.api("/shipments/no-such-shipment/eta-history")
    assert response.status_code == 404
    assert response.json() == {"error": "not_found", "detail": "no such shipment"}
    stranger = await stack.http.get("/api/shipments/418563/eta-history")
    assert stranger.status_code == 401
    forged = await stack.http.get(
        "/api/shipments/418563/eta-history", headers={"authorization": "Bearer not-a-token"}
    )
    assert forged.status_code == 401


async def test_a_shipment_without_an_estimate_has_an_empty_history(
    stack: Stack, samples: Samples
) -> None:
    shipment_id = 700_000 + samples.salt % 10**5
    departed = for_shipment(load_sample("06_leg_departed"), shipment_id)
    departed["id"] = samples.fresh_id(departed["id"])
    for part in ("resource", "shipment"):
        departed["data"][part]["estimated_arrival_date"] = None
    await deliver_all(stack, {"departed": json.dumps(departed).encode()}, ["departed"])
    shipment = await stack.api(f"/shipments/{shipment_id}")
    assert shipment.status_code == 200 and shipment.json()["estimated_arrival"] is None
    assert (await history(stack, shipment_id)) == []
