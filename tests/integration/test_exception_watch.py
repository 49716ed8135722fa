"""The exception watch end to end: signed Flexport events through the web app, a real Temporal
dev server with its durable timers and signals, real SMTP. SLAs are seconds, so that the
timers fire in the test. (Restarts and hand-overs: `test_exception_watch_durability.py`.)
"""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.core.limits import EVENT_ID_CHARS
from tests.helpers import eventually
from tests.integration.exception_stack import (
    HOLD_TYPE,
    act,
    add_person,
    hold,
    ledger_rows,
    record_history,
    release,
    rules,
    shipment_event,
    start_exception_ids,
    the_exception,
    timeline,
    to,
    watch,
)
from tests.integration.harness import (
    Inbox,
    Samples,
    Stack,
    StackFactory,
    add_recipient,
    mailto,
    write_config,
)
from workflows.exception_watch import RESOLVED

pytestmark = pytest.mark.integration


@pytest.fixture
def shipment_id() -> int:
    return random.randrange(10**8, 10**9)


@pytest.fixture
def config(tmp_path: Path, smtp: tuple[Inbox, int]) -> Path:
    return write_config(
        tmp_path / "notifications.yml", (mailto(smtp[1], "escalations@example.com"), "escalation")
    )


# -- the tests --------------------------------------------------------------------------------


async def test_an_unacknowledged_hold_escalates_once_acknowledged_released_acknowledger_told(
    make_stack: StackFactory,
    samples: Samples,
    smtp: tuple[Inbox, int],
    config: Path,
    shipment_id: int,
) -> None:
    inbox, port = smtp
    stack = await make_stack(notify_config=config, exception_rules=rules())
    start_exception_ids(stack.engine)
    add_person(stack.engine, "alice", mailto(port, "alice@example.com"))

    await stack.deliver(hold(samples, shipment_id))
    await stack.deliver(hold(samples, shipment_id))  # reported twice: one exception
    row = the_exception(stack.engine)
    assert (row.state, row.occurrences) == ("open", 2)
    assert row.id is not None
    handle = watch(stack, row.id)
    description = await handle.describe()
    assert description.workflow_type == "ExceptionWatch"

    [subject] = await eventually(lambda: to(inbox, "escalations@example.com"), what="escalation")
    assert subject.startswith("Customs hold not acknowledged within 2s — ")
    said = inbox.received[0].html
    assert f"http://flexhook.test/dashboard/exceptions/{row.id}" in said

    await act(stack, row.id, "acknowledge", "alice")
    await stack.deliver(release(samples, shipment_id))

    assert await asyncio.wait_for(handle.result(), 30) == RESOLVED
    [notice] = to(inbox, "alice@example.com")
    assert notice.startswith(
        f"Customs hold you acknowledged was resolved by flexport:{release_id(stack)} — "
    )
    assert len(to(inbox, "escalations@example.com")) == 1
    assert len(ledger_rows(stack.engine, "escalation")) == 1
    assert [line.split(" ", 1)[1] for line in timeline(stack.engine, row.id)] == [
        "opened",
        "occurrence",
        "escalated",
        "acknowledged",
        "resolved",
    ]
    await record_history(handle, "exception_watch__escalated_acknowledged_released")


def release_id(stack: Stack) -> str:
    resolved_by = the_exception(stack.engine).resolved_by or ""
    return resolved_by.removeprefix("flexport:")


async def test_an_acknowledged_hold_never_escalates_and_reminds_once(
    make_stack: StackFactory,
    samples: Samples,
    smtp: tuple[Inbox, int],
    config: Path,
    shipment_id: int,
) -> None:
    inbox, _ = smtp
    stack = await make_stack(
        notify_config=config, exception_rules=rules(ack="critical=1h", resolve="critical=4s")
    )
    start_exception_ids(stack.engine)

    await stack.deliver(hold(samples, shipment_id))
    row = the_exception(stack.engine)
    assert row.id is not None
    await act(stack, row.id, "acknowledge", "bob")

    [subject] = await eventually(lambda: to(inbox, "escalations@example.com"), what="reminder")
    assert subject.startswith("Customs hold acknowledged, not resolved within 4s — ")
    await act(stack, row.id, "note", "bob", note="broker called")
    await eventually(lambda: "bob noted" in timeline(stack.engine, row.id or 0))
    assert len(to(inbox, "escalations@example.com")) == 1
    assert ledger_rows(stack.engine, "escalation")[0].dedup_key.endswith(":reminder")
    assert "system escalated" not in timeline(stack.engine, row.id)


