"""Break the real thing: SIGKILL a worker mid-batch, stop the Temporal server while events keep
coming, and both at once in a mixed run with redeliveries. Whatever happens, every event ends
processed exactly once, the records are those of a calm run, and no alert goes out twice."""

from __future__ import annotations

import asyncio
import logging
import random
from pathlib import Path

import pytest

from tests.chaos.journeys import Journeys, calm_records, deliveries_of
from tests.chaos.stack import START_TIMEOUT_SECONDS, Progress, StackFactory
from tests.integration.harness import Inbox

pytestmark = pytest.mark.chaos
log = logging.getLogger("tests.chaos")

# After a SIGKILL, the activities the dead worker held come back only when their start-to-close
# timeout runs out (30 s for records, 60 s for a send), then wait out their retry backoff.
SETTLE_SECONDS = 150


async def test_a_worker_killed_mid_batch_loses_nothing_and_repeats_nothing(
    make_stack: StackFactory, inbox: Inbox, tmp_path: Path
) -> None:
    stack = await make_stack()
    journeys = Journeys()
    copies = journeys.copies(5)
    batch = deliveries_of(copies)  # 65 events of 5 shipments
    random.Random(journeys.salt).shuffle(batch)
    expected = calm_records(copies, tmp_path / "calm.db")
    event_ids = {delivery.event_id for delivery in batch}

    sender = asyncio.create_task(stack.post_all(batch, concurrency=16))
    await stack.wait_until(
        lambda: stack.event_statuses()["processed"] >= len(batch) // 3,
        timeout=60,
        what="a third of the batch to be processed",
        interval=0.02,
        state=stack.event_statuses,
    )
    stack.kill_workers()
    at_kill = stack.event_statuses()
    answers = await sender
    await stack.start_worker()

    assert at_kill["processed"] < len(batch), f"the batch was over before the kill: {at_kill}"
    assert {a.status_code for a in answers} == {200}
    # `queued`: a start slower than FLEXHOOK_START_TIMEOUT on a busy machine goes to the spool.
    assert {a.status for a in answers} <= {"accepted", "queued"}
    await stack.wait_processed(len(batch), timeout=SETTLE_SECONDS)
    await stack.wait_workflows_completed(event_ids, timeout=SETTLE_SECONDS)
    await stack.assert_event_log(event_ids)
    await stack.assert_records_equal(expected, copies)
    await stack.assert_alerts_sent_once(inbox, {c.shipment_id for c in copies})
    stack.assert_logs_hold_no_secret()


async def test_events_posted_while_temporal_is_down_are_spooled_then_processed_once(
    make_stack: StackFactory, inbox: Inbox, tmp_path: Path
) -> None:
    stack = await make_stack()
    before, during = Journeys().copies(2)
    expected = calm_records([before, during], tmp_path / "calm.db")
    event_ids = {d.event_id for d in (*before.deliveries, *during.deliveries)}
    first = await stack.post_all(before.deliveries, concurrency=8)
    assert {a.status for a in first} <= {"accepted", "queued"}
    # Everything settled, alerts included, so the outage cuts no activity short.
    await stack.wait_workflows_completed({d.event_id for d in before.deliveries}, timeout=60)

    await stack.stop_temporal()
    redelivered = random.sample(during.deliveries, 3)
    meanwhile = await stack.post_all([*during.deliveries, *redelivered], concurrency=4)

    assert [(a.status_code, a.status) for a in meanwhile] == [(200, "queued")] * len(meanwhile)
    log.info("answers while Temporal is down took %s s", [round(a.seconds, 1) for a in meanwhile])
    assert (await stack.api("/spool"))["depth"] == len(during.deliveries)
    ready = await stack.http.get("/readyz")
    assert ready.status_code == 503 and ready.json()["temporal"] == "down"
    await asyncio.sleep(2)  # Temporal stays away a while: nothing is lost, nothing moves
    assert stack.event_statuses()["queued"] == len(during.deliveries)

    await stack.start_temporal()
    await stack.wait_spool_empty(timeout=60)
    await stack.wait_processed(len(event_ids), timeout=60)
    await stack.wait_workflows_completed(event_ids, timeout=60)
    await stack.assert_event_log(event_ids)
    await stack.assert_records_equal(expected, [before, during])
    await stack.assert_alerts_sent_once(inbox, {before.shipment_id, during.shipment_id})
    stack.assert_logs_hold_no_secret()
    again = await stack.post_all(during.deliveries, concurrency=4)
    assert {a.status for a in again} == {"duplicate"}


