"""The benchmark's bulk store (bench/store.py) holds what issue 18's reads of a shipment read, in
the shapes the worker writes: every shipment's ETA observations come back as its ETA history,
and the tracking page's facts carry its milestones, containers and estimates, whatever else the
store holds. Without them the `sharing` phase would time reads of nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.store import eta_reads
from app.store.db import create_db_engine, upgrade
from app.store.tracking import tracking_facts
from bench import store


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "bench.db"
    engine = create_db_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    store.seed(path, first_shipment=0, shipments=3, window=3)
    yield path


@pytest.fixture
def engine(database: Path) -> Iterator[Engine]:
    engine = create_db_engine(f"sqlite:///{database}")
    yield engine
    engine.dispose()


def test_each_shipment_has_its_own_eta_history(engine: Engine) -> None:
    with engine.connect() as connection:
        histories = [
            eta_reads.eta_history_document(connection, shipment_id=store.shipment_id(k))
            for k in range(3)
        ]
    points = [h["points"] if h else [] for h in histories]
    assert [len(p) for p in points] == [store.ETA_REPORTS_PER_SHIPMENT] * 3
    ids = [{point["event_id"] for point in p} for p in points]
    assert not ids[0] & ids[1] and not ids[1] & ids[2]
    estimates = [datetime.fromisoformat(point["estimate"]) for point in points[1]]
    assert estimates == sorted(estimates) and len(set(estimates)) == len(estimates)


def test_the_tracking_page_reads_milestones_containers_and_estimates(engine: Engine) -> None:
    with Session(engine) as session:
        facts = tracking_facts(session, shipment_id=store.shipment_id(1))
    assert facts is not None
    assert [m.milestone for m in facts.milestones] == list(store.MILESTONES)
    assert len(facts.containers) == store.CONTAINERS_PER_SHIPMENT
    assert len(facts.eta_estimates) == store.ETA_REPORTS_PER_SHIPMENT
