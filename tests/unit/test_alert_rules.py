"""Which events alert, and how: news only, never history."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta

import pytest

from app.core.alert import Alert
from app.core.alert_rules import decide_alerts
from app.core.events import parse_event
from app.core.facts import Location
from app.core.flexport_types import CUSTOMS_HOLDS, REFERENCE
from app.core.outcome import ShipmentChange
from tests.helpers import read_sample

T = datetime(2026, 3, 16, 1, 20, tzinfo=UTC)


def event(type_: str, **data: object) -> bytes:
    return json.dumps({"id": "e1", "type": type_, "data": data}).encode()


def change(
    *, late: bool = False, before: datetime | None = None, after: datetime | None = None
) -> ShipmentChange:
    return ShipmentChange(
        shipment_id="418563",
        shipment_name="SS26",
        place=Location(name="Los Angeles, CA"),
        late=late,
        eta_before=before,
        eta_after=after,
    )


def kinds(body: bytes, **kwargs: object) -> list[tuple[str, str]]:
    parsed = parse_event(body)
    alerts = decide_alerts(
        parsed,
        change=kwargs.pop("change", change()),  # type: ignore[arg-type]
        place=None,
        occurred_at=T,
        eta_slip_hours=24,
    )
    return [(a.kind, a.headline) for a in alerts]


@pytest.mark.parametrize(
    ("sample", "expected"),
    [
        ("06_leg_departed", [("departed", "Departed")]),
        ("09_leg_arrived", [("arrived", "Arrived")]),
        ("14_leg_delivered", [("delivered", "Delivered")]),
        ("15_delivered_in_full", [("delivered", "Delivered")]),
        ("11_customs_released", [("customs", "Customs released")]),
        ("13_out_for_delivery", []),
        ("16_invoice_shared", []),
        ("05_container_loaded_on_board", []),
        ("21_compact_shipment_milestone", [("departed", "Departed")]),
    ],
)
def test_which_samples_alert(sample: str, expected: list[tuple[str, str]]) -> None:
    assert kinds(read_sample(sample)) == expected


def test_holds_exams_and_delays_alert_and_other_customs_news_does_not() -> None:
    assert kinds(event("/shipment#customs_agriculture_hold")) == [
        ("customs", "Customs hold: agriculture hold")
    ]
    assert kinds(event("/shipment#customs_undergoing_x_ray_exam"))[0][0] == "customs"
    assert kinds(event("/shipment#ftz_admission")) == []
    assert kinds(event("/shipment#weather_delay")) == [("exception", "Delayed: weather")]
    assert kinds(event("/shipment#port_strike_delay")) == [("exception", "Delayed: port strike")]


EXCEPTIONS = [t for t, (category, _, _) in REFERENCE.items() if category == "exception"]
OTHER_CUSTOMS = [
    t
    for t, (category, milestone, _) in REFERENCE.items()
    if category == "customs" and t not in CUSTOMS_HOLDS and milestone is None
]


@pytest.mark.parametrize("event_type", EXCEPTIONS)
def test_every_documented_exception_alerts_exception_with_its_headline(event_type: str) -> None:
    [(kind, headline)] = kinds(event(event_type))

    assert kind == "exception"
    assert headline == REFERENCE[event_type][2]


@pytest.mark.parametrize("event_type", sorted(CUSTOMS_HOLDS))
def test_every_documented_customs_hold_or_exam_alerts_customs(event_type: str) -> None:
    [(kind, headline)] = kinds(event(event_type))

    assert kind == "customs"
    assert headline.startswith("Customs hold: ")


@pytest.mark.parametrize("event_type", OTHER_CUSTOMS)
def test_customs_steps_that_hold_nothing_alert_nobody(event_type: str) -> None:
    assert kinds(event(event_type)) == []


def test_the_reference_has_every_exception_and_hold_the_issue_names() -> None:
    assert len(EXCEPTIONS) == 42
    for named in (
        "/shipment#missing_cargo",
        "/shipment#trucker_rejected",
        "/shipment#vessel_delay_mechanical",
        "/shipment#shipment_rerouted_by_carrier",
    ):
        assert named in EXCEPTIONS
    assert "/shipment#export_country_magnetism_exam" in CUSTOMS_HOLDS
    assert len(CUSTOMS_HOLDS) == 9


def test_a_delay_type_flexport_adds_later_alerts_exception() -> None:
    assert kinds(event("/shipment#drone_delivery_delay")) == [("exception", "Drone delivery delay")]
    assert kinds(event("/shipment#customs_quarantine_hold")) == [
        ("customs", "Customs quarantine hold")
    ]
    assert kinds(event("/shipment#something_new")) == []


def test_a_late_event_alerts_nobody() -> None:
    body = read_sample("06_leg_departed")
    assert kinds(body, change=change(late=True)) == []


def test_the_eta_alerts_only_past_the_slip_threshold_either_way() -> None:
    body = event("shipment.eta_updated", shipment_id="418563")
    old = datetime(2026, 3, 13, 15, tzinfo=UTC)

    assert kinds(body, change=change(before=old, after=old + timedelta(hours=6))) == []
    assert kinds(body, change=change(before=None, after=old)) == []
    [(kind, _)] = kinds(body, change=change(before=old, after=old + timedelta(hours=30)))
    assert kind == "eta"
    parsed = parse_event(body)
    [earlier] = decide_alerts(
        parsed,
        change=change(before=old, after=old - timedelta(hours=26)),
        place=None,
        occurred_at=T,
        eta_slip_hours=24,
    )
    assert earlier.eta_shift_hours == -26.0
    assert earlier.previous_estimated_arrival == old.isoformat()


def test_delivered_is_once_per_shipment_a_leg_milestone_once_per_fact() -> None:
    leg = decide_alerts(
        parse_event(read_sample("14_leg_delivered")),
        change=change(),
        place=None,
        occurred_at=T,
        eta_slip_hours=24,
    )
    full = decide_alerts(
        parse_event(read_sample("15_delivered_in_full")),
        change=change(),
        place=None,
        occurred_at=T,
        eta_slip_hours=24,
    )
    assert leg[0].dedup_key == full[0].dedup_key == "shipment-418563:delivered"
    departed = decide_alerts(
        parse_event(read_sample("06_leg_departed")),
        change=change(),
        place=None,
        occurred_at=T,
        eta_slip_hours=24,
    )
    # Once per fact: the shipment, the kind, the leg and the time, whatever the event id.
    assert departed[0].dedup_key == f"shipment-418563:departed:-:{T.isoformat()}"
    eta = decide_alerts(
        parse_event(event("shipment.eta_updated", shipment_id="418563")),
        change=change(before=T, after=T + timedelta(hours=30)),
        place=None,
        occurred_at=T,
        eta_slip_hours=24,
    )
    assert eta[0].dedup_key == "e1:eta"


def leg_change(*earlier: datetime) -> ShipmentChange:
    return dataclasses.replace(change(), leg_id="9051102", earlier_reports=earlier)


def departed_alerts(change: ShipmentChange, occurred_at: datetime = T) -> list[Alert]:
    return decide_alerts(
        parse_event(read_sample("06_leg_departed")),
        change=change,
        place=None,
        occurred_at=occurred_at,
        eta_slip_hours=24,
    )


class TestOneAlertPerFact:
    def test_the_same_departure_reported_again_alerts_nobody(self) -> None:
        assert departed_alerts(leg_change(T)) == []
        assert departed_alerts(leg_change(T - timedelta(minutes=40))) == []

    def test_a_correction_by_more_than_an_hour_alerts_once_as_a_correction(self) -> None:
        [corrected] = departed_alerts(leg_change(T - timedelta(hours=3)))

        assert corrected.headline == "Departed (time corrected, was 2026-03-15 22:20 UTC)"
        assert corrected.corrects == (T - timedelta(hours=3)).isoformat()
        # Its own fact: not the ledger entry of the departure it corrects.
        [original] = departed_alerts(leg_change(), occurred_at=T - timedelta(hours=3))
        assert corrected.dedup_key != original.dedup_key

    def test_the_nearest_earlier_report_decides(self) -> None:
        assert departed_alerts(leg_change(T - timedelta(hours=5), T + timedelta(minutes=10))) == []

    def test_another_leg_is_another_fact(self) -> None:
        other_leg = dataclasses.replace(leg_change(T), leg_id="9051101", earlier_reports=())
        assert [a.kind for a in departed_alerts(other_leg)] == ["departed"]
