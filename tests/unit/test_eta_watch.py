"""The ETA watch without a server: what an applied event tells the watch (news only), the ETA
fields of an event's outcome, and the `eta_missed` alert itself."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from activities.eta_watch import missed_alert, tell_watch
from activities.types import EtaMissedInput
from app.core.ids import eta_watch_workflow_id
from app.core.outcome import EventOutcome
from app.store.db import create_db_engine, upgrade
from app.store.models import Shipment
from tests.helpers import deliver
from workflows.eta_watch import deadline
from workflows.types import EtaUpdate

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
GRACE = timedelta(hours=6)


class RecordingFeed:
    """An `EtaWatchFeed` that keeps what it was told."""

    def __init__(self) -> None:
        self.told: list[tuple[str, dict[str, Any]]] = []

    def watch(self, **values: Any) -> None:
        self.told.append(("watch", values))

    def end(self, **values: Any) -> None:
        self.told.append(("end", values))


def outcome(**changes: Any) -> EventOutcome:
    """An applied ETA event of shipment 418563 that moved the ETA to a day from `NOW`."""
    values: dict[str, Any] = {
        "event_id": "e1",
        "status": "processed",
        "category": "milestone",
        "shipment_id": "418563",
        "estimated_arrival": (NOW + timedelta(days=1)).isoformat(),
        "eta_stamp": "2026-03-10T11:00:00.000000|e1",
        "eta_changed": True,
    }
    return EventOutcome(**{**values, **changes})


def told(applied: EventOutcome) -> list[tuple[str, dict[str, Any]]]:
    feed = RecordingFeed()
    tell_watch(feed, applied, grace=GRACE, now=NOW)
    return feed.told


def test_a_moved_eta_is_watched_with_its_stamp_and_grace() -> None:
    assert told(outcome()) == [
        (
            "watch",
            {
                "shipment_id": "418563",
                "estimated_arrival": "2026-03-11T12:00:00+00:00",
                "stamp": "2026-03-10T11:00:00.000000|e1",
                "event_id": "e1",
                "grace": GRACE,
            },
        )
    ]


def test_an_arrival_or_a_delivery_ends_the_watch() -> None:
    for milestone in ("arrived", "delivered"):
        assert told(outcome(milestone=milestone)) == [
            ("end", {"shipment_id": "418563", "event_id": "e1", "milestone": milestone})
        ]


@pytest.mark.parametrize(
    "changes",
    [
        {"eta_changed": False},  # the same ETA again
        {"estimated_arrival": (NOW - GRACE).isoformat()},  # past its grace when learned
        {"late": True},  # older than the shipment's status: history
        {"late": True, "milestone": "arrived"},
        {"status": "ignored"},
        {"shipment_id": None},
        {"milestone": "departed", "estimated_arrival": None, "eta_stamp": None},
    ],
    ids=["unchanged", "already-past", "late", "late-arrival", "ignored", "no-shipment", "no-eta"],
)
def test_no_news_tells_the_watch_nothing(changes: dict[str, Any]) -> None:
    assert told(outcome(**changes)) == []


def test_the_watch_alerts_at_the_eta_plus_its_grace() -> None:
    update = EtaUpdate(
        estimated_arrival="2026-03-11T12:00:00+00:00",
        stamp="s",
        event_id="e1",
        grace_seconds=GRACE.total_seconds(),
    )
    assert deadline(update) == datetime(2026, 3, 11, 18, 0, tzinfo=UTC)
    assert eta_watch_workflow_id("418563") == "eta-watch-418563"


def test_the_missed_alert_says_the_eta_and_how_late_once_per_eta() -> None:
    missed = EtaMissedInput(
        shipment_id="418563",
        estimated_arrival="2026-03-11T05:00:00-07:00",
        stamp="s",
        event_id="e1",
        observed_at="2026-03-12T18:30:00+00:00",
    )
    shipment = Shipment(id="418563", name="SS26", location_name="Yantian", location_country="CN")

    alert = missed_alert(missed, shipment=shipment, event_type="shipment.eta_updated")

    assert (alert.kind, alert.headline) == ("eta_missed", "ETA passed, no arrival")
    assert alert.estimated_arrival == "2026-03-11T12:00:00+00:00"
    assert alert.late_hours == 30.5
    assert (alert.shipment_name, alert.place_name) == ("SS26", "Yantian")
    assert alert.dedup_key == "shipment-418563:eta_missed:2026-03-11T12:00:00+00:00"
    # Another event naming the same ETA, or the watch firing later, is the same alert.
    again = dataclasses.replace(missed, event_id="e2", observed_at="2026-03-13T00:00:00+00:00")
    assert missed_alert(again, shipment=None, event_type="").dedup_key == alert.dedup_key


# -- the ETA fields of an applied event's outcome --------------------------------------------------


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'flexhook.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


def eta_body(event_id: str, *, occurred_at: str, estimated_arrival: str) -> bytes:
    data = {
        "shipment_id": "418563",
        "estimated_arrival": estimated_arrival,
        "occurred_at": occurred_at,
    }
    return json.dumps({"id": event_id, "type": "shipment.eta_updated", "data": data}).encode()


def eta_fields(applied: EventOutcome) -> tuple[str | None, str | None, bool]:
    return applied.estimated_arrival, applied.eta_stamp, applied.eta_changed


def test_an_outcome_says_whether_its_event_set_the_eta(engine: Engine) -> None:
    first = eta_body(
        "a", occurred_at="2026-03-01T00:00:00Z", estimated_arrival="2026-03-13T08:00:00-07:00"
    )
    assert eta_fields(deliver(engine, first)) == (
        "2026-03-13T15:00:00+00:00",
        "2026-03-01T00:00:00.000000|a",
        True,
    )
    # Applied again (a retried activity): the same answer, so the watch is told again.
    assert eta_fields(deliver(engine, first)) == eta_fields(deliver(engine, first))
    assert deliver(engine, first).eta_changed is True

    same = eta_body(
        "b", occurred_at="2026-03-02T00:00:00Z", estimated_arrival="2026-03-13T15:00:00Z"
    )
    assert eta_fields(deliver(engine, same)) == (
        "2026-03-13T15:00:00+00:00",
        "2026-03-02T00:00:00.000000|b",
        False,
    )
    moved = eta_body(
        "c", occurred_at="2026-03-04T00:00:00Z", estimated_arrival="2026-03-15T03:00:00Z"
    )
    assert deliver(engine, moved).eta_changed is True
    # An older report arriving after the newer one sets nothing: the newer ETA stays.
    older = eta_body(
        "d", occurred_at="2026-03-03T00:00:00Z", estimated_arrival="2026-03-14T00:00:00Z"
    )
    assert eta_fields(deliver(engine, older)) == (
        "2026-03-15T03:00:00+00:00",
        "2026-03-04T00:00:00.000000|c",
        False,
    )
    # And the first event, retried now, no longer claims the ETA.
    assert deliver(engine, first).eta_changed is False