async def test_a_snooze_wakes_on_time_and_an_assignee_hears_of_it(
    make_stack: StackFactory,
    samples: Samples,
    smtp: tuple[Inbox, int],
    config: Path,
    shipment_id: int,
) -> None:
    inbox, port = smtp
    stack = await make_stack(notify_config=config, exception_rules=rules(ack="critical=1h"))
    start_exception_ids(stack.engine)
    add_person(stack.engine, "carol", mailto(port, "carol@example.com"))
    add_person(stack.engine, "dave", None)  # no contact: skipped

    await stack.deliver(hold(samples, shipment_id))
    row = the_exception(stack.engine)
    assert row.id is not None
    await act(stack, row.id, "assign", "carol", assignee="carol")  # herself: no notice
    await act(stack, row.id, "assign", "alice", assignee="dave")
    await act(stack, row.id, "assign", "alice", assignee="carol")
    until = datetime.now(UTC) + timedelta(seconds=2)
    await act(stack, row.id, "snooze", "alice", until=until)

    await eventually(lambda: the_exception(stack.engine).state == "open", what="the wake-up")
    assert datetime.now(UTC) >= until
    assert timeline(stack.engine, row.id)[-1] == "system woke"
    [subject] = await eventually(lambda: to(inbox, "carol@example.com"), what="the notice")
    assert subject.startswith("Customs hold assigned to you — ")
    assert [r.to for r in inbox.received] == ["carol@example.com"]


async def test_quiet_hours_and_a_digest_do_not_hold_an_escalation(
    make_stack: StackFactory,
    samples: Samples,
    smtp: tuple[Inbox, int],
    tmp_path: Path,
    shipment_id: int,
) -> None:
    inbox, port = smtp
    stack = await make_stack(exception_rules=rules())
    start_exception_ids(stack.engine)
    for address, preferences in (
        ("quiet@example.com", {"quiet_hours": "00:00-23:59"}),
        ("digest@example.com", {"delivery": "digest", "digest_at": "00:00"}),
    ):
        created = await add_recipient(
            stack, url=mailto(port, address), kinds=["escalation"], **preferences
        )
        assert created.status_code == 201, created.text

    await stack.deliver(hold(samples, shipment_id))

    await eventually(
        lambda: sorted(r.to for r in inbox.received) == ["digest@example.com", "quiet@example.com"],
        what="the escalation at both",
    )
    # The mail is in before the send's activity has marked its ledger row `sent`.
    await eventually(
        lambda: (
            sorted(row.status for row in ledger_rows(stack.engine, "escalation"))
            == ["sent", "sent"]
        ),
        what="both escalations marked sent",
    )


async def test_holds_with_the_longest_event_ids_are_recorded_whole(
    make_stack: StackFactory, samples: Samples, shipment_id: int
) -> None:
    """`flexport:` and an event id of the longest length the log takes fit the timeline's `who`
    and `resolved_by` (PostgreSQL refuses a longer value: the event would fail)."""
    stack = await make_stack(exception_rules=rules(ack="critical=1h"))
    start_exception_ids(stack.engine)
    unique = uuid.uuid4().hex
    hold_id, release_id = (f"{kind}{unique}".ljust(EVENT_ID_CHARS, "x") for kind in "hr")

    await stack.deliver(
        shipment_event(samples, "01_shipment_created", shipment_id, type=HOLD_TYPE, id=hold_id)
    )
    await stack.deliver(shipment_event(samples, "11_customs_released", shipment_id, id=release_id))

    row = the_exception(stack.engine)
    assert row.resolved_by == f"flexport:{release_id}"
    assert timeline(stack.engine, row.id or 0) == [
        f"flexport:{hold_id} opened",
        f"flexport:{release_id} resolved",
    ]
