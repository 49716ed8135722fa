"""The exception inbox's journey, as the team lives it, end to end on real parts: Flexport's
events over signed HTTP, a Temporal dev server of the test's own (restarted midway), the
production worker, the API with people's own tokens, and real SMTP.

- a customs hold reported twice, acknowledged by Alice, released by Flexport: resolved by the
  release, Alice told once;
- a departure delay nobody acknowledges: escalated once at its SLA, across a worker restart and
  a Temporal server restart, then cleared by the departure;
- a missed ETA (flexhook's own), assigned to Bob (Bob told once), resolved by Bob with a note;
- the released hold recurs: reopened, marked as a recurrence;
- ten trucking problems acknowledged at once with one shared note.

Every message goes out exactly once and every timeline is complete. The timelines are written
to `test-artifacts/exception-journey.md`.
"""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client

from activities.exceptions import ExceptionRules
from app.core.exception_clock import parse_severity_durations
from app.core.ids import event_workflow_id
from tests.helpers import eventually
from tests.integration.exception_stack import persisted_temporal, run_worker
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

# A departure delay (high) escalates 6 s after it occurred; nothing else does within the test.
RULES = ExceptionRules(
    severities={"missed_eta": "normal"},
    ack_sla=parse_severity_durations("critical=1h,high=6s,normal=1h"),
    resolve_sla=parse_severity_durations("critical=24h,high=24h,normal=24h"),
)
# The worker's settings: the rules above, and a missed ETA a second after it passed.
WORKER: dict[str, Any] = {"exception_rules": RULES, "eta_grace": timedelta(seconds=1)}
HOLD = "/shipment#customs_agriculture_hold"
DELAY = "/shipment#vessel_delay_port_congestion"
TRUCKING = "/shipment#trucking_delay_traffic"
TEAM, ESCALATIONS = "team@example.com", "escalations@example.com"
ARTIFACT = Path(__file__).resolve().parents[2] / "test-artifacts" / "exception-journey.md"


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


