"""The counts of events that never settle, which `/metrics` reports (`app.store.metric_counts`,
kept in `event_tally` by triggers on `event`, migration 0014), stay what counting the log says:
after inserts, status changes both ways (a failure redriven, an ignored event rerun), the mark of
reconciliation cleared, a delete, and writers inserting and failing events concurrently. On SQLite
and on PostgreSQL (FLEXHOOK_TEST_DATABASE=postgresql)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from app.store import metric_counts
from app.store.models import EventRecord

NOW = datetime(2026, 3, 20, 12, tzinfo=UTC)
UNKNOWN = "shipment.carbon_report"  # a type Flexport might add later
WRITERS = 6
EVENTS_EACH = 5


def event_row(event_id: str, **changes: Any) -> EventRecord:
    values: dict[str, Any] = {
        "event_id": event_id,
        "type": "/shipment_event#milestone",
        "category": "milestone",
        "name": "Departed",
        "shipment_id": "SHP-1",
        "received_at": NOW,
        "status": "processing",
        "workflow_id": f"event-{event_id}",
        **changes,
    }
    return EventRecord(**values)


def add(engine: Engine, *rows: EventRecord) -> None:
    with Session(engine) as session:
        session.add_all(rows)
        session.commit()


def change(engine: Engine, event_id: str, **values: Any) -> None:
    with Session(engine) as session:
        row = session.get(EventRecord, event_id)
        assert row is not None
        for name, value in values.items():
            setattr(row, name, value)
        session.add(row)
        session.commit()


def reported(engine: Engine) -> dict[str, Any]:
    with Session(engine) as session:
        return {
            "events": metric_counts.count_unsettled_events(session),
            "unknown_types": metric_counts.count_unknown_types(session),
            "reconciled": metric_counts.count_reconciled_events(session),
        }


def in_the_log(engine: Engine) -> dict[str, Any]:
    """What counting every logged event says."""
    event = EventRecord
    with Session(engine) as session:
        statuses = session.exec(
            select(event.status, func.count())
            .where(event.status != "processed")
            .group_by(col(event.status))
        ).all()
        unknown = session.exec(
            select(event.type, func.count())
            .where(event.category == "other")
            .group_by(col(event.type))
        ).all()
        reconciled = session.exec(
            select(func.count()).select_from(event).where(event.source == "reconcile")
        ).one()
    return {
        "events": {status: n for status, n in statuses},
        "unknown_types": {event_type: n for event_type, n in unknown},
        "reconciled": reconciled,
    }


def test_the_counts_follow_every_write_to_the_log(engine: Engine) -> None:
    nothing = {"events": {}, "unknown_types": {}, "reconciled": 0}
    assert reported(engine) == in_the_log(engine) == nothing
    add(
        engine,
        event_row("known-1", status="processed"),
        event_row("known-2", status="failed", error="boom"),
        event_row("unknown-1", type=UNKNOWN, category="other", status="ignored"),
        event_row("unknown-2", type=UNKNOWN, category="other", status="ignored"),
        event_row("unknown-3", type="x.other", category="other", status="ignored"),
        event_row("missed-1", status="queued", source="reconcile"),
    )
    assert reported(engine) == in_the_log(engine)

    change(engine, "known-2", status="processing")  # redriven
    change(engine, "known-2", status="processed", error=None)
    change(engine, "unknown-1", status="processing")  # rerun once the type is known
    change(engine, "missed-1", status="failed", source=None)  # the claim given back
    with Session(engine) as session:
        gone = session.get(EventRecord, "unknown-2")
        session.delete(gone)
        session.commit()

    counts = reported(engine)
    assert counts == in_the_log(engine)
    assert counts == {
        "events": {"ignored": 1, "processing": 1, "failed": 1},
        "unknown_types": {UNKNOWN: 1, "x.other": 1},
        "reconciled": 0,
    }


def test_concurrent_writers_all_count(engine: Engine) -> None:
    gate = threading.Barrier(WRITERS)
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            gate.wait()  # every writer's first event finds no tally row of its kind
            for k in range(EVENTS_EACH):
                unknown = event_row(f"u-{n}-{k}", type=UNKNOWN, category="other", status="ignored")
                add(engine, unknown, event_row(f"f-{n}-{k}"))
                change(engine, f"f-{n}-{k}", status="failed")
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    counts = reported(engine)
    assert counts == in_the_log(engine)
    total = WRITERS * EVENTS_EACH
    assert counts["events"] == {"ignored": total, "failed": total}
    assert counts["unknown_types"] == {UNKNOWN: total}
