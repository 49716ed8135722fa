"""Stakeholder alerts through the whole pipeline: real SMTP, a real HTTP endpoint for json://,
Slack intercepted at the HTTP transport; sent once, never for stale news."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
import responses
from aiosmtpd.controller import Controller

from tests.integration.harness import (
    Inbox,
    Samples,
    Stack,
    StackFactory,
    free_port,
    mailto,
    write_config,
)

pytestmark = pytest.mark.integration

NAME = "SS26 Apparel - Yantian to LA #3"
ALL_KINDS = "departed, arrived, delivered, eta, customs, exception"


def eta_event(samples: Samples, *, occurred_at: str, estimated_arrival: str) -> bytes:
    return json.dumps(
        {
            "id": f"evt_eta_{uuid.uuid4().hex[:12]}",
            "type": "shipment.eta_updated",
            "data": {
                "shipment_id": "418563",
                "estimated_arrival": estimated_arrival,
                "occurred_at": occurred_at,
                "location": {"name": "Los Angeles, CA", "country": "US"},
            },
        }
    ).encode()


async def notifications(stack: Stack, **params: str) -> list[dict[str, Any]]:
    response = await stack.api("/notifications", **params)
    assert response.status_code == 200
    rows: list[dict[str, Any]] = response.json()["notifications"]
    return rows


async def test_a_departed_email_reaches_the_stakeholders(
    make_stack: StackFactory, samples: Samples, smtp: tuple[Inbox, int], tmp_path: Path
) -> None:
    inbox, port = smtp
    config = write_config(tmp_path / "notifications.yml", (mailto(port), ALL_KINDS))
    stack = await make_stack(notify_config=config)

    answer = await stack.deliver(samples.body("06_leg_departed"))

    [message] = inbox.messages()
    assert message["To"] == "ops@example.com"
    assert NAME in message["Subject"] and "Departed" in message["Subject"]
    html_part, text_part = message.get_body(("html",)), message.get_body(("plain",))
    assert html_part is not None and text_part is not None
    for part in (html_part.get_content(), text_part.get_content()):
        assert NAME in part
        assert "Yantian" in part
    [row] = await notifications(stack, event_id=answer["event_id"])
    assert (row["kind"], row["status"], row["attempts"]) == ("departed", "sent", 1)
    assert row["sent_at"] is not None
    assert "ops@example.com" not in row["destination"] or "mailto" in row["destination"]


async def test_five_deliveries_of_one_departure_send_one_message_per_destination(
    make_stack: StackFactory,
    samples: Samples,
    smtp: tuple[Inbox, int],
    json_endpoint: tuple[list[dict[str, Any]], int],
    tmp_path: Path,
) -> None:
    inbox, smtp_port = smtp
    posted, json_port = json_endpoint
    config = write_config(
        tmp_path / "notifications.yml",
        (mailto(smtp_port), "departed"),
        (f"json://127.0.0.1:{json_port}/hook", "shipment-418563"),
    )
    stack = await make_stack(notify_config=config)
    body = samples.body("06_leg_departed")

    responses_ = await asyncio.gather(*(stack.post(body) for _ in range(4)))
    event_id = responses_[0].json()["event_id"]
    await stack.wait(event_id)
    again = await stack.post(body)

    assert sorted(r.json()["status"] for r in [*responses_, again]) == [
        "accepted",
        *["duplicate"] * 4,
    ]
    assert len(inbox.messages()) == 1
    assert len(posted) == 1
    assert NAME in json.dumps(posted[0]["body"])
    rows = await notifications(stack, event_id=event_id)
    assert sorted(r["status"] for r in rows) == ["sent", "sent"]


async def test_smtp_down_at_first_delays_the_email_but_not_the_record(
    make_stack: StackFactory, samples: Samples, tmp_path: Path
) -> None:
    port = free_port()  # nothing listens here yet
    config = write_config(tmp_path / "notifications.yml", (mailto(port), "departed"))
    stack = await make_stack(notify_config=config)
    response = await stack.post(samples.body("06_leg_departed"))
    event_id = response.json()["event_id"]

    for _ in range(100):  # the record is updated at once, while the email keeps failing
        shipment = await stack.api("/shipments/418563")
        if shipment.status_code == 200 and shipment.json()["status"] == "departed":
            break
        await asyncio.sleep(0.1)
    assert shipment.json()["status"] == "departed"
    await asyncio.sleep(2)  # a couple of failed attempts
    [pending] = await notifications(stack, event_id=event_id)
    assert pending["status"] == "pending"
    assert pending["last_error"]

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        await stack.wait(event_id)
    finally:
        controller.stop()

    assert len(inbox.messages()) == 1
    [sent] = await notifications(stack, event_id=event_id)
    assert sent["status"] == "sent"
    assert sent["attempts"] >= 2
    event = (await stack.api(f"/events/{event_id}")).json()
    assert event["status"] == "processed"


async def test_a_late_departure_is_recorded_but_alerts_nobody(
    make_stack: StackFactory, samples: Samples, smtp: tuple[Inbox, int], tmp_path: Path
) -> None:
    inbox, port = smtp
    config = write_config(tmp_path / "notifications.yml", (mailto(port), ALL_KINDS))
    stack = await make_stack(notify_config=config)

    await stack.deliver(samples.body("09_leg_arrived"))
    late = await stack.deliver(samples.body("06_leg_departed"))

    shipment = (await stack.api("/shipments/418563")).json()
    [departed] = [m for m in shipment["milestones"] if m["milestone"] == "departed"]
    assert departed["late"] is True
    assert [m["Subject"].split(" ")[0] for m in inbox.messages()] == ["Arrived"]
    assert await notifications(stack, event_id=late["event_id"]) == []


async def test_an_eta_alert_needs_a_slip_of_a_day(
    make_stack: StackFactory, samples: Samples, smtp: tuple[Inbox, int], tmp_path: Path
) -> None:
    inbox, port = smtp
    config = write_config(tmp_path / "notifications.yml", (mailto(port), "eta"))
    stack = await make_stack(notify_config=config)

    await stack.deliver(
        eta_event(
            samples, occurred_at="2026-03-01T00:00:00Z", estimated_arrival="2026-03-13T15:00:00Z"
        )
    )
    await stack.deliver(
        eta_event(
            samples, occurred_at="2026-03-02T00:00:00Z", estimated_arrival="2026-03-13T21:00:00Z"
        )
    )
    assert inbox.messages() == []  # six hours: not news

    await stack.deliver(
        eta_event(
            samples, occurred_at="2026-03-03T00:00:00Z", estimated_arrival="2026-03-15T03:00:00Z"
        )
    )

    [message] = inbox.messages()
    assert "ETA moved +30 h" in message["Subject"]
    text = message.get_body(("plain",))
    assert text is not None and "+30 h" in text.get_content()


async def test_subscriptions_route_alerts_for_their_shipment_only(
    make_stack: StackFactory,
    samples: Samples,
    json_endpoint: tuple[list[dict[str, Any]], int],
) -> None:
    posted, port = json_endpoint
    stack = await make_stack()
    headers = {"authorization": f"Bearer {stack.api_token}"}

    rejected = await stack.http.post(
        "/api/shipments/418563/subscriptions", json={"url": "bogus://nowhere"}, headers=headers
    )
    bad_kind = await stack.http.post(
        "/api/shipments/418563/subscriptions",
        json={"url": f"json://127.0.0.1:{port}", "kinds": ["gossip"]},
        headers=headers,
    )
    created = await stack.http.post(
        "/api/shipments/418563/subscriptions",
        json={"url": f"json://user:hunter2@127.0.0.1:{port}/hook", "kinds": ["departed"]},
        headers=headers,
    )

    assert rejected.status_code == 400
    assert "bogus" in rejected.json()["detail"]
    assert bad_kind.status_code == 400
    assert created.status_code == 201
    assert "hunter2" not in created.text
    listed = (await stack.api("/shipments/418563/subscriptions")).json()["subscriptions"]
    assert [s["id"] for s in listed] == [created.json()["id"]]
    assert "hunter2" not in json.dumps(listed)

    other = samples.payload("06_leg_departed", id=samples.fresh_id(1))
    other["data"]["shipment"]["id"] = 999001
    await stack.deliver(json.dumps(other).encode())
    assert posted == []  # another shipment's departure
    await stack.deliver(samples.body("06_leg_departed"))
    assert len(posted) == 1
    assert "418563" in json.dumps(posted[0]["body"])
    await stack.deliver(samples.body("09_leg_arrived"))  # a kind it did not ask for
    assert len(posted) == 1

    removed = await stack.http.delete(
        f"/api/shipments/418563/subscriptions/{created.json()['id']}", headers=headers
    )
    assert removed.status_code == 204
    assert (await stack.api("/shipments/418563/subscriptions")).json()["subscriptions"] == []


async def test_slack_hears_the_departure_through_the_pipeline(
    make_stack: StackFactory, samples: Samples, tmp_path: Path
) -> None:
    config = write_config(tmp_path / "notifications.yml", ("slack://TA/TB/TC/#ops", "departed"))
    stack = await make_stack(notify_config=config)

    with responses.RequestsMock(assert_all_requests_are_fired=True) as slack:
        slack.add(responses.POST, "https://hooks.slack.com/services/TA/TB/TC", body="ok")
        await stack.deliver(samples.body("06_leg_departed"))
        [call] = slack.calls
        body = call.request.body
        assert isinstance(body, (bytes, str))
        payload = json.loads(body)

    text = json.dumps(payload)
    assert NAME in text
    assert "departed" in text.lower()
    assert "Yantian" in text


# The journey of 418563, delivered in this order, each event twice (once concurrently):
# 07 ETA first (nothing to compare with: no eta alert), 01 created, 09 arrived (alert), 06
# departed (older than arrived: late, no alert), 19, 05, 11 customs released (alert), 15
# delivered in full (alert), 13 out for delivery (late), 14 leg delivered (delivered again: the
# shipment hears it once), 16, 18, 04.
JOURNEY_ORDER = [
    "07_eta_updated",
    "01_shipment_created",
    "09_leg_arrived",
    "06_leg_departed",
    "19_document_created",
    "05_container_loaded_on_board",
    "11_customs_released",
    "15_delivered_in_full",
    "13_out_for_delivery",
    "14_leg_delivered",
    "16_invoice_shared",
    "18_container_empty_returned",
    "04_schedule_confirmed",
]


async def test_the_journey_with_duplicates_sends_exactly_the_expected_emails(
    make_stack: StackFactory, samples: Samples, smtp: tuple[Inbox, int], tmp_path: Path
) -> None:
    inbox, port = smtp
    config = write_config(tmp_path / "notifications.yml", (mailto(port), ALL_KINDS))
    stack = await make_stack(notify_config=config)

    for name in JOURNEY_ORDER:
        body = samples.body(name)
        first, second = await asyncio.gather(stack.post(body), stack.post(body))
        await stack.wait(first.json()["event_id"])
        assert sorted([first.json()["status"], second.json()["status"]]) == [
            "accepted",
            "duplicate",
        ]

    subjects = sorted(m["Subject"].split(" — ")[0] for m in inbox.messages())
    assert subjects == [
        "Arrived at Los Angeles, CA, US",
        "Customs released at Los Angeles, CA, US",
        "Delivered at Acme Outfitters DC - Ontario, US",
    ]
    rows = await notifications(stack, shipment_id="418563")
    assert sorted(r["kind"] for r in rows) == ["arrived", "customs", "delivered"]
