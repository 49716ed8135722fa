"""The ETA history's reads over a real SQLite database filled by the worker's own processing
(`tests.helpers.deliver`): one shipment's observations only, None for no shipment, and made-up
dates at the ends of the calendar served and charted rather than failing the page."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.store import dashboard_reads, eta_reads
from app.store.db import create_db_engine, upgrade
from tests.helpers import deliver
from tests.unit.test_eta_history import eta_event


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'flexhook.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


def for_other_shipment(body: bytes, shipment_id: int) -> bytes:
    """An ETA update of `eta_event` about another shipment."""
    payload = json.loads(body)
    data = payload["data"]
    for reference in (data["shipment"], data["resource"]["shipment"]):
        reference["id"] = shipment_id
    for container in data["containers"]:
        container["shipment"]["id"] = shipment_id
    return json.dumps(payload).encode()


def test_a_shipment_reads_its_own_observations_only(engine: Engine) -> None:
    deliver(engine, eta_event(1, "2026-03-05T00:00:00Z", "2026-03-15T00:00:00Z"))
    other = eta_event(2, "2026-03-06T00:00:00Z", "2026-03-25T00:00:00Z")
    deliver(engine, for_other_shipment(other, 777001))
    with engine.connect() as connection:
        ours = eta_reads.eta_history_document(connection, shipment_id="418563")
        theirs = eta_reads.eta_history_document(connection, shipment_id="777001")
        nobody = eta_reads.eta_history_document(connection, shipment_id="404404")
    assert ours == {
        "points": [
            {
                "estimate": "2026-03-15T00:00:00+00:00",
                "reported_at": "2026-03-05T00:00:00+00:00",
                "event_id": "1",
            }
        ]
    }
    assert theirs is not None and [p["event_id"] for p in theirs["points"]] == ["2"]
    assert nobody is None


def test_dates_at_the_ends_of_the_calendar_are_served_and_charted(engine: Engine) -> None:
    deliver(engine, eta_event(1, "0001-01-01T00:30:00Z", "0001-01-02T00:00:00Z"))
    deliver(engine, eta_event(2, "2026-03-06T00:00:00Z", "9999-12-31T23:59:59.999999Z"))
    with engine.connect() as connection:
        history = eta_reads.eta_history_document(connection, shipment_id="418563")
    assert history is not None
    assert [p["reported_at"] for p in history["points"]] == [
        "0001-01-01T00:30:00+00:00",
        "2026-03-06T00:00:00+00:00",
    ]
    with Session(engine) as session:
        page = dashboard_reads.get_shipment_page(session, shipment_id="418563")
    assert page is not None and page.eta_chart is not None
    assert page.eta_chart.slip == "+3652058.0 days"
