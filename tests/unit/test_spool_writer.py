"""The spool's group commit: one transaction per batch of spooled events, each caller answered
only after its batch is committed, a failed batch failing every caller and storing nothing."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from app.core.events import parse_event
from app.core.statuses import StartStatus
from app.ingest.errors import Unavailable
from app.ingest.intake import Intake
from app.ingest.relay import TemporalBreaker
from app.store import db, spool
from app.store.models import EventRecord, SpooledEvent
from app.store.projection import new_event_row
from app.store.spool_writer import SpoolWriter
from tests.unit.fake_starter import FakeStarter

RECEIVED_AT = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
Spoolings = Callable[[int], list[spool.Spooling]]


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = db.create_db_engine(f"sqlite:///{tmp_path / 'flexhook.db'}")
    db.upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def spoolings(sample: Callable[[str], bytes]) -> Spoolings:
    """`n` distinct verified deliveries of a real sample, each with an event id of its own."""
    payload = json.loads(sample("06_leg_departed"))
    salt = uuid.uuid4().hex[:8]

    def make(n: int) -> list[spool.Spooling]:
        items = []
        for _ in range(n):
            body = json.dumps({**payload, "id": f"{salt}-{uuid.uuid4().hex[:8]}"})
            items.append(spool.Spooling(parse_event(body.encode()), body, RECEIVED_AT))
        return items

    return make


def commits(engine: Engine) -> list[int]:
    """A list that grows by one on every commit on `engine`."""
    seen: list[int] = []
    sa.event.listen(engine, "commit", lambda _connection: seen.append(1))
    return seen


def stored(engine: Engine) -> tuple[dict[str, str], list[str]]:
    """(log status by event id, spooled event ids in spool order)."""
    with Session(engine) as session:
        log = dict(session.exec(select(EventRecord.event_id, EventRecord.status)).all())
        spooled = list(
            session.exec(select(SpooledEvent.event_id).order_by(col(SpooledEvent.id))).all()
        )
    return log, spooled


def log_as(engine: Engine, item: spool.Spooling, status: str) -> None:
    with Session(engine) as session:
        session.add(
            new_event_row(
                item.event,
                body=item.body,
                workflow_id=f"wf-{item.event.event_id}",
                received_at=RECEIVED_AT,
                status=status,
            )
        )
        session.commit()


def refuse_spool_inserts(engine: Engine) -> None:
    """Make every insert into the spool fail inside the database, after the log rows went in."""
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "CREATE TRIGGER refuse_spool BEFORE INSERT ON spool "
            "BEGIN SELECT RAISE(ABORT, 'spool refused'); END"
        )


# -- enqueue_many: the same answers as one enqueue after the other --------------------------------


def test_a_batch_logs_and_spools_each_new_event_once_in_order(
    engine: Engine, spoolings: Spoolings
) -> None:
    first, second = spoolings(2)
    with Session(engine) as session:
        outcomes = spool.enqueue_many(session.connection(), items=[first, second, first, first])
        session.commit()

    assert outcomes == ["queued"] * 4  # a repeat inside the batch finds it queued, as enqueue would
    log, spooled = stored(engine)
    assert log == {first.event.event_id: "queued", second.event.event_id: "queued"}
    assert spooled == [first.event.event_id, second.event.event_id]


def test_a_batch_answers_for_events_the_log_has_as_enqueue_does(
    engine: Engine, spoolings: Spoolings
) -> None:
    processed, ignored, processing, failed, queued, new = spoolings(6)
    for item, status in (
        (processed, "processed"),
        (ignored, "ignored"),
        (processing, "processing"),
        (failed, "failed"),
    ):
        log_as(engine, item, status)
    with Session(engine) as session:
        assert spool.enqueue(session, **vars(queued)) == StartStatus.QUEUED
        session.commit()

    with Session(engine) as session:
        outcomes = spool.enqueue_many(
            session.connection(),
            items=[processed, ignored, processing, failed, queued, new, failed],
        )
        session.commit()

    assert outcomes == ["duplicate"] * 3 + ["queued"] * 4
    log, spooled = stored(engine)
    assert log == {
        processed.event.event_id: "processed",
        ignored.event.event_id: "ignored",
        processing.event.event_id: "processing",
        failed.event.event_id: "queued",
        queued.event.event_id: "queued",
        new.event.event_id: "queued",
    }
    assert spooled == [queued.event.event_id, failed.event.event_id, new.event.event_id]


def test_a_spooled_log_row_holds_what_the_projection_would_write(
    engine: Engine, spoolings: Spoolings
) -> None:
    (item,) = spoolings(1)
    with Session(engine) as session:
        spool.enqueue_many(session.connection(), items=[item])
        session.commit()

    with Session(engine) as session:
        row = session.get(EventRecord, item.event.event_id)
        assert row is not None
        written = row.model_dump()
    expected = new_event_row(
        item.event,
        body=item.body,
        workflow_id=f"flexport-event-{item.event.event_id}",
        received_at=RECEIVED_AT,
        status="queued",
    ).model_dump()
    assert written == expected


# -- the writer ------------------------------------------------------------------------------------


async def test_a_burst_is_one_commit_and_every_caller_hears_after_it(
    engine: Engine, spoolings: Spoolings
) -> None:
    items = spoolings(50)
    writer = SpoolWriter(engine)
    seen = commits(engine)

    outcomes = await asyncio.gather(*(writer.enqueue(item) for item in [*items, items[0]]))

    assert outcomes == ["queued"] * 51
    assert len(seen) == 1
    log, spooled = stored(engine)
    assert spooled == [item.event.event_id for item in items]
    assert set(log.values()) == {"queued"} and len(log) == 50


async def test_events_queued_while_a_batch_is_written_go_into_the_next_one(
    engine: Engine, spoolings: Spoolings
) -> None:
    first, *rest = spoolings(20)
    writer = SpoolWriter(engine)
    seen = commits(engine)
    writing, go_on = threading.Event(), threading.Event()

    def hold_first_commit(_connection: Any) -> None:
        if not writing.is_set():
            writing.set()
            go_on.wait(timeout=30)

    sa.event.listen(engine, "commit", hold_first_commit)
    alone = asyncio.ensure_future(writer.enqueue(first))
    assert await asyncio.to_thread(writing.wait, 30)
    later = [asyncio.ensure_future(writer.enqueue(item)) for item in rest]
    await asyncio.sleep(0.05)
    go_on.set()

    assert await alone == StartStatus.QUEUED
    assert await asyncio.gather(*later) == ["queued"] * 19
    assert len(seen) == 2  # the first alone, then all that came while it was written
    assert stored(engine)[1] == [item.event.event_id for item in (first, *rest)]


async def test_under_load_the_writer_waits_a_moment_for_as_many_as_last_time(
    engine: Engine, spoolings: Spoolings
) -> None:
    items = spoolings(13)
    writer = SpoolWriter(engine, linger=0.2)
    seen = commits(engine)
    assert await asyncio.gather(*(writer.enqueue(item) for item in items[:5])) == ["queued"] * 5

    async def one_by_one(batch: list[spool.Spooling]) -> list[spool.Outcome]:
        waiting = []
        for item in batch:
            waiting.append(asyncio.ensure_future(writer.enqueue(item)))
            await asyncio.sleep(0)  # each arrives a turn of the loop after the other
            await asyncio.sleep(0)
        return await asyncio.gather(*waiting)

    started = time.perf_counter()
    assert await one_by_one(items[5:10]) == ["queued"] * 5  # as many as last time: no wait
    filled = time.perf_counter() - started
    started = time.perf_counter()
    assert await one_by_one(items[10:]) == ["queued"] * 3  # fewer: the linger, then the batch
    short = time.perf_counter() - started

    assert len(seen) == 3  # 5, 5, 3
    assert filled < 0.15 <= short
    assert stored(engine)[1] == [item.event.event_id for item in items]


async def test_a_failed_batch_fails_each_caller_and_stores_none_of_it(
    engine: Engine, spoolings: Spoolings
) -> None:
    items = spoolings(10)
    writer = SpoolWriter(engine)
    refuse_spool_inserts(engine)

    answers = await asyncio.gather(
        *(writer.enqueue(item) for item in items), return_exceptions=True
    )

    assert all(isinstance(answer, sa.exc.SQLAlchemyError) for answer in answers), answers
    assert stored(engine) == ({}, [])  # the log rows of the batch were rolled back too

    with engine.begin() as connection:
        connection.exec_driver_sql("DROP TRIGGER refuse_spool")
    # The writer goes on with the next batch.
    assert await writer.enqueue(items[0]) == StartStatus.QUEUED


async def test_a_writer_whose_connection_the_database_dropped_stores_on_a_new_one(
    engine: Engine, spoolings: Spoolings
) -> None:
    opened: list[Any] = []
    engine.dispose()  # every connection from here on is a new one, seen opening
    sa.event.listen(
        engine, "connect", lambda dbapi_connection, _record: opened.append(dbapi_connection)
    )
    first, second = spoolings(2)
    writer = SpoolWriter(engine)
    assert await writer.enqueue(first) == StartStatus.QUEUED
    for dbapi_connection in opened:  # as a database restart leaves the writer's connection
        dbapi_connection.close()

    assert await writer.enqueue(second) == StartStatus.QUEUED  # not a 503 for the first batch after

    log, _ = stored(engine)
    assert log == {first.event.event_id: "queued", second.event.event_id: "queued"}


async def test_a_caller_that_gives_up_leaves_the_rest_of_its_batch_answered(
    engine: Engine, spoolings: Spoolings
) -> None:
    impatient, patient = spoolings(2)
    writer = SpoolWriter(engine)

    gives_up = asyncio.ensure_future(writer.enqueue(impatient))
    waits = asyncio.ensure_future(writer.enqueue(patient))
    await asyncio.sleep(0)
    gives_up.cancel()

    assert await waits == StartStatus.QUEUED
    assert gives_up.cancelled()
    # What was handed to the writer is stored all the same: a redelivery finds it queued.
    assert stored(engine)[1] == [impatient.event.event_id, patient.event.event_id]


async def test_with_temporal_away_a_failed_batch_is_unavailable_for_each_request(
    engine: Engine, spoolings: Spoolings
) -> None:
    items = spoolings(5)
    breaker = TemporalBreaker()
    breaker.trip()
    intake = Intake(engine=engine, starter=FakeStarter(), breaker=breaker)
    refuse_spool_inserts(engine)

    answers: list[Any] = await asyncio.gather(
        *(intake.take(i.event, body=i.body, received_at=i.received_at) for i in items),
        return_exceptions=True,
    )

    assert all(isinstance(answer, Unavailable) for answer in answers), answers
    assert stored(engine) == ({}, [])


async def test_with_temporal_away_a_burst_is_queued_in_one_commit(
    engine: Engine, spoolings: Spoolings
) -> None:
    items = spoolings(20)
    breaker = TemporalBreaker()
    breaker.trip()
    woken: list[bool] = []
    intake = Intake(
        engine=engine,
        starter=FakeStarter(),
        breaker=breaker,
        on_spooled=lambda: woken.append(True),
    )
    seen = commits(engine)

    answers = await asyncio.gather(
        *(intake.take(i.event, body=i.body, received_at=i.received_at) for i in items)
    )

    assert answers == [StartStatus.QUEUED] * 20
    assert len(seen) == 1
    assert len(woken) == 20
    assert len(stored(engine)[1]) == 20


async def test_a_bad_event_in_a_batch_fails_alone(engine: Engine, spoolings: Spoolings) -> None:
    """Review M2: one event the database refuses used to turn its whole batch into 503s."""
    items = spoolings(6)
    bad = spool.Spooling(items[2].event, items[2].body, None)  # type: ignore[arg-type]
    items[2] = bad  # a log row without its receipt time: NOT NULL refuses it
    writer = SpoolWriter(engine)

    answers = await asyncio.gather(
        *(writer.enqueue(item) for item in items), return_exceptions=True
    )

    assert isinstance(answers[2], sa.exc.IntegrityError)
    assert [a for i, a in enumerate(answers) if i != 2] == [StartStatus.QUEUED] * 5
    log, spooled = stored(engine)
    assert bad.event.event_id not in log
    assert spooled == [item.event.event_id for i, item in enumerate(items) if i != 2]


async def test_an_event_with_a_value_too_long_for_its_column_is_spooled_with_what_fits(
    engine: Engine, sample: Callable[[str], bytes]
) -> None:
    payload = json.loads(sample("01_shipment_created"))
    payload["data"]["resource"]["id"] = "9" * 65
    body = json.dumps(payload)
    event = parse_event(body.encode())

    answer = await SpoolWriter(engine).enqueue(spool.Spooling(event, body, RECEIVED_AT))

    assert answer == StartStatus.QUEUED
    with Session(engine) as session:
        row = session.get(EventRecord, event.event_id)
        assert row is not None and row.shipment_id is None and row.payload == body
