"""Payload retention in the store (M6): old payloads go in keyset batches, queued and processing
events keep theirs, and every other column of a row stays."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from app.core.errors import EventDataError
from app.core.statuses import EventStatus
from app.store import db
from app.store.models import EventRecord
from app.store.retention import kept_payload, remove_payloads_batch
from tests.helpers import read_sample

NOW = datetime(2026, 12, 7, tzinfo=UTC)
CUTOFF = NOW - timedelta(days=90)
BODY = read_sample("06").decode("utf-8")


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    engine = db.create_db_engine(f"sqlite:///{tmp_path / 'flexhook.db'}")
    db.upgrade(engine)
    return engine


def logged(engine: Engine, *rows: tuple[str, int, EventStatus]) -> None:
    """Events by (id, days before NOW received, status), each with the sample's body."""
    with Session(engine) as session:
        for event_id, days, status in rows:
            session.add(
                EventRecord(
                    event_id=event_id,
                    type="/shipment_leg#departed",
                    category="milestone",
                    name="departed",
                    shipment_id="418563",
                    received_at=NOW - timedelta(days=days),
                    status=status,
                    error="kept" if status == EventStatus.FAILED else None,
                    workflow_id=f"flexport-event-{event_id}",
                    payload=BODY,
                    alerts=[{"kind": "departed"}],
                )
            )
        session.commit()


def test_batches_walk_the_ids_and_spare_events_in_flight(engine: Engine) -> None:
    logged(
        engine,
        ("e1", 100, EventStatus.PROCESSED),
        ("e2", 100, EventStatus.QUEUED),
        ("e3", 91, EventStatus.FAILED),
        ("e4", 200, EventStatus.PROCESSING),
        ("e5", 95, EventStatus.IGNORED),
        ("e6", 89, EventStatus.PROCESSED),
    )
    batches, after = [], ""
    while True:
        with Session(engine) as session:
            batch = remove_payloads_batch(
                session, received_before=CUTOFF, after_event_id=after, limit=2
            )
            session.commit()
        batches.append((batch.removed, batch.last_event_id))
        if batch.last_event_id is None:
            break
        after = batch.last_event_id

    assert batches == [(2, "e3"), (1, "e5"), (0, None)]
    with Session(engine) as session:
        rows = {row.event_id: row for row in session.exec(select(EventRecord)).all()}
    assert {i for i, row in rows.items() if row.payload is None} == {"e1", "e3", "e5"}
    assert rows["e3"].error == "kept" and rows["e3"].status == EventStatus.FAILED
    assert rows["e1"].alerts == [{"kind": "departed"}]
    assert rows["e1"].received_at == NOW - timedelta(days=100)


def test_applying_an_event_whose_payload_is_gone_is_a_data_error(engine: Engine) -> None:
    logged(engine, ("e1", 100, EventStatus.PROCESSED))
    with Session(engine) as session:
        remove_payloads_batch(session, received_before=CUTOFF, limit=10)
        session.commit()
        row = session.get(EventRecord, "e1")
        assert row is not None

        with pytest.raises(EventDataError, match="removed by payload retention"):
            kept_payload(row)
