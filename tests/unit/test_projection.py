"""Records as projections of events: replaying shipment 418563 in any order, idempotently.

Every test uses its own SQLite file; each delivery is recorded and applied in its own
transactions, as the web process and the worker do.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, select

import app
from activities.processing import apply_and_decide
from app.core.errors import EventDataError
from app.core.events import parse_event
from app.core.outcome import EventOutcome
from app.store import reads
from app.store.db import create_db_engine, upgrade
from app.store.models import (
    Booking,
    Container,
    Document,
    EventRecord,
    Invoice,
    Milestone,
    PurchaseOrder,
    Shipment,
)
from app.store.projection import apply_event, mark_failed, record_event
from tests.helpers import deliver

SAMPLES = sorted((Path(app.__file__).parent / "samples").glob("*.json"))
SHIPMENT_ID = "418563"


def _is_journey(path: Path) -> bool:
    event = parse_event(path.read_bytes())
    return event.format == "flexport" and event.shipment_id == SHIPMENT_ID


# The Flexport-format deliveries about shipment 418563, in file (and roughly time) order.
JOURNEY = [path for path in SAMPLES if _is_journey(path)]
RECORD_TABLES = (Shipment, Container, Invoice, Document, Booking, PurchaseOrder)
ORDERS = ["file", "reversed", *(f"seed-{seed}" for seed in (1, 2, 3, 4, 5))]


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def journey_in(order: str) -> list[Path]:
    paths = list(JOURNEY)
    if order == "reversed":
        paths.reverse()
    elif order.startswith("seed-"):
        random.Random(int(order.removeprefix("seed-"))).shuffle(paths)
    return paths


def new_engine(path: Path) -> Engine:
    engine = create_db_engine(f"sqlite:///{path}")
    upgrade(engine)
    return engine


@pytest.fixture
def make_engine(tmp_path: Path) -> Iterator[Callable[[str], Engine]]:
    """Engines on fresh SQLite files in `tmp_path`, disposed after the test."""
    engines: list[Engine] = []

    def make(name: str = "flexhook") -> Engine:
        engines.append(new_engine(tmp_path / f"{name}.db"))
        return engines[-1]

    yield make
    for engine in engines:
        engine.dispose()


@pytest.fixture
def engine(make_engine: Callable[[str], Engine]) -> Engine:
    return make_engine("flexhook")


def record(engine: Engine, body: bytes, *, workflow_id: str | None = None) -> str:
    """What the web process does: log the delivery. Returns the event id."""
    event = parse_event(body)
    with Session(engine) as session:
        record_event(
            session,
            event=event,
            body=body.decode("utf-8"),
            workflow_id=workflow_id or f"event-{event.event_id}",
            received_at=datetime.now(UTC),
        )
        session.commit()
    return event.event_id


def apply(engine: Engine, event_id: str) -> EventOutcome:
    """Project a logged event onto the records again, and decide its alerts, in a transaction
    of its own (the first shape's `apply_event`: applying an event twice changes nothing)."""
    with Session(engine) as session:
        outcome = apply_and_decide(
            session, event_id=event_id, now=datetime.now(UTC), eta_slip_hours=24.0, event=None
        )
        session.commit()
    return outcome


def replay(engine: Engine, paths: list[Path]) -> list[EventOutcome]:
    return [deliver(engine, path.read_bytes()) for path in paths]


def event_status(engine: Engine, event_id: str) -> str:
    with Session(engine) as session:
        row = session.get(EventRecord, event_id)
        assert row is not None
        return row.status


def shipment(engine: Engine) -> Shipment:
    with Session(engine) as session:
        row = session.get(Shipment, SHIPMENT_ID)
        assert row is not None
        return row


def records(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    """Every record row, without the bookkeeping that depends on when it was written."""
    with Session(engine) as session:
        return {
            model.__name__: sorted(
                (
                    # The shipment's document holds its `updated_at`: compared on its own.
                    row.model_dump(exclude={"updated_at", "versions", "document"})
                    for row in session.exec(select(model))
                ),
                key=repr,
            )
            for model in RECORD_TABLES
        }


def stored_document(engine: Engine) -> Any:
    """The shipment's document as kept with it (what `GET /api/shipments/{id}` sends)."""
    document = shipment(engine).document
    assert document is not None
    return json.loads(document)


def live_document(engine: Engine) -> Any:
    """The same document built from the rows now."""
    with engine.connect() as connection:
        return reads.get_shipment(connection, shipment_id=SHIPMENT_ID)


def milestones(engine: Engine) -> set[tuple[str, str, datetime | None]]:
    with Session(engine) as session:
        return {(m.event_id, m.milestone, m.occurred_at) for m in session.exec(select(Milestone))}


def late_flags(engine: Engine) -> dict[str, bool]:
    with Session(engine) as session:
        return {m.event_id: m.late for m in session.exec(select(Milestone))}


def database(engine: Engine) -> dict[str, list[Any]]:
    """Every row of every table, as stored."""
    with engine.connect() as connection:
        return {
            table.name: sorted(
                (tuple(row) for row in connection.execute(sa.select(table))), key=repr
            )
            for table in SQLModel.metadata.sorted_tables
        }


# -- the whole journey --------------------------------------------------------------------------


def test_the_journey_is_the_flexport_samples_of_shipment_418563() -> None:
    assert [p.name[:2] for p in JOURNEY] == [
        "01", "04", "05", "06", "07", "09", "11", "13", "14", "15", "16", "18", "19"
    ]  # fmt: skip


@pytest.fixture(scope="module")
def in_file_order(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engine = new_engine(tmp_path_factory.mktemp("file-order") / "flexhook.db")
    replay(engine, JOURNEY)
    yield engine
    engine.dispose()


@pytest.mark.parametrize("order", ORDERS)
def test_any_delivery_order_gives_the_same_records(
    in_file_order: Engine, make_engine: Callable[[str], Engine], order: str
) -> None:
    engine = make_engine(order)

    outcomes = replay(engine, journey_in(order))

    assert {o.status for o in outcomes} == {"processed"}
    assert records(engine) == records(in_file_order)
    assert milestones(engine) == milestones(in_file_order)
    assert late_flags(engine).keys() == late_flags(in_file_order).keys()
    assert stored_document(engine) == live_document(engine)


def test_in_file_order_no_milestone_is_late(in_file_order: Engine) -> None:
    assert late_flags(in_file_order)
    assert not any(late_flags(in_file_order).values())


def test_in_reverse_order_earlier_milestones_are_late(
    make_engine: Callable[[str], Engine],
) -> None:
    engine = make_engine("reversed")

    replay(engine, journey_in("reversed"))

    late = late_flags(engine)
    assert late["48262090"]  # departed, after delivered was known
    assert late["48301288"]  # arrived


def test_the_journey_ends_delivered(in_file_order: Engine) -> None:
    final = shipment(in_file_order)

    assert final.status == "delivered"
    assert final.status_at == utc("2026-03-17T18:02:00")
    assert final.name == "SS26 Apparel - Yantian to LA #3"
    assert final.transportation_mode == "ocean"
    assert final.estimated_departure == utc("2026-02-26T10:00:00")
    assert final.actual_departure == utc("2026-02-26T13:20:00")
    assert final.estimated_arrival == utc("2026-03-15T13:00:00")
    assert final.previous_estimated_arrival == utc("2026-03-13T15:00:00")
    assert final.actual_arrival == utc("2026-03-15T12:42:00")
    assert final.delivered_at == utc("2026-03-17T18:02:00")


def test_the_journey_ends_at_the_delivery_place(in_file_order: Engine) -> None:
    final = shipment(in_file_order)

    # Not Los Angeles, where the empty container went back two days later (sample 18).
    assert final.location_name == "Acme Outfitters DC - Ontario"
    assert (final.location_country, final.location_timezone) == ("US", "America/Los_Angeles")


def test_the_journey_ends_without_the_ports_unlocode(in_file_order: Engine) -> None:
    assert shipment(in_file_order).location_unlocode is None


def test_the_journey_milestones(in_file_order: Engine) -> None:
    assert sorted((m, when) for _, m, when in milestones(in_file_order)) == [
        ("arrived", utc("2026-03-15T12:42:00")),
        ("customs_cleared", utc("2026-03-16T01:20:00")),
        ("delivered", utc("2026-03-17T18:02:00")),
        ("delivered", utc("2026-03-17T18:02:00")),
        ("departed", utc("2026-02-26T13:20:00")),
        ("out_for_delivery", utc("2026-03-17T14:25:00")),
    ]


def test_the_journey_records(in_file_order: Engine) -> None:
    with Session(in_file_order) as session:
        container = session.get(Container, "CSNU7261843")
        invoice = session.get(Invoice, "q7Xk2LpRTu-9vWc0aB1n3g")
        document = session.get(Document, "Hf3kQ9ZrT2mWx8")
        booking = session.get(Booking, "287114")

    assert container is not None
    assert (container.last_event, container.last_event_at) == (
        "empty_returned",
        utc("2026-03-19T21:40:00"),
    )
    assert container.empty_returned == date(2026, 3, 19)
    assert container.shipment_id == SHIPMENT_ID
    assert invoice is not None
    assert (invoice.amount, invoice.currency, invoice.status) == ("6840.00", "USD", "outstanding")
    assert document is not None
    assert document.document_type == "house_bill_of_lading"
    assert booking is not None
    assert (booking.shipment_id, booking.cargo_ready_date) == (SHIPMENT_ID, date(2026, 2, 20))


# -- the shipment's location --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("where_it_is", "later"),
    [("06", "07"), ("15", "18")],
    ids=["eta-update-at-sea", "container-returned-after-delivery"],
)
def test_only_milestones_move_the_shipment(
    engine: Engine, sample: Callable[[str], bytes], where_it_is: str, later: str
) -> None:
    deliver(engine, sample(where_it_is))
    before = shipment(engine).location_name

    deliver(engine, sample(later))

    assert shipment(engine).location_name == before


def test_a_new_location_replaces_the_whole_old_one(
    engine: Engine, sample: Callable[[str], bytes]
) -> None:
    deliver(engine, sample("13"))  # out for delivery, Los Angeles (USLAX)
    deliver(engine, sample("14"))  # delivered at the DC, which has no unlocode

    final = shipment(engine)
    assert final.location_name == "Acme Outfitters DC - Ontario"
    assert final.location_unlocode is None


# -- idempotence --------------------------------------------------------------------------------


def test_a_repeated_delivery_changes_nothing(
    engine: Engine, sample: Callable[[str], bytes]
) -> None:
    replay(engine, JOURNEY)
    before = database(engine)

    outcome = deliver(engine, sample("06"))

    assert database(engine) == before
    assert outcome.status == "processed"
    assert event_status(engine, outcome.event_id) == "processed"


def test_projecting_an_event_again_changes_no_record(
    engine: Engine, sample: Callable[[str], bytes]
) -> None:
    replay(engine, JOURNEY)
    before = database(engine)
    del before["event"]  # the log itself: its status and alerts are rewritten by design

    # Project again events whose facts were already applied (and newer ones since).
    for prefix in ("06", "07", "15", "16", "18", "19"):
        event_id = str(json.loads(sample(prefix))["id"])
        with Session(engine) as session:
            row = session.get(EventRecord, event_id)
            assert row is not None
            row.status = "processing"
            session.add(row)
            session.commit()
        assert apply(engine, event_id).status == "processed"

    after = database(engine)
    del after["event"]
    assert after == before


# -- late and unknown events --------------------------------------------------------------------


def test_a_departure_learned_after_the_arrival_is_late(
    engine: Engine, sample: Callable[[str], bytes]
) -> None:
    deliver(engine, sample("09"))

    outcome = deliver(engine, sample("06"))

    assert outcome.late
    assert late_flags(engine) == {"48301288": False, "48262090": True}
    final = shipment(engine)
    assert (final.status, final.status_at) == ("arrived", utc("2026-03-15T12:42:00"))
    assert final.actual_departure == utc("2026-02-26T13:20:00")


def test_a_repeated_late_delivery_is_still_reported_late(
    engine: Engine, sample: Callable[[str], bytes]
) -> None:
    deliver(engine, sample("09"))
    deliver(engine, sample("06"))

    assert deliver(engine, sample("06")).late


def test_an_unknown_type_is_logged_and_ignored(engine: Engine) -> None:
    body = json.dumps(
        {
            "_object": "/event",
            "id": 99000001,
            "type": "/shipment#something_new",
            "occurred_at": "2026-03-01T00:00:00Z",
            "data": {"resource": {"_object": "/shipment", "id": 555}},
        }
    ).encode()

    outcome = deliver(engine, body)

    assert outcome.status == "ignored"
    assert event_status(engine, "99000001") == "ignored"
    with Session(engine) as session:
        assert session.get(Shipment, "555") is None


def test_a_failed_event_can_be_recorded_again(
    engine: Engine, sample: Callable[[str], bytes]
) -> None:
    event_id = record(engine, sample("06"), workflow_id="first-run")
    with Session(engine) as session:
        mark_failed(session, event_id=event_id, error="database was down")
        session.commit()
    assert event_status(engine, event_id) == "failed"

    record(engine, sample("06"), workflow_id="second-run")

    with Session(engine) as session:
        row = session.get(EventRecord, event_id)
        assert row is not None
        assert (row.status, row.workflow_id) == ("processing", "second-run")
    assert apply(engine, event_id).status == "processed"
    with Session(engine) as session:
        row = session.get(EventRecord, event_id)
        assert row is not None
        assert (row.status, row.error) == ("processed", None)


def test_a_processed_event_cannot_be_marked_failed(
    engine: Engine, sample: Callable[[str], bytes]
) -> None:
    event_id = deliver(engine, sample("06")).event_id
    with Session(engine) as session:
        mark_failed(session, event_id=event_id, error="late failure report")
        session.commit()

    assert event_status(engine, event_id) == "processed"


def test_a_recorded_event_keeps_its_first_run(
    engine: Engine, sample: Callable[[str], bytes]
) -> None:
    event_id = record(engine, sample("06"), workflow_id="first-run")

    record(engine, sample("06"), workflow_id="second-run")

    with Session(engine) as session:
        row = session.get(EventRecord, event_id)
        assert row is not None
        assert (row.status, row.workflow_id) == ("processing", "first-run")


def test_applying_an_unrecorded_event_is_a_lookup_error(engine: Engine) -> None:
    with pytest.raises(LookupError), Session(engine) as session:
        apply_event(session, event_id="never-recorded", now=datetime.now(UTC))


def test_an_unreadable_timestamp_is_recorded_and_fails_on_apply(engine: Engine) -> None:
    body = b'{"id": 7, "type": "/shipment_leg#departed", "occurred_at": "soon"}'

    event_id = record(engine, body)

    with Session(engine) as session:
        row = session.get(EventRecord, event_id)
        assert row is not None
        assert (row.status, row.occurred_at) == ("processing", None)
    with pytest.raises(EventDataError):
        apply(engine, event_id)


# -- compact events -----------------------------------------------------------------------------


def test_a_compact_eta_update_carries_its_previous_eta(
    engine: Engine, sample: Callable[[str], bytes]
) -> None:
    deliver(engine, sample("22"))

    final = shipment(engine)
    assert final.estimated_arrival == utc("2026-03-15T13:00:00")
    assert final.previous_estimated_arrival == utc("2026-03-13T15:00:00")


def test_compact_records(engine: Engine, sample: Callable[[str], bytes]) -> None:
    for prefix in ("21", "23", "24", "25", "26", "27"):
        assert deliver(engine, sample(prefix)).status == "processed"

    with Session(engine) as session:
        booking = session.get(Booking, "BK-287114")
        order = session.get(PurchaseOrder, "771204")
        invoice = session.get(Invoice, "FLEX-418563-1")
        container = session.get(Container, "CSNU7261843")
    assert booking is not None and booking.status == "confirmed"
    assert order is not None and order.buyer == "Acme Outfitters Inc."
    assert invoice is not None and invoice.amount == "4820.55"
    assert container is not None and container.last_event == "loaded"
    assert shipment(engine).status == "departed"


def unknown_type(sample: Callable[[str], bytes], *, event_id: int, occurred_at: str) -> bytes:
    """The departure sample under a type Flexport might add later, with a renamed shipment."""
    payload = json.loads(sample("06"))
    payload.update(id=event_id, type="/shipment#drone_sighted", occurred_at=occurred_at)
    payload["data"]["shipment"]["name"] = "SS26 apparel (renamed)"
    return json.dumps(payload).encode()


def test_an_unknown_type_still_refreshes_the_shipment_details_when_newer(
    engine: Engine, sample: Callable[[str], bytes]
) -> None:
    replay(engine, [sample_path for sample_path in SAMPLES if sample_path.name[:2] in ("01", "06")])
    before = shipment(engine)

    outcome = deliver(
        engine, unknown_type(sample, event_id=99000002, occurred_at="2026-03-30T00:00:00Z")
    )

    after = shipment(engine)
    assert outcome.status == "ignored"
    assert after.name == "SS26 apparel (renamed)"
    # Its status, place and ETA are the known events' to set.
    assert (after.status, after.location_name, after.estimated_arrival) == (
        before.status,
        before.location_name,
        before.estimated_arrival,
    )


def test_an_older_unknown_event_does_not_move_the_details_back(
    engine: Engine, sample: Callable[[str], bytes]
) -> None:
    replay(engine, [sample_path for sample_path in SAMPLES if sample_path.name[:2] in ("01", "06")])
    name = shipment(engine).name

    deliver(engine, unknown_type(sample, event_id=99000003, occurred_at="2026-01-01T00:00:00Z"))

    assert shipment(engine).name == name != "SS26 apparel (renamed)"


def redelivered_as(body: bytes, *, event_id: int, shift_minutes: int = 0) -> bytes:
    """The same departure under a new event id, its time moved by `shift_minutes`."""
    payload = json.loads(body)
    payload["id"] = event_id
    occurred = datetime.fromisoformat(payload["occurred_at"].replace("Z", "+00:00"))
    payload["occurred_at"] = (occurred + timedelta(minutes=shift_minutes)).isoformat()
    return json.dumps(payload).encode()


class TestOneAlertPerFact:
    def test_the_same_departure_under_a_new_id_is_recorded_and_alerts_nobody(
        self, engine: Engine, sample: Callable[[str], bytes]
    ) -> None:
        first = deliver(engine, sample("06"))
        again = deliver(engine, redelivered_as(sample("06"), event_id=99100001, shift_minutes=20))

        assert [a.kind for a in first.alerts] == ["departed"]
        assert again.status == "processed"
        assert again.alerts == []
        with Session(engine) as session:
            milestones = session.exec(
                select(Milestone).where(Milestone.shipment_id == SHIPMENT_ID)
            ).all()
        assert {m.event_id for m in milestones} >= {"48262090", "99100001"}

    def test_a_departure_moved_by_hours_alerts_once_as_a_correction(
        self, engine: Engine, sample: Callable[[str], bytes]
    ) -> None:
        deliver(engine, sample("06"))
        moved = redelivered_as(sample("06"), event_id=99100002, shift_minutes=180)

        corrected = deliver(engine, moved)
        replayed = apply(engine, "99100002")

        [alert] = corrected.alerts
        assert alert.kind == "departed"
        assert "time corrected" in alert.headline
        assert replayed.alerts == corrected.alerts  # applying it again decides nothing new
