"""A poison event never vanishes (review M2): a value longer than the database stores, a database
error about the data, or trouble that outlives the processing deadline leaves the event in the
log as `failed` with the reason, tells the operators once, and leaves it to a redrive. Real
Temporal, real database (SQLite, or PostgreSQL with FLEXHOOK_TEST_DATABASE=postgresql), real
SMTP."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session
from temporalio.client import WorkflowFailureError

import activities.processing
from app.ingest import redrive
from app.store.filters import EventFilter
from tests.helpers import eventually
from tests.integration.harness import Inbox, Samples, Stack, StackFactory, mailto, write_config

pytestmark = pytest.mark.integration

ONCALL = "oncall@example.com"


def poison(samples: Samples, name: str, **resource: Any) -> tuple[str, bytes]:
    """A sample with a fresh id and the given fields of `data.resource` changed."""
    payload = samples.payload(name)
    payload["id"] = f"poison-{uuid.uuid4().hex[:12]}"
    payload["data"]["resource"].update(resource)
    return payload["id"], json.dumps(payload).encode()


async def logged_failed(stack: Stack, event_id: str) -> dict[str, Any]:
    """The event as `/api/events` lists it, once it is `failed` (a 404 meanwhile)."""

    async def failed() -> dict[str, Any]:
        response = await stack.api(f"/events/{event_id}")
        assert response.status_code == 200, f"{event_id}: {response.status_code}"
        event: dict[str, Any] = response.json()
        assert event["status"] == "failed", event["status"]
        return event

    return await eventually(failed, timeout=60, what=f"{event_id} logged failed")


async def run_fails(stack: Stack, event_id: str) -> str:
    with pytest.raises(WorkflowFailureError) as failure:
        await stack.wait(event_id)
    return str(failure.value.cause)


def ops_messages(inbox: Inbox) -> list[EmailMessage]:
    return [message for message in inbox.messages() if message["To"] == ONCALL]


async def ops_stack(
    make_stack: StackFactory, smtp: tuple[Inbox, int], tmp_path: Path, **options: Any
) -> Stack:
    _, port = smtp
    config = write_config(
        tmp_path / "notifications.yml",
        (mailto(port, ONCALL), "ops"),
        (mailto(port, "team@example.com"), "departed, arrived, eta"),
    )
    return await make_stack(notify_config=config, **options)


def redrive_selects(stack: Stack, event_id: str, status: str) -> bool:
    with Session(stack.engine) as session:
        found = redrive.candidates(session, where=EventFilter(status=status))
    return event_id in {candidate.event_id for candidate in found}


async def test_a_shipment_id_longer_than_the_database_stores_is_failed_not_lost(
    make_stack: StackFactory, samples: Samples, smtp: tuple[Inbox, int], tmp_path: Path
) -> None:
    """The review's probe: 200 `accepted`, then 404 forever on PostgreSQL."""
    inbox, _ = smtp
    stack = await ops_stack(make_stack, smtp, tmp_path)
    event_id, body = poison(samples, "01_shipment_created", id="9" * 65)

    first = await stack.post(body)
    event = await logged_failed(stack, event_id)
    await run_fails(stack, event_id)
    again = await stack.post(body)  # Flexport delivers it again: a new run, failing again
    await run_fails(stack, event_id)

    assert (first.status_code, first.json()["status"]) == (200, "accepted")
    assert again.json()["status"] == "accepted"
    assert "shipment id is longer than 64 characters" in event["error"]
    assert event["shipment_id"] is None  # what fits is kept; the reason says why
    [message] = ops_messages(inbox)
    assert message["Subject"] == f"flexhook: event {event_id} failed processing"
    assert redrive_selects(stack, event_id, "failed")


async def test_a_leg_id_that_makes_the_alert_key_too_long_is_failed_not_lost(
    make_stack: StackFactory, samples: Samples, smtp: tuple[Inbox, int], tmp_path: Path
) -> None:
    inbox, _ = smtp
    stack = await ops_stack(make_stack, smtp, tmp_path)
    event_id, body = poison(samples, "06_leg_departed", id="7" * 190)

    answer = await stack.post(body)
    event = await logged_failed(stack, event_id)
    await run_fails(stack, event_id)

    assert answer.json()["status"] == "accepted"
    assert "makes the alert key longer than 240 characters" in event["error"]
    assert event["shipment_id"] == "418563"
    assert len(ops_messages(inbox)) == 1
    assert [m for m in inbox.messages() if m["To"] != ONCALL] == []  # no half-sent alert