class Journey:
    """The stack, the Temporal client of the moment and the people's tokens."""

    def __init__(self, stack: Stack, client: Client, samples: Samples) -> None:
        self.stack = stack
        self.client = client
        self.samples = samples
        self.tokens: dict[str, str] = {}

    async def deliver(self, body: bytes) -> str:
        """Post a signed event and wait until its workflow finished: its id."""
        answer = await self.stack.post(body)
        assert answer.status_code == 200, answer.text
        event_id: str = answer.json()["event_id"]
        await self.client.get_workflow_handle(event_workflow_id(event_id)).result()
        return event_id

    def shipment_event(
        self, shipment: int, *, sample: str, occurred_at: datetime, event_type: str | None = None
    ) -> bytes:
        """A packaged full-format `/shipment` sample about `shipment`, as Flexport sends it."""
        payload = self.samples.payload(
            sample, id=f"evt_{uuid.uuid4().hex[:12]}", occurred_at=iso(occurred_at)
        )
        if event_type is not None:
            payload["type"] = event_type
        payload["data"]["resource"]["id"] = shipment
        payload["data"]["shipment"]["id"] = shipment
        return json.dumps(payload).encode()

    def compact_event(self, sample: str, **data: Any) -> bytes:
        """A compact-format sample (`shipment.milestone`, `shipment.eta_updated`) with `data`."""
        payload = self.samples.payload(sample, id=f"evt_{uuid.uuid4().hex[:12]}")
        payload["data"].pop("previous_estimated_arrival", None)
        payload["data"].update(data)
        return json.dumps(payload).encode()

    async def person(self, name: str, smtp_port: int) -> None:
        """An operator token for `name`, reached by email at `<name>@example.com`."""
        answer = await self.stack.http.post(
            "/api/tokens",
            json={
                "name": name,
                "role": "operator",
                "contact": mailto(smtp_port, f"{name}@example.com"),
            },
            headers={"authorization": f"Bearer {self.stack.api_token}"},
        )
        assert answer.status_code == 201, answer.text
        self.tokens[name] = answer.json()["token"]

    async def as_person(self, name: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        answer = await self.stack.http.post(
            f"/api{path}", json=body, headers={"authorization": f"Bearer {self.tokens[name]}"}
        )
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()
        return result

    async def exception_of(self, shipment: int | str) -> dict[str, Any]:
        """The shipment's one exception, with its timeline."""
        listed = await self.stack.api("/exceptions", shipment_id=str(shipment))
        [found] = listed.json()["exceptions"]
        detail = await self.stack.api(f"/exceptions/{found['id']}")
        result: dict[str, Any] = detail.json()
        return result


def said(exception: dict[str, Any]) -> list[str]:
    """The timeline as `who what` lines."""
    return [f"{entry['who']} {entry['what']}" for entry in exception["timeline"]]


def to(inbox: Inbox, address: str) -> list[str]:
    return [message.title for message in inbox.received if message.to == address]


def about(inbox: Inbox, address: str, shipment: int | str) -> list[str]:
    """The titles of the messages to `address` whose body names `shipment`."""
    return [
        message.title
        for message in inbox.received
        if message.to == address and str(shipment) in message.html
    ]


async def test_the_exception_inbox_journey(
    make_stack: StackFactory, samples: Samples, smtp: tuple[Inbox, int], tmp_path: Path
) -> None:
    inbox, smtp_port = smtp
    config = write_config(
        tmp_path / "notifications.yml",
        (mailto(smtp_port, TEAM), "customs, exception, eta_missed"),
        (mailto(smtp_port, ESCALATIONS), "escalation"),
    )
    temporal_port, temporal_db = free_port(), tmp_path / "temporal.db"
    server = await persisted_temporal(temporal_port, temporal_db)
    stack = await make_stack(with_worker=False, client=server.client, notify_config=config)
    journey = Journey(stack, server.client, samples)
    for name in ("alice", "bob"):
        await journey.person(name, smtp_port)
    base = random.randrange(10**8, 9 * 10**8)
    held, delayed, late = base, base + 1, f"late{base + 50}"
    now = datetime.now(UTC)
    timelines: dict[str, list[str]] = {}
    worker = AsyncExitStack()
    try:
        await run_worker(worker, stack, server.client, config, **WORKER)

        # 1. A customs hold reported twice, acknowledged by Alice, released by Flexport.
        for minutes in (10, 9):
            await journey.deliver(
                journey.shipment_event(
                    held,
                    sample="01_shipment_created",
                    occurred_at=now - timedelta(minutes=minutes),
                    event_type=HOLD,
                )
            )
        hold = await journey.exception_of(held)
        assert (hold["family"], hold["severity"], hold["occurrences"]) == (
            "customs_hold",
            "critical",
            2,
        )
        await journey.as_person(
            "alice", f"/exceptions/{hold['id']}/acknowledge", {"note": "broker is on it"}
        )
        release = await journey.deliver(
            journey.shipment_event(
                held, sample="11_customs_released", occurred_at=now - timedelta(minutes=5)
            )
        )
        hold = await journey.exception_of(held)
        assert (hold["state"], hold["resolved_by"]) == ("resolved", f"flexport:{release}")
        await eventually(lambda: to(inbox, "alice@example.com"), what="Alice's notice")

        # 2. A departure delay nobody acknowledges: the worker and Temporal stop before its SLA.
        opened_at = datetime.now(UTC)
        await journey.deliver(
            journey.shipment_event(
                delayed, sample="01_shipment_created", occurred_at=opened_at, event_type=DELAY
            )
        )
        delay = await journey.exception_of(delayed)
        assert (delay["family"], delay["state"]) == ("departure_delay", "open")
        await worker.aclose()
        await server.shutdown()
        await asyncio.sleep((opened_at + timedelta(seconds=7) - datetime.now(UTC)).total_seconds())
        assert to(inbox, ESCALATIONS) == []
        server = await persisted_temporal(temporal_port, temporal_db)
        journey.client = server.client
        worker = AsyncExitStack()
        await run_worker(worker, stack, server.client, config, **WORKER)
        await eventually(lambda: to(inbox, ESCALATIONS), what="the escalation", timeout=60)
        departed = await journey.deliver(
            journey.compact_event(
                "21_compact_shipment_milestone",
                shipment_id=str(delayed),
                milestone="departed",
                occurred_at=iso(datetime.now(UTC)),
            )
        )
        delay = await journey.exception_of(delayed)
        assert (delay["state"], delay["resolved_by"]) == ("resolved", f"flexport:{departed}")

        # 3. A missed ETA: flexhook's own exception, assigned to Bob, resolved by him by hand.
        await journey.deliver(
            journey.compact_event(
                "22_compact_eta_updated",
                shipment_id=late,
                estimated_arrival=iso(datetime.now(UTC) + timedelta(seconds=2)),
                occurred_at=iso(datetime.now(UTC)),
            )
        )

        async def missed() -> dict[str, Any]:
            listed = (await stack.api("/exceptions", shipment_id=late)).json()["exceptions"]
            assert len(listed) == 1
            return dict(listed[0])

        missed_eta = await eventually(missed, what="the missed ETA's exception", timeout=30)
        assert missed_eta["family"] == "missed_eta"
        await journey.as_person(
            "alice", f"/exceptions/{missed_eta['id']}/assign", {"assignee": "bob"}
        )
        await eventually(lambda: to(inbox, "bob@example.com"), what="Bob's notice")
        await journey.as_person(
            "bob",
            f"/exceptions/{missed_eta['id']}/resolve",
            {"note": "arrived on the 14th; the carrier never reported it"},
        )

        # 4. The released hold recurs: reopened, a recurrence.
        await journey.deliver(
            journey.shipment_event(
                held, sample="01_shipment_created", occurred_at=datetime.now(UTC), event_type=HOLD
            )
        )
        hold = await journey.exception_of(held)
        assert (hold["state"], hold["recurrences"]) == ("open", 1)

        # 5. Ten trucking problems, acknowledged at once with one shared note.
        trucked = [base + 100 + n for n in range(10)]
        for shipment in trucked:
            await journey.deliver(
                journey.shipment_event(
                    shipment,
                    sample="01_shipment_created",
                    occurred_at=datetime.now(UTC),
                    event_type=TRUCKING,
                )
            )
        bulk = await journey.as_person(
            "alice",
            "/exceptions/bulk",
            {
                "filter": {"family": "trucking", "state": "open"},
                "action": "acknowledge",
                "note": "calling the truckers",
            },
        )
        assert (len(bulk["changed"]), bulk["refused"]) == (10, [])

        # Every timeline complete ...
        hold, delay = await journey.exception_of(held), await journey.exception_of(delayed)
        missed_eta = await journey.exception_of(late)
        timelines = {
            "customs hold": said(hold),
            "departure delay": said(delay),
            "missed ETA": said(missed_eta),
            "a trucking problem": said(await journey.exception_of(trucked[0])),
        }
        assert [line.split(" ", 1)[1] for line in timelines["customs hold"]] == [
            "opened",
            "occurrence",
            "acknowledged",
            "resolved",
            "recurred",
        ]
        assert timelines["customs hold"][2] == "alice acknowledged"
        assert timelines["customs hold"][3] == f"flexport:{release} resolved"
        assert timelines["departure delay"][1:] == [
            "system escalated",
            f"flexport:{departed} resolved",
        ]
        assert timelines["missed ETA"] == ["system opened", "alice assigned", "bob resolved"]
        assert missed_eta["resolved_by"] == "bob"
        assert [entry["note"] for entry in missed_eta["timeline"]][-1] == (
            "arrived on the 14th; the carrier never reported it"
        )
        for shipment in trucked:
            assert said(await journey.exception_of(shipment))[1:] == ["alice acknowledged"]

        # ... and every message exactly once, even after the watches had time to repeat one.
        await asyncio.sleep(2)
        assert len(to(inbox, ESCALATIONS)) == 1
        assert len(to(inbox, "alice@example.com")) == 1
        assert len(to(inbox, "bob@example.com")) == 1
        # The hold: its first report, the release, the recurrence (not the second report).
        assert len(about(inbox, TEAM, held)) == 3
        assert len(about(inbox, TEAM, delayed)) == 1
        assert len(about(inbox, TEAM, late)) == 1
        assert [len(about(inbox, TEAM, shipment)) for shipment in trucked] == [1] * 10
    finally:
        await worker.aclose()
        await server.shutdown()
    write_artifact(timelines, inbox)


def write_artifact(timelines: dict[str, list[str]], inbox: Inbox) -> None:
    """The journey's timelines and messages, for the closing note."""
    lines = ["# The exception journey (tests/integration/test_exception_journey.py)", ""]
    for name, entries in timelines.items():
        lines += [f"## {name}", "", *(f"1. {entry}" for entry in entries), ""]
    lines += ["## messages", ""]
    lines += [f"- to {m.to}: {m.title}" for m in inbox.received]
    ARTIFACT.parent.mkdir(exist_ok=True)
    ARTIFACT.write_text("\n".join(lines) + "\n", encoding="utf-8")
