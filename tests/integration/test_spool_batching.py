"""With Temporal away, a burst of deliveries is spooled in batches, one commit each: every 200
`queued` is in the spool once answered, a batch the database refuses is 503 for each of its
deliveries and stores none of them, and duplicates answer as they did one request at a time."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from temporalio.client import Client

from app.core.events import parse_event
from app.store.models import EventRecord, SpooledEvent
from app.store.projection import new_event_row
from tests.integration.harness import Samples, Stack, StackFactory, free_port

pytestmark = pytest.mark.integration


async def spooling_stack(make_stack: StackFactory, samples: Samples) -> Stack:
    """A stack whose Temporal never answers, its breaker already open (the next posts go
    straight to the spool)."""
    unreachable = await Client.connect(f"127.0.0.1:{free_port()}", lazy=True)
    stack = await make_stack(client=unreachable, with_worker=False, rpc_timeout=1)
    tripped = await stack.post(samples.body("01_shipment_created"))
    assert tripped.json()["status"] == "queued", tripped.text
    return stack


@dataclass
class Writes:
    """Statements that wrote spool rows, and the commits of the transactions that ran them."""

    spool_inserts: int = 0
    commits: int = 0


@contextmanager
def counting_spool_writes(engine: Engine) -> Iterator[Writes]:
    writes = Writes()

    def on_execute(connection: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO SPOOL"):
            writes.spool_inserts += 1
            connection.info["spooling"] = True

    def on_commit(connection: Any) -> None:
        if connection.info.pop("spooling", False):
            writes.commits += 1

    sa.event.listen(engine, "before_cursor_execute", on_execute)
    sa.event.listen(engine, "commit", on_commit)
    try:
        yield writes
    finally:
        sa.event.remove(engine, "before_cursor_execute", on_execute)
        sa.event.remove(engine, "commit", on_commit)


def log_statuses(engine: Engine, event_ids: list[str]) -> dict[str, str]:
    with Session(engine) as session:
        rows = session.exec(
            select(EventRecord.event_id, EventRecord.status).where(
                sa.column("event_id").in_(event_ids)
            )
        ).all()
    return dict(rows)


def spooled_ids(engine: Engine, event_ids: list[str]) -> list[str]:
    with Session(engine) as session:
        rows = session.exec(
            select(SpooledEvent.event_id).where(sa.column("event_id").in_(event_ids))
        ).all()
    return list(rows)


def log_as(engine: Engine, body: bytes, status: str) -> None:
    event = parse_event(body)
    with Session(engine) as session:
        session.add(
            new_event_row(
                event,
                body=body.decode(),
                workflow_id=f"flexport-event-{event.event_id}",
                received_at=datetime.now(UTC),
                status=status,
            )
        )
        session.commit()


def event_id(body: bytes) -> str:
    return str(json.loads(body)["id"])


def refuse_spool_inserts(engine: Engine) -> None:
    """From now on the database refuses every new spool row (after the log rows went in)."""
    with engine.begin() as connection:
        if engine.dialect.name == "sqlite":
            connection.exec_driver_sql(
                "CREATE TRIGGER refuse_spool BEFORE INSERT ON spool "
                "BEGIN SELECT RAISE(ABORT, 'spool refused'); END"
            )
        else:
            connection.exec_driver_sql(
                "CREATE FUNCTION refuse_spool() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'spool refused'; END $$"
            )
            connection.exec_driver_sql(
                "CREATE TRIGGER refuse_spool BEFORE INSERT ON spool "
                "FOR EACH ROW EXECUTE FUNCTION refuse_spool()"
            )


def allow_spool_inserts(engine: Engine) -> None:
    with engine.begin() as connection:
        if engine.dialect.name == "sqlite":
            connection.exec_driver_sql("DROP TRIGGER refuse_spool")
        else:
            connection.exec_driver_sql("DROP TRIGGER refuse_spool ON spool")
            connection.exec_driver_sql("DROP FUNCTION refuse_spool()")


async def test_a_burst_is_spooled_in_batches_and_every_queued_answer_is_stored(
    make_stack: StackFactory, samples: Samples
) -> None:
    stack = await spooling_stack(make_stack, samples)
    bodies = [samples.body("06_leg_departed", id=f"burst-{samples.salt}-{i}") for i in range(40)]
    processed = samples.body("09_leg_arrived", id=f"done-{samples.salt}")
    failed = samples.body("11_customs_released", id=f"failed-{samples.salt}")
    log_as(stack.engine, processed, "processed")
    log_as(stack.engine, failed, "failed")
    posts = [*bodies, *bodies[:10], processed, failed]  # ten delivered twice in the burst

    with counting_spool_writes(stack.engine) as writes:
        answers = await asyncio.gather(*(stack.post(body) for body in posts))

    assert [a.status_code for a in answers] == [200] * len(posts), [a.text for a in answers]
    statuses = [a.json()["status"] for a in answers]
    assert statuses == ["queued"] * 50 + ["duplicate", "queued"]
    queued = [event_id(body) for body in [*bodies, failed]]
    assert sorted(spooled_ids(stack.engine, [*queued, event_id(processed)])) == sorted(queued)
    assert log_statuses(stack.engine, queued) == dict.fromkeys(queued, "queued")
    assert log_statuses(stack.engine, [event_id(processed)]) == {event_id(processed): "processed"}
    # Batches: fewer spool writes than events spooled (one a request would be as many), and
    # one commit for each.
    assert 1 <= writes.spool_inserts < len(queued), writes
    assert writes.commits == writes.spool_inserts
    assert (await stack.api("/spool")).json()["depth"] == len(queued) + 1  # and the tripping one


async def test_a_batch_the_database_refuses_is_503_for_each_delivery_and_stores_none(
    make_stack: StackFactory, samples: Samples
) -> None:
    stack = await spooling_stack(make_stack, samples)
    bodies = [samples.body("06_leg_departed", id=f"refused-{samples.salt}-{i}") for i in range(12)]
    refuse_spool_inserts(stack.engine)

    answers = await asyncio.gather(*(stack.post(body) for body in bodies))

    assert [a.status_code for a in answers] == [503] * len(bodies), [a.text for a in answers]
    assert {a.json()["error"] for a in answers} == {"unavailable"}
    ids = [event_id(body) for body in bodies]
    assert log_statuses(stack.engine, ids) == {}
    assert spooled_ids(stack.engine, ids) == []

    allow_spool_inserts(stack.engine)
    again = await stack.post(bodies[0])  # Flexport's redelivery, once the database heals
    assert again.json()["status"] == "queued", again.text
    assert spooled_ids(stack.engine, ids[:1]) == ids[:1]
