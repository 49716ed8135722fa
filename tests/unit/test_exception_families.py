"""Exception families: which recorded-style Flexport event opens which problem, which clears it,
the table in docs/exceptions.md, and the severity overrides."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from app.core.events import Event, parse_event
from app.core.exception_families import (
    FAMILIES,
    FAMILY_NAMES,
    MISSED_ETA_TYPE,
    ExceptionEffect,
    exception_effect,
    family,
    parse_severity_overrides,
    severity_of,
)
from app.core.flexport_types import CUSTOMS_HOLDS, REFERENCE
from app.core.taxonomy import classify
from tests.helpers import REPO_ROOT, load_sample
from tests.unit.exception_samples import sample_event

DEPARTURE = {"departure_delay", "export_customs_exam"}
# What the delivery settles: all but cargo problems and charges, which a person resolves.
DELIVERY = set(FAMILY_NAMES) - {"cargo_problem", "charges", "other"}
# Shipment-level samples: before the departure (01) and after the arrival (11).
BEFORE_DEPARTURE, AFTER_ARRIVAL = "01_shipment_created", "11_customs_released"


def sample_of(event_type: str) -> str:
    """The sample whose resource an event type is about."""
    if event_type.startswith("/ocean/shipment_container#"):
        return "18_container_empty_returned"
    if event_type.startswith("/invoice#"):
        return "16_invoice_shared"
    return BEFORE_DEPARTURE


def effect_of(event: Event) -> ExceptionEffect:
    return exception_effect(event.type, event.classification, event.facts())


def test_every_exception_and_customs_hold_type_belongs_to_exactly_one_family() -> None:
    problem_types = {t for t, row in REFERENCE.items() if row[0] == "exception"} | CUSTOMS_HOLDS
    owners: dict[str, list[str]] = {}
    for rules in FAMILIES:
        for event_type in rules.types:
            owners.setdefault(event_type, []).append(rules.name)
    assert {t: names for t, names in owners.items() if len(names) > 1} == {}
    assert problem_types - owners.keys() == set()
    documented = set(REFERENCE) | {MISSED_ETA_TYPE}
    assert owners.keys() - documented == set()
    assert len(problem_types) == 51


@pytest.mark.parametrize(
    "rules", [r for r in FAMILIES if r.types - {MISSED_ETA_TYPE}], ids=lambda r: r.name
)
def test_each_type_of_a_family_opens_it_before_the_departure(rules: Any) -> None:
    for event_type in sorted(rules.types - {MISSED_ETA_TYPE}):
        event = sample_event(sample_of(event_type), event_type=event_type)
        assert effect_of(event).opens == rules.name, event_type


def test_a_vessel_or_weather_delay_after_the_departure_delays_the_arrival() -> None:
    for event_type in sorted(family("arrival_delay").types_once_departed):
        before = sample_event(BEFORE_DEPARTURE, event_type=event_type)
        after = sample_event("06_leg_departed", event_type=event_type)
        assert (effect_of(before).opens, effect_of(after).opens) == (
            "departure_delay",
            "arrival_delay",
        ), event_type


def test_a_customs_hold_flexport_adds_later_opens_a_customs_hold() -> None:
    hold = sample_event(BEFORE_DEPARTURE, event_type="/shipment#customs_fda_hold")
    delay = sample_event(BEFORE_DEPARTURE, event_type="/shipment#canal_closure_delay")
    assert (effect_of(hold).opens, effect_of(delay).opens) == ("customs_hold", "other")


@pytest.mark.parametrize(
    ("prefix", "clears"),
    [
        ("11_customs_released", {"customs_hold"}),
        ("06_leg_departed", DEPARTURE),
        ("09_leg_arrived", DEPARTURE | {"arrival_delay", "missed_eta"}),
        ("13_out_for_delivery", {"delivery_appointment"}),
        ("14_leg_delivered", DELIVERY),
        ("15_delivered_in_full", DELIVERY),
        ("21_compact_shipment_milestone", DEPARTURE),
        ("01_shipment_created", set()),
        ("07_eta_updated", set()),
        ("16_invoice_shared", set()),
    ],
)
def test_clearing_events_from_the_samples(prefix: str, clears: set[str]) -> None:
    effect = effect_of(sample_event(prefix))
    assert effect.opens is None
    assert effect.clears == clears


def test_a_pre_carriage_departure_clears_no_vessel_delay() -> None:
    truck_leaves_factory = sample_event("06_leg_departed", actual_departure_date=None)
    assert effect_of(truck_leaves_factory).clears == frozenset()


def test_a_pre_carriage_arrival_clears_no_arrival_delay() -> None:
    truck_reaches_port = sample_event("09_leg_arrived", actual_arrival_date=None)
    assert effect_of(truck_reaches_port).clears == frozenset()


def test_compact_arrival_and_an_eta_update_with_the_departure() -> None:
    arrived = load_sample("21_compact_shipment_milestone")
    arrived["data"]["milestone"] = "arrived"
    departed = load_sample("22_compact_eta_updated")
    departed["data"]["actual_departure"] = "2026-02-26T13:20:00Z"
    assert effect_of(parse_event(json.dumps(arrived).encode())).clears == DEPARTURE | {
        "arrival_delay",
        "missed_eta",
    }
    assert effect_of(parse_event(json.dumps(departed).encode())).clears == DEPARTURE


def test_the_missed_eta_opens_its_family_and_the_arrival_clears_it() -> None:
    missed = exception_effect(MISSED_ETA_TYPE, classify(MISSED_ETA_TYPE), None)
    assert missed == ExceptionEffect(opens="missed_eta")
    assert "missed_eta" in effect_of(sample_event("09_leg_arrived")).clears


def test_without_readable_facts_a_flexport_milestone_clears_nothing() -> None:
    departed = sample_event("06_leg_departed")
    assert exception_effect(departed.type, departed.classification, None).clears == frozenset()


def test_severity_overrides_parse_and_apply() -> None:
    overrides = parse_severity_overrides(" customs_hold = high , charges=low ,")
    assert overrides == {"customs_hold": "high", "charges": "low"}
    assert severity_of("customs_hold", overrides) == "high"
    assert severity_of("departure_delay", overrides) == "high"
    assert severity_of("missed_eta", {}) == "high"
    assert parse_severity_overrides("") == {}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("customs=high", "family one of"),
        ("customs_hold=urgent", "severity must be one of"),
        ("customs_hold", "expected <family>=<severity>"),
        ("charges=low,charges=high", "appears twice"),
    ],
)
def test_severity_overrides_refuse_what_they_cannot_read(value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_severity_overrides(value)


def test_the_docs_reproduce_the_family_table() -> None:
    page = (REPO_ROOT / "docs" / "exceptions.md").read_text(encoding="utf-8")
    rows = {
        match[0]: match[1:]
        for match in re.findall(
            r"^\| `(\w+)` \| [^|]+ \| (\w+) \| ([^|]*) \| ([^|]*) \|$", page, re.MULTILINE
        )
    }
    assert list(rows) == list(FAMILY_NAMES)
    for rules in FAMILIES:
        severity, types, cleared_by = rules_cells = rows[rules.name]
        assert severity == rules.severity, rules_cells
        named = set(re.findall(r"`([^`]+)`", types))
        short = {t.split("#")[1] if t.startswith("/shipment#") else t for t in rules.types}
        assert named == short | {
            f"{t.split('#')[1]} (after departure)" for t in rules.types_once_departed
        }, rules.name
        assert set(re.findall(r"`(\w+)`", cleared_by)) == set(rules.cleared_by), rules.name
