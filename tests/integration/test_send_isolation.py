"""One hung destination must not stall anything else (security review H3).

A tarpit, a real TCP server on loopback that accepts a connection and then trickles one byte a
second forever, is configured beside a healthy SMTP target. Every `requests` read gets a byte
before its read timeout, so a send to it never ends by itself. Flexport-shaped departures on
shipment after shipment then stream through the real pipeline (web app, Temporal dev server,
the production worker wiring) for `FLEXHOOK_SOAK_SECONDS` (default 600: the ten minutes the
issue asks for; `-m "not soak"` leaves it out). After each event, before the next one, its
record must be updated and its healthy alert delivered: records and healthy alerts keep pace
with the stream for as long as the tarpit is configured. The tarpit's own rows end `failed`, and
the operators hear of it once.

Before the fix, Apprise's process-wide pool (six threads here) filled with sends to the tarpit
within the first minute, and the healthy alert of a later event never came.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, col, select

from app.core.statuses import EventStatus, NotificationStatus
from app.store.models import EventRecord, Notification, Shipment
from tests.helpers import eventually
from tests.integration.harness import (
    Inbox,
    Samples,
    Stack,
    StackFactory,
    Tarpit,
    mailto,
    write_config,
)

SOAK_SECONDS = float(os.environ.get("FLEXHOOK_SOAK_SECONDS", "600"))
# How long one event's record and healthy alert may take at most, tarpit or not: generous for a
# busy two-core machine, far below the tarpit's "never".
PER_EVENT = 60.0
PACE = 1.0  # seconds between the starts of two events, at least
ONCALL = "oncall@example.com"
STAKEHOLDER = "ops@example.com"
SAMPLE_SHIPMENT = "418563"  # the shipment of the sample departure; each event gets its own

pytestmark = [
    pytest.mark.integration,
    pytest.mark.soak,
    pytest.mark.timeout(SOAK_SECONDS + 600),
]


@pytest.fixture
def tarpit() -> Iterator[Tarpit]:
    with Tarpit() as server:
        yield server


def record_status(stack: Stack, event_id: str) -> str | None:
    with Session(stack.engine) as session:
        row = session.get(EventRecord, event_id)
        return row.status if row else None


def shipment_status(stack: Stack, shipment_id: str) -> str | None:
    with Session(stack.engine) as session:
        row = session.get(Shipment, shipment_id)
        return row.status if row else None


def ledger(stack: Stack, destination: str) -> list[Notification]:
    with Session(stack.engine) as session:
        wanted = col(Notification.destination).startswith(destination)
        statement = select(Notification).where(wanted)
        return list(session.exec(statement).all())


def delivered_to(inbox: Inbox, to: str) -> int:
    return sum(1 for received in inbox.received if received.to == to)


async def test_a_tarpit_destination_stalls_neither_records_nor_healthy_alerts(
    make_stack: StackFactory,
    samples: Samples,
    smtp: tuple[Inbox, int],
    tarpit: Tarpit,
    tmp_path: Path,
) -> None:
    inbox, port = smtp
    config = write_config(
        tmp_path / "notify.yml",
        (f"json://127.0.0.1:{tarpit.port}/hook", "departed"),
        (mailto(port, STAKEHOLDER), "departed"),
        (mailto(port, ONCALL), "ops"),
    )
    stack = await make_stack(notify_config=config)

    events: list[str] = []
    started = time.monotonic()
    while not events or time.monotonic() - started < SOAK_SECONDS:
        round_started = time.monotonic()
        events.append(await one_departure(stack, samples, inbox, number=len(events) + 1))
        # A steady stream, not a flood: at most one event a second.
        await asyncio.sleep(max(0.0, PACE - (time.monotonic() - round_started)))

    assert tarpit.accepted >= 1  # the tarpit was really tried
    healthy = ledger(stack, "mailto://")
    stakeholder_rows = [row for row in healthy if row.kind == "departed"]
    assert len(stakeholder_rows) == len(events)
    assert {row.status for row in stakeholder_rows} == {NotificationStatus.SENT}
    # Every alert to the tarpit ends failed, with the reason, and the operators hear of it once.
    stuck = ledger(stack, "json://")
    assert len(stuck) == len(events)
    await eventually(
        lambda: {row.status for row in ledger(stack, "json://")} == {NotificationStatus.FAILED},
        timeout=PER_EVENT * 3,
        what="every alert to the tarpit to end failed",
    )
    assert delivered_to(inbox, ONCALL) == 1


async def one_departure(stack: Stack, samples: Samples, inbox: Inbox, *, number: int) -> str:
    """Post the `number`th departure, on a shipment of its own; return its event id once its
    record is updated and its healthy alert delivered (the `number`th)."""
    shipment = str(int(SAMPLE_SHIPMENT) + number)
    body = samples.body(
        "06_leg_departed",
        id=samples.fresh_id(48262090 + number * 1000),
        data=_departure_of_shipment(samples, int(shipment)),
    )
    response = await stack.post(body)
    assert response.status_code == 200, response.text
    event_id: str = response.json()["event_id"]
    await eventually(
        lambda: (
            record_status(stack, event_id) == EventStatus.PROCESSED
            and shipment_status(stack, shipment) == "departed"
        ),
        timeout=PER_EVENT,
        what=f"the records of event {number} ({event_id}, shipment {shipment})",
    )
    await eventually(
        lambda: delivered_to(inbox, STAKEHOLDER) == number,
        timeout=PER_EVENT,
        what=f"the healthy alert of event {number}",
    )
    return event_id


def _departure_of_shipment(samples: Samples, shipment: int) -> dict[str, Any]:
    """The sample departure's data, of leg `shipment * 10` of shipment `shipment`: every
    mention of the sample's shipment (ids, links, the bill number) names it instead."""
    data = samples.payload("06_leg_departed")["data"]
    data["resource"]["id"] = shipment * 10
    moved: dict[str, Any] = json.loads(json.dumps(data).replace(SAMPLE_SHIPMENT, str(shipment)))
    return moved
