"""Exceptions from events: `process_event` records what an event opens and clears in the event's
own transaction (a redelivery adds nothing, an ignored type opens nothing), its problem alerts
carry the exception's id, and each exception touched hears `changed` after the commit."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from activities.delivery import NotificationActivities
from activities.eta_watch import EtaWatchActivities
from activities.exceptions import ExceptionRules
from activities.processing import EventActivities
from activities.types import EtaMissedInput, ProcessedEvent, ProcessEventInput
from app.core.ids import event_workflow_id
from app.store import db
from app.store.exception_models import ExceptionEntry, ShipmentExceptionRow
from notifications.destinations import NotifyConfig
from notifications.notifier import Notifier
from notifications.render import Renderer
from tests.helpers import load_sample

HOLD_TYPE = "/shipment#customs_agriculture_hold"


class RecordingWatch:
    """An `ExceptionWatchFeed` that keeps the ids it was told."""

    def __init__(self) -> None:
        self.told: list[int] = []

    def changed(self, exception_id: int) -> None:
        self.told.append(exception_id)


@pytest.fixture
def engine(cli_database: str) -> Iterator[Engine]:
    engine = db.create_db_engine(cli_database)
    yield engine
    engine.dispose()


def event_body(prefix: str, *, event_type: str | None = None, event_id: str | None = None) -> str:
    payload: dict[str, Any] = load_sample(prefix)
    if event_type is not None:
        payload["type"] = event_type
    if event_id is not None:
        payload["id"] = event_id
    return json.dumps(payload)


def process(
    engine: Engine, body: str, watch: RecordingWatch, rules: ExceptionRules | None = None
) -> ProcessedEvent:
    notifications = NotificationActivities(engine, Notifier(Renderer()), config=NotifyConfig(None))
    processing = EventActivities(
        engine, notifications, eta_slip_hours=24.0, exception_rules=rules, exception_watch=watch
    )
    event_id = json.loads(body)["id"]
    return processing.process_event(
        ProcessEventInput(
            event_id=str(event_id),
            body=body,
            workflow_id=event_workflow_id(str(event_id)),
            received_at=datetime.now(UTC).isoformat(),
        )
    )


def rows(engine: Engine) -> list[ShipmentExceptionRow]:
    with Session(engine) as session:
        return list(session.exec(select(ShipmentExceptionRow)).all())


def timeline(engine: Engine, exception_id: int) -> list[tuple[str, str]]:
    with Session(engine) as session:
        entries = session.exec(
            select(ExceptionEntry).where(ExceptionEntry.exception_id == exception_id)
        ).all()
        return [(e.who, e.what) for e in entries]


def test_a_customs_hold_opens_an_exception_its_alert_names_and_its_watch_hears(
    engine: Engine,
) -> None:
    watch = RecordingWatch()
    hold = event_body("01_shipment_created", event_type=HOLD_TYPE, event_id="hold-1")

    processed = process(engine, hold, watch)

    [row] = rows(engine)
    assert (row.family, row.severity, row.state, row.occurrences) == (
        "customs_hold",
        "critical",
        "open",
        1,
    )
    assert [alert.kind for alert in processed.outcome.alerts] == ["customs"]
    assert processed.outcome.alerts[0].exception_id == row.id
    assert watch.told == [row.id]
    assert timeline(engine, row.id or 0) == [("flexport:hold-1", "opened")]


def test_a_redelivered_hold_adds_nothing_and_tells_the_watch_again(engine: Engine) -> None:
    watch = RecordingWatch()
    hold = event_body("01_shipment_created", event_type=HOLD_TYPE, event_id="hold-1")

    process(engine, hold, watch)
    again = process(engine, hold, watch)

    [row] = rows(engine)
    assert (row.occurrences, row.version) == (1, 1)
    assert again.outcome.alerts[0].exception_id == row.id
    assert timeline(engine, row.id or 0) == [("flexport:hold-1", "opened")]
    assert watch.told == [row.id, row.id]  # a lost first signal is made good


def test_a_second_report_is_an_occurrence_and_the_release_resolves_it(engine: Engine) -> None:
    watch = RecordingWatch()
    process(engine, event_body("01_shipment_created", event_type=HOLD_TYPE, event_id="h1"), watch)
    second = event_body("01_shipment_created", event_type=HOLD_TYPE, event_id="h2")
    repeated = process(engine, second, watch)
    [row] = rows(engine)
    assert row.occurrences == 2
    # The same hold reported again alerts nobody again: it is an occurrence in the inbox.
    assert repeated.outcome.alerts == []
    assert process(engine, second, watch).outcome.alerts == []  # nor when processed again

    released = process(engine, event_body("11_customs_released", event_id="rel-1"), watch)

    [row] = rows(engine)
    assert (row.state, row.resolved_by) == ("resolved", "flexport:rel-1")
    assert all(alert.exception_id is None for alert in released.outcome.alerts)
    assert watch.told == [row.id] * 4


def test_a_hold_that_recurs_after_its_release_alerts_again(engine: Engine) -> None:
    watch = RecordingWatch()
    process(engine, event_body("01_shipment_created", event_type=HOLD_TYPE, event_id="h1"), watch)
    process(engine, event_body("11_customs_released", event_id="rel-1"), watch)
    later = json.loads(event_body("01_shipment_created", event_type=HOLD_TYPE, event_id="h2"))
    later["occurred_at"] = "2026-03-20T08:00:00.000Z"  # after the release

    recurred = process(engine, json.dumps(later), watch)

    [row] = rows(engine)
    assert (row.state, row.recurrences) == ("open", 1)
    [hold_alert] = [alert for alert in recurred.outcome.alerts if alert.kind == "customs"]
    assert hold_alert.exception_id == row.id


def test_an_event_that_is_no_problem_opens_nothing_and_tells_nobody(engine: Engine) -> None:
    watch = RecordingWatch()

    process(engine, event_body("06_leg_departed"), watch)
    process(engine, event_body("01_shipment_created", event_type="/shipment#no_such_thing"), watch)

    assert rows(engine) == []
    assert watch.told == []


def test_the_severity_setting_decides_a_new_exceptions_severity(engine: Engine) -> None:
    rules = ExceptionRules(severities={"customs_hold": "low"})
    hold = event_body("01_shipment_created", event_type=HOLD_TYPE, event_id="hold-1")

    process(engine, hold, RecordingWatch(), rules)

    [row] = rows(engine)
    assert (row.severity, row.severity_rank) == ("low", 3)


def test_a_missed_eta_opens_a_missed_eta_exception_once_and_tells_its_watch(
    engine: Engine,
) -> None:
    watch = RecordingWatch()
    process(engine, event_body("01_shipment_created"), watch)
    notifications = NotificationActivities(engine, Notifier(Renderer()), config=NotifyConfig(None))
    activities = EtaWatchActivities(engine, notifications, exception_watch=watch)
    missed = EtaMissedInput(
        shipment_id="418563",
        estimated_arrival="2026-03-20T08:00:00+00:00",
        stamp="2026-03-05T17:44:11.004000|e-eta",
        event_id="e-eta",
        observed_at="2026-03-20T14:00:00+00:00",
    )

    activities.alert_eta_missed(missed)
    activities.alert_eta_missed(missed)  # a retried activity

    [row] = rows(engine)
    assert (row.family, row.state, row.occurrences) == ("missed_eta", "open", 1)
    assert timeline(engine, row.id or 0) == [("system", "opened")]
    assert watch.told == [row.id, row.id]


def test_an_arrival_reported_after_the_grace_settles_the_missed_eta_it_came_after(
    engine: Engine,
) -> None:
    """The ETA announced on 03-05 (sample 07) passed and the grace ran out on 03-15 at 18:00
    with no arrival known: flexhook reported it missed. Flexport's arrival, which happened at
    12:42 that day, came in later still. It resolves the missed ETA, as the ETA watch would have
    had it come in time; its redelivery changes nothing."""
    watch = RecordingWatch()
    process(engine, event_body("01_shipment_created"), watch)
    notifications = NotificationActivities(engine, Notifier(Renderer()), config=NotifyConfig(None))
    activities = EtaWatchActivities(engine, notifications, exception_watch=watch)
    activities.alert_eta_missed(
        EtaMissedInput(
            shipment_id="418563",
            estimated_arrival="2026-03-15T06:00:00+00:00",
            stamp="2026-03-05T17:44:11.004000|48290377",
            event_id="48290377",
            observed_at="2026-03-15T18:00:00+00:00",
        )
    )

    arrived = event_body("09_leg_arrived")  # arrived 2026-03-15T12:42Z
    process(engine, arrived, watch)
    process(engine, arrived, watch)  # redelivered

    [row] = rows(engine)
    assert (row.state, row.resolved_by) == ("resolved", "flexport:48301288")
    assert timeline(engine, row.id or 0) == [
        ("system", "opened"),
        ("flexport:48301288", "resolved"),
    ]
