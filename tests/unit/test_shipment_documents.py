"""Each shipment keeps the document `GET /api/shipments/{id}` answers with: rewritten in the same
commit as any change of the shipment, its milestones or its containers, and equal to the document
built live from the rows."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.store import db, reads
from app.store.db import create_db_engine, upgrade
from app.store.models import Container, Shipment
from tests.helpers import deliver

SHIPMENT_ID = "418563"


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'flexhook.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


def kept(engine: Engine, shipment_id: str = SHIPMENT_ID) -> Any:
    with Session(engine) as session:
        row = session.get(Shipment, shipment_id)
        assert row is not None and row.document is not None
        return json.loads(row.document)


def live(engine: Engine, shipment_id: str = SHIPMENT_ID) -> Any:
    with engine.connect() as connection:
        return reads.get_shipment(connection, shipment_id=shipment_id)


def test_each_applied_event_leaves_the_kept_document_equal_to_the_live_one(
    engine: Engine, sample: Callable[[str], bytes]
) -> None:
    deliver(engine, sample("06_leg_departed"))
    assert kept(engine)["status"] == "departed"
    assert kept(engine) == live(engine)

    deliver(engine, sample("05_container_loaded_on_board"))
    assert kept(engine)["containers"], "the container event reached the document"
    assert kept(engine) == live(engine)

    deliver(engine, sample("09_leg_arrived"))
    assert [m["milestone"] for m in kept(engine)["milestones"]][-1] == "arrived"
    assert kept(engine) == live(engine)


def test_a_container_that_moves_to_another_shipment_rewrites_both_documents(
    engine: Engine, sample: Callable[[str], bytes]
) -> None:
    deliver(engine, sample("05_container_loaded_on_board"))
    (container,) = kept(engine)["containers"]
    with Session(engine) as session:
        session.add(Shipment(id="900001"))
        moved = session.get(Container, container["number"])
        assert moved is not None
        moved.shipment_id = "900001"
        session.commit()

    assert kept(engine)["containers"] == []
    assert [c["number"] for c in kept(engine, "900001")["containers"]] == [container["number"]]


def test_a_savepoint_rolled_back_leaves_what_was_flushed_before_it_to_be_rebuilt(
    engine: Engine, sample: Callable[[str], bytes]
) -> None:
    deliver(engine, sample("06_leg_departed"))
    with Session(engine) as session:
        row = session.get(Shipment, SHIPMENT_ID)
        assert row is not None
        row.name = "renamed before the savepoint"
        session.flush()
        with session.begin_nested() as savepoint:
            session.add(Shipment(id="900002"))
            session.flush()
            savepoint.rollback()
        session.commit()

    assert kept(engine)["name"] == "renamed before the savepoint"
    assert kept(engine) == live(engine)


def test_a_shipment_written_before_documents_were_kept_is_read_live(
    engine: Engine, sample: Callable[[str], bytes]
) -> None:
    deliver(engine, sample("06_leg_departed"))
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE shipment SET document = NULL"))

    with engine.connect() as connection:
        document = reads.shipment_document(connection, shipment_id=SHIPMENT_ID)
        missing = reads.shipment_document(connection, shipment_id="no-such-shipment")

    assert document is not None and json.loads(document) == live(engine)
    assert missing is None


def test_upgrading_past_0006_gives_shipments_from_before_their_documents(
    tmp_path: Path, sample: Callable[[str], bytes]
) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'before.db'}")
    config = db.alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0005")
        connection.execute(
            sa.text(
                "INSERT INTO shipment (id, name, status, versions) VALUES (:id, :name, :s, '{}')"
            ),
            {"id": SHIPMENT_ID, "name": "SS26 Apparel", "s": "booked"},
        )

    upgrade(engine)

    assert kept(engine) == live(engine)
    assert kept(engine)["name"] == "SS26 Apparel"
    engine.dispose()