async def test_with_temporal_gone_a_delivery_is_answered_within_the_start_timeout(
    make_stack: StackFactory,
) -> None:
    stack = await make_stack(with_worker=False)  # ready: the web process has reached Temporal
    deliveries = Journeys().copy(0).deliveries[:4]
    await stack.stop_temporal()

    answers = await stack.post_all(deliveries, concurrency=4)  # all before the breaker trips

    assert [(a.status_code, a.status) for a in answers] == [(200, "queued")] * len(answers)
    slowest = max(answer.seconds for answer in answers)
    assert slowest <= START_TIMEOUT_SECONDS + 1.5, (
        f"a delivery waited {slowest:.1f} s for an unreachable Temporal; "
        f"FLEXHOOK_START_TIMEOUT is {START_TIMEOUT_SECONDS} s"
    )


async def test_a_mixed_run_with_a_worker_kill_and_a_temporal_restart_ends_as_a_calm_run(
    make_stack: StackFactory, inbox: Inbox, tmp_path: Path
) -> None:
    stack = await make_stack()
    journeys = Journeys()
    copies = journeys.copies(15)
    unique = deliveries_of(copies)  # 195 events of 15 shipments
    rng = random.Random(journeys.salt)
    posts = [*unique, *rng.sample(unique, round(len(unique) * 0.3))]
    rng.shuffle(posts)
    expected = calm_records(copies, tmp_path / "calm.db")
    event_ids = {delivery.event_id for delivery in unique}
    progress = Progress()

    sender = asyncio.create_task(stack.post_all(posts, concurrency=16, rate=30, progress=progress))
    await stack.wait_until(
        lambda: progress.sent >= len(posts) // 4 and stack.event_statuses()["processed"] >= 10,
        timeout=60,
        what="a quarter of the posts, some processed",
        interval=0.05,
    )
    stack.kill_workers()
    at_kill = stack.event_statuses()
    await stack.start_worker()
    await stack.wait_until(
        lambda: progress.sent >= len(posts) * 2 // 5, timeout=60, what="two fifths of the posts"
    )
    await stack.stop_temporal()
    await stack.wait_until(
        lambda: progress.statuses()["queued"] >= 15 or sender.done(),
        timeout=60,
        what="posts spooled while Temporal is down",
    )
    await stack.start_temporal()
    answers = await sender
    log.info("all %d posts answered: %s", len(answers), dict(progress.statuses()))

    assert at_kill["processed"] < len(unique), f"the run was over before the kill: {at_kill}"
    assert {a.status_code for a in answers} == {200}
    statuses = progress.statuses()
    assert set(statuses) <= {"accepted", "duplicate", "queued"}, statuses
    assert statuses["queued"] >= 15, f"little was posted while Temporal was down: {statuses}"
    await stack.wait_spool_empty(timeout=SETTLE_SECONDS)
    await stack.wait_processed(len(unique), timeout=SETTLE_SECONDS)
    await stack.wait_workflows_completed(event_ids, timeout=SETTLE_SECONDS)
    await stack.assert_event_log(event_ids)
    await stack.assert_records_equal(expected, copies)
    await stack.assert_alerts_sent_once(inbox, {c.shipment_id for c in copies})
    stack.assert_logs_hold_no_secret()