async def test_an_error_that_outlives_the_processing_deadline_fails_the_event(
    make_stack: StackFactory,
    samples: Samples,
    smtp: tuple[Inbox, int],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A bug in the projection (or a database away for good) is retried until the deadline,
    then the event is logged failed with the last error, the run fails and ops hear it once."""
    inbox, _ = smtp
    stack = await ops_stack(make_stack, smtp, tmp_path, process_deadline=timedelta(seconds=4))
    event_id, body = poison(samples, "06_leg_departed")

    def projection_bug(*args: object, **kwargs: object) -> object:
        raise TypeError("unsupported operand type(s) for -: 'NoneType' and 'datetime'")

    monkeypatch.setattr(activities.processing, "apply_and_decide", projection_bug)

    answer = await stack.post(body)
    failure = await run_fails(stack, event_id)
    event = await logged_failed(stack, event_id)

    assert answer.json()["status"] == "accepted"
    assert "not processed within its deadline" in failure
    assert event["error"].startswith("not processed within its deadline: TypeError: unsupported")
    [message] = ops_messages(inbox)
    assert message["Subject"] == f"flexhook: event {event_id} failed processing"
    assert redrive_selects(stack, event_id, "failed")


async def test_an_event_stuck_in_processing_alerts_ops_once_and_redrive_can_select_it(
    make_stack: StackFactory,
    samples: Samples,
    smtp: tuple[Inbox, int],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Before its deadline a failing event is retried: it is logged `processing` with the last
    error, and past FLEXHOOK_STUCK_AFTER the ops watch says so, once, and again when it is over."""
    inbox, _ = smtp
    stack = await ops_stack(make_stack, smtp, tmp_path, stuck_after=timedelta(seconds=1))
    event_id, body = poison(samples, "06_leg_departed")

    def projection_bug(*args: object, **kwargs: object) -> object:
        raise TypeError("unsupported operand type(s) for -: 'NoneType' and 'datetime'")

    monkeypatch.setattr(activities.processing, "apply_and_decide", projection_bug)
    await stack.post(body)

    async def logged_processing() -> dict[str, Any]:
        event: dict[str, Any] = (await stack.api(f"/events/{event_id}")).json()
        assert event.get("status") == "processing", event
        return event

    event = await eventually(logged_processing, timeout=60)
    [stuck] = await eventually(lambda: ops_messages(inbox), timeout=60, what="the stuck alert")
    selected = redrive_selects(stack, event_id, "processing")
    monkeypatch.undo()  # the bug fixed: the next attempt processes it
    await stack.wait(event_id)
    over = await eventually(lambda: ops_messages(inbox)[1:], timeout=60, what="the recovery")

    assert event["error"].startswith("TypeError: unsupported operand")
    assert stuck["Subject"] == "flexhook: 1 event(s) stuck in processing for over 1 s"
    assert event_id in stuck.as_string()
    assert selected
    [recovered] = over
    assert recovered["Subject"].startswith("flexhook: no event stuck in processing any more")
    assert (await stack.api(f"/events/{event_id}")).json()["status"] == "processed"


async def test_a_database_error_about_the_data_fails_the_event_without_retrying(
    make_stack: StackFactory,
    samples: Samples,
    smtp: tuple[Inbox, int],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A value the database refuses that parsing did not foresee: failed at once (the deadline
    is an hour away), with the error's first line and no bound parameters."""
    inbox, _ = smtp
    stack = await ops_stack(make_stack, smtp, tmp_path)
    event_id, body = poison(samples, "06_leg_departed")
    attempts: list[int] = []

    def refused(*args: object, **kwargs: object) -> object:
        attempts.append(1)
        raise sa.exc.DataError(
            "UPDATE shipment SET name=%(name)s",
            {"name": "Acme secret address"},
            Exception("value too long for type character varying(64)"),
            hide_parameters=True,
        )

    monkeypatch.setattr(activities.processing, "apply_and_decide", refused)
    await stack.post(body)
    failure = await run_fails(stack, event_id)
    event = await logged_failed(stack, event_id)

    assert len(attempts) == 1
    assert "value too long for type character varying(64)" in event["error"]
    for text in (failure, event["error"], *(m.as_string() for m in inbox.messages())):
        assert "Acme secret address" not in text
    assert len(ops_messages(inbox)) == 1
