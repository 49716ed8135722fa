"""Lengths the database enforces, checked when an event is parsed (review M2): an event that
breaks one is parsed all the same, with the reason as its `defect`, and `storable` keeps of it
what fits the log's columns."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from app.core.events import parse_event, storable
from app.core.limits import failure_reason

Sample = Callable[[str], bytes]


def changed(sample: Sample, name: str, **resource: Any) -> bytes:
    payload = json.loads(sample(name))
    payload["data"]["resource"].update(resource)
    return json.dumps(payload).encode()


def test_a_shipment_id_the_database_cannot_store_is_a_defect_not_a_refusal(
    sample: Sample,
) -> None:
    event = parse_event(changed(sample, "01_shipment_created", id="9" * 65))

    assert event.defect == "the shipment id is longer than 64 characters (65)"
    kept = storable(event)
    assert (kept.shipment_id, kept.event_id, kept.payload) == (None, event.event_id, event.payload)


def test_a_shipment_id_that_fits_is_no_defect(sample: Sample) -> None:
    event = parse_event(changed(sample, "01_shipment_created", id="9" * 64))

    assert event.defect is None
    assert storable(event) == event


@pytest.mark.parametrize(("leg", "defect"), [("7" * 150, False), ("7" * 190, True)])
def test_a_leg_id_that_makes_the_alert_key_too_long_is_a_defect(
    sample: Sample, leg: str, defect: bool
) -> None:
    event = parse_event(changed(sample, "06_leg_departed", id=leg))

    if defect:
        assert event.defect is not None and "makes the alert key longer than 240" in event.defect
        assert storable(event).shipment_id == "418563"  # the shipment id fits: kept
    else:
        assert event.defect is None


def test_a_type_longer_than_its_column_is_cut_where_it_is_stored(sample: Sample) -> None:
    payload = json.loads(sample("06_leg_departed"))
    payload["type"] = "/shipment_leg#" + "x" * 300
    event = parse_event(json.dumps(payload).encode())

    assert event.defect == "`type` is longer than 200 characters"
    assert storable(event).type == event.type[:200]


def test_a_container_number_longer_than_its_column_is_a_defect(sample: Sample) -> None:
    payload = json.loads(sample("27_compact_container_loaded"))
    payload["data"]["container_number"] = "CSNU" + "7" * 30
    event = parse_event(json.dumps(payload).encode())

    assert event.defect == "a container number is longer than 20 characters (34)"


def test_the_reason_kept_is_one_line_without_parameters_and_bounded() -> None:
    error = (
        "(psycopg.errors.StringDataRightTruncation) value too long for type character "
        "varying(64) [parameters: ('999', 'secret address')]\n[SQL: INSERT INTO event ...]"
    )

    assert failure_reason(error) == (
        "(psycopg.errors.StringDataRightTruncation) value too long for type character varying(64)"
    )
    assert len(failure_reason("x" * 5000)) == 500
    assert failure_reason("") == "unknown error"
