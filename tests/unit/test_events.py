"""Parsing deliveries: every packaged sample, the facts they assert, and what is not an event."""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from app.core.errors import EventDataError, MalformedEvent
from app.core.events import body_digest_id, parse_event
from app.core.facts import Location
from tests.helpers import sample_paths

SAMPLES = sample_paths()
SampleReader = Callable[[str], bytes]


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def edited(body: bytes, edit: Callable[[dict[str, Any]], None]) -> bytes:
    """`body` re-encoded after `edit` changed its JSON."""
    payload = json.loads(body)
    edit(payload)
    return json.dumps(payload).encode("utf-8")


# -- every sample ------------------------------------------------------------------------------


def test_the_samples_are_packaged() -> None:
    assert len(SAMPLES) >= 21


@pytest.mark.parametrize("path", SAMPLES, ids=[p.stem for p in SAMPLES])
def test_every_sample_parses_with_its_id_type_and_facts(path: Path) -> None:
    body = path.read_bytes()
    payload = json.loads(body)

    event = parse_event(body)

    assert event.event_id == str(payload["id"])
    assert event.type == payload["type"]
    assert event.format == ("flexport" if payload["type"].startswith("/") else "compact")
    assert event.known
    assert event.occurred_at() is not None
    event.facts()


# -- Flexport-format samples --------------------------------------------------------------------


def test_leg_departed(sample: SampleReader) -> None:
    event = parse_event(sample("06"))

    assert (event.category, event.milestone) == ("milestone", "departed")
    assert event.shipment_id == "418563"
    assert event.occurred_at() == utc("2026-02-26T13:20:00")
    facts = event.facts()
    assert facts.shipment is not None
    assert facts.shipment.shipment_id == "418563"
    assert facts.shipment.actual_departure == utc("2026-02-26T13:20:00")
    assert facts.location == Location(
        name="Yantian, China", unlocode="CNYTN", country="CN", timezone="Asia/Shanghai"
    )
    assert facts.leg_id == "9051102"
    # The container rides along, but the event is not about it.
    assert [c.container_number for c in facts.containers] == ["CSNU7261843"]
    assert facts.containers[0].last_event is None


def test_eta_updated(sample: SampleReader) -> None:
    event = parse_event(sample("07"))

    assert (event.category, event.milestone) == ("transit", None)
    assert event.classification.name == "eta_updated"
    facts = event.facts()
    assert facts.shipment is not None
    assert facts.shipment.estimated_arrival == utc("2026-03-15T13:00:00")


def test_delivered_in_full(sample: SampleReader) -> None:
    event = parse_event(sample("15"))

    assert (event.category, event.milestone) == ("milestone", "delivered")
    facts = event.facts()
    assert facts.shipment is not None
    assert facts.shipment.delivered_at == utc("2026-03-17T18:02:00")


def test_invoice_shared(sample: SampleReader) -> None:
    event = parse_event(sample("16"))

    assert event.category == "invoice"
    invoice = event.facts().invoice
    assert invoice is not None
    assert invoice.name == "FLEX-418563-1"
    assert invoice.shipment_id == "418563"
    assert (invoice.amount, invoice.currency) == ("6840.00", "USD")
    assert invoice.status == "outstanding"
    assert invoice.due_date == date(2026, 4, 17)


def test_container_empty_returned(sample: SampleReader) -> None:
    event = parse_event(sample("18"))

    assert event.category == "container"
    (container,) = event.facts().containers
    assert container.container_number == "CSNU7261843"
    assert container.last_event == "empty_returned"
    assert container.empty_returned == date(2026, 3, 19)
    assert container.shipment_id == "418563"


def test_container_loaded_on_board_marks_its_container(sample: SampleReader) -> None:
    event = parse_event(sample("05"))

    (container,) = event.facts().containers
    assert container.last_event == "loaded_on_board"
    assert event.facts().leg_id == "9051102"


def test_document(sample: SampleReader) -> None:
    event = parse_event(sample("19"))

    assert event.category == "document"
    document = event.facts().document
    assert document is not None
    assert document.document_id == "Hf3kQ9ZrT2mWx8"
    assert document.document_type == "house_bill_of_lading"
    assert document.shipment_id == "418563"
    assert document.link is not None


def test_purchase_order(sample: SampleReader) -> None:
    event = parse_event(sample("20"))

    assert event.category == "purchase_order"
    assert event.shipment_id is None
    facts = event.facts()
    assert facts.shipment is None
    order = facts.purchase_order
    assert order is not None
    assert order.purchase_order_id == "771204"
    assert order.buyer == "Acme Outfitters Inc."
    assert order.seller == "Shenzhen Brightline Garments Co."
    assert (order.cargo_ready_date, order.must_arrive_date) == (
        date(2026, 2, 23),
        date(2026, 3, 25),
    )


# -- compact-format samples ---------------------------------------------------------------------


def test_compact_milestone(sample: SampleReader) -> None:
    event = parse_event(sample("21"))

    assert event.format == "compact"
    assert (event.category, event.milestone) == ("milestone", "departed")
    assert event.shipment_id == "418563"
    assert event.occurred_at() == utc("2026-02-26T13:20:00")
    facts = event.facts()
    assert facts.location is not None
    assert (facts.location.name, facts.location.country) == ("Yantian, China", "CN")


def test_compact_eta_updated(sample: SampleReader) -> None:
    event = parse_event(sample("22"))

    assert (event.category, event.classification.name) == ("transit", "eta_updated")
    shipment = event.facts().shipment
    assert shipment is not None
    assert shipment.estimated_arrival == utc("2026-03-15T13:00:00")
    assert shipment.previous_estimated_arrival == utc("2026-03-13T15:00:00")


def test_compact_booking_confirmed(sample: SampleReader) -> None:
    booking = parse_event(sample("23")).facts().booking

    assert booking is not None
    assert (booking.booking_id, booking.status) == ("BK-287114", "confirmed")
    assert booking.shipment_id == "418563"


def test_compact_purchase_order(sample: SampleReader) -> None:
    event = parse_event(sample("24"))

    order = event.facts().purchase_order
    assert order is not None
    assert order.purchase_order_id == "771204"
    assert event.shipment_id is None


def test_compact_invoice(sample: SampleReader) -> None:
    invoice = parse_event(sample("25")).facts().invoice

    assert invoice is not None
    assert (invoice.invoice_id, invoice.amount, invoice.currency) == (
        "FLEX-418563-1",
        "4820.55",
        "USD",
    )
    assert invoice.due_date == date(2026, 4, 14)


def test_compact_document(sample: SampleReader) -> None:
    event = parse_event(sample("26"))

    assert event.category == "document"
    document = event.facts().document
    assert document is not None
    assert (document.document_id, document.document_type) == (
        "Hf3kQ9ZrT2mWx8",
        "house_bill_of_lading",
    )


def test_compact_container_loaded(sample: SampleReader) -> None:
    event = parse_event(sample("27"))

    assert event.category == "container"
    (container,) = event.facts().containers
    assert (container.container_number, container.last_event) == ("CSNU7261843", "loaded")
    assert container.shipment_id == "418563"


# -- what is not an event -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"type": "/shipment#created", "id": 1, "x": "\xff\xfe"}', "not UTF-8"),
        (b"not json", "not JSON"),
        (b"", "not JSON"),
        (b"[]", "list, not an object"),
        (b'"/shipment#created"', "str, not an object"),
        (b"null", "not an object"),
        (b'{"id": 1}', "no `type`"),
        (b'{"id": 1, "type": 5}', "no `type`"),
        (b'{"id": 1, "type": "   "}', "no `type`"),
        (b"[" * 100_000, "nested too deeply"),
        (b'{"type": "x", "data": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nested too deeply"),
        (b'{"type": "/shipment#created", "id": ' + b"1" * 5000 + b"}", "not JSON"),
        (b'{"type": "/shipment#created", "id": "' + b"x" * 201 + b'"}', "longer than 200"),
    ],
    ids=[
        "invalid-utf8",
        "not-json",
        "empty",
        "array",
        "json-string",
        "json-null",
        "missing-type",
        "non-string-type",
        "blank-type",
        "deeply-nested",
        "deeply-nested-data",
        "huge-integer",
        "long-id",
    ],
)
def test_a_body_that_is_not_an_event_is_malformed(body: bytes, message: str) -> None:
    with pytest.raises(MalformedEvent, match=message):
        parse_event(body)


@pytest.mark.parametrize(
    "body",
    [
        b'{"id": "evt_\\ud800", "type": "/shipment#created"}',
        b'{"id": 1, "type": "/shipment#\\udfff"}',
        b'{"id": 1, "type": "/shipment#created", '
        b'"data": {"shipment": {"id": 1, "name": "\\ud83d"}}}',
    ],
    ids=["in-id", "in-type", "in-data"],
)
def test_an_unpaired_surrogate_escape_is_malformed(body: bytes) -> None:
    with pytest.raises(MalformedEvent):
        parse_event(body)


@pytest.mark.parametrize(
    "body",
    [
        b'{"type": "/shipment#created"}',
        b'{"type": "/shipment#created", "id": null}',
        b'{"type": "/shipment#created", "id": ""}',
        b'{"type": "/shipment#created", "id": true}',
        b'{"type": "shipment.milestone", "id": {"nested": 1}}',
    ],
    ids=["missing", "null", "empty", "bool", "object"],
)
def test_an_event_without_a_usable_id_is_named_by_its_body(body: bytes) -> None:
    event = parse_event(body)

    assert event.event_id == "sha256-" + hashlib.sha256(body).hexdigest()
    assert event.event_id == body_digest_id(body)


def test_the_plural_shipments_resource_is_normalized() -> None:
    body = b'{"id": 9, "type": "/shipments#commercial_invoices_digitized"}'

    event = parse_event(body)

    assert event.type == "/shipments#commercial_invoices_digitized"  # stored as sent
    assert event.category == "document"
    assert event.known


# -- values that cannot be read -----------------------------------------------------------------


def test_a_bad_occurred_at_is_an_event_data_error() -> None:
    event = parse_event(b'{"id": 1, "type": "/shipment#created", "occurred_at": "yesterday"}')

    with pytest.raises(EventDataError, match="occurred_at"):
        event.occurred_at()


def test_a_bad_date_in_the_resource_is_an_event_data_error(sample: SampleReader) -> None:
    def break_due_date(payload: dict[str, Any]) -> None:
        payload["data"]["resource"]["due_date"] = "next Tuesday"

    event = parse_event(edited(sample("16"), break_due_date))

    with pytest.raises(EventDataError, match="due_date"):
        event.facts()


def test_a_bad_timestamp_in_the_shipment_is_an_event_data_error(sample: SampleReader) -> None:
    def break_eta(payload: dict[str, Any]) -> None:
        payload["data"]["shipment"]["estimated_arrival_date"] = 20260315

    event = parse_event(edited(sample("06"), break_eta))

    with pytest.raises(EventDataError, match="estimated_arrival_date"):
        event.facts()


@pytest.mark.parametrize("timestamp", ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+01:00"])
def test_a_timestamp_outside_the_utc_range_is_an_event_data_error(timestamp: str) -> None:
    body = json.dumps({"id": 1, "type": "/shipment#created", "occurred_at": timestamp}).encode()

    with pytest.raises(EventDataError):
        parse_event(body).occurred_at()


# -- tolerance of nulls and odd shapes ----------------------------------------------------------


def test_a_departure_without_location_happened_at_the_legs_origin(sample: SampleReader) -> None:
    def drop_location(payload: dict[str, Any]) -> None:
        payload["data"]["location"] = None

    facts = parse_event(edited(sample("06"), drop_location)).facts()

    assert facts.location is not None
    assert (facts.location.name, facts.location.unlocode) == ("Yantian, China", "CNYTN")


def test_an_arrival_without_location_happened_at_the_legs_destination(
    sample: SampleReader,
) -> None:
    def drop_location(payload: dict[str, Any]) -> None:
        payload["data"]["location"] = None

    facts = parse_event(edited(sample("09"), drop_location)).facts()

    assert facts.location is not None
    assert facts.location.unlocode == "USLAX"


def test_a_null_shipment_still_yields_the_shipment_id_of_the_leg(sample: SampleReader) -> None:
    def drop_shipment(payload: dict[str, Any]) -> None:
        payload["data"]["shipment"] = None

    event = parse_event(edited(sample("06"), drop_shipment))

    assert event.shipment_id == "418563"
    facts = event.facts()
    assert facts.shipment is not None
    assert facts.shipment.shipment_id == "418563"
    assert facts.shipment.name is None


def test_extra_fields_are_ignored(sample: SampleReader) -> None:
    def add_fields(payload: dict[str, Any]) -> None:
        payload["brand_new"] = {"nested": [1, 2, 3]}
        payload["data"]["resource"]["another"] = None

    original = parse_event(sample("06")).facts()

    assert parse_event(edited(sample("06"), add_fields)).facts() == original


def test_an_event_with_no_data_has_no_facts() -> None:
    event = parse_event(b'{"id": 1, "type": "/shipment#weather_delay", "data": null}')

    assert event.category == "exception"
    assert event.shipment_id is None
    assert event.facts().shipment is None


@pytest.mark.parametrize("containers", [1, True, 2.5])
def test_a_scalar_containers_value_is_tolerated(containers: object) -> None:
    body = json.dumps(
        {
            "id": 1,
            "type": "/shipment#created",
            "data": {"resource": {"_object": "/shipment", "id": 7}, "containers": containers},
        }
    ).encode()

    event = parse_event(body)

    assert event.facts().containers == ()


# -- properties ---------------------------------------------------------------------------------

# What an event can carry: no NaN, infinities or NUL characters (parse_event refuses those).
TEXT = st.text(
    alphabet=st.characters(exclude_characters="\x00", exclude_categories=["Cs"]), max_size=20
)
JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(TEXT, children, max_size=4),
    max_leaves=12,
)
TIMESTAMPS = st.one_of(
    st.datetimes(timezones=st.timezones()).map(datetime.isoformat),
    st.dates().map(date.isoformat),
    TEXT,
    JSON_SCALARS,
)
RESOURCE_OBJECTS = st.sampled_from(
    [
        "/shipment",
        "/shipments",
        "/shipment_leg",
        "/ocean/shipment_container_leg",
        "/ocean/shipment_container",
        "/invoice",
        "/document",
        "/purchase_order",
    ]
)
FLEXPORT_TYPES = st.sampled_from(
    [
        "/shipment#created",
        "/shipment_leg#departed",
        "/shipment_leg#arrived",
        "/shipment#delivered_in_full",
        "/ocean/shipment_container#empty_returned",
        "/ocean/shipment_container_leg#loaded_on_board",
        "/invoice#invoice_shared",
        "/document#created",
        "/purchase_order#updated",
        "/shipment#brand_new_delay",
    ]
)
COMPACT_TYPES = st.sampled_from(
    [
        "shipment.milestone",
        "shipment.eta_updated",
        "booking.confirmed",
        "purchase_order.archived",
        "invoice.created",
        "document.uploaded",
        "container.loaded",
        "widget.created",
    ]
)
DATE_KEYS = [
    "occurred_at",
    "estimated_departure_date",
    "actual_departure_date",
    "estimated_arrival_date",
    "actual_arrival_date",
    "actual_delivered_in_full_date",
    "cargo_ready_date",
    "must_arrive_date",
    "due_date",
    "last_free_day_date",
    "empty_returned_date",
    "estimated_arrival",
    "previous_estimated_arrival",
]
ID_KEYS = [
    "id",
    "shipment_id",
    "booking_id",
    "invoice_id",
    "document_id",
    "purchase_order_id",
    "container_number",
]
ANY_VALUE = JSON_VALUES | TIMESTAMPS


def _shaped(object_keys: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """A dict shaped like the part of an event it stands for, with arbitrary values."""
    return st.fixed_dictionaries(
        {},
        optional={
            "_object": RESOURCE_OBJECTS | JSON_SCALARS,
            **{key: TIMESTAMPS for key in DATE_KEYS},
            **{key: JSON_SCALARS for key in ID_KEYS},
            "milestone": st.sampled_from(["departed", "delivered", "customs_cleared"]) | ANY_VALUE,
            "shipment": object_keys,
            "shipments": object_keys,
            "booking": object_keys,
            "shipment_container": object_keys,
            "leg": object_keys,
            "total": object_keys,
            "origin": object_keys,
            "destination": object_keys,
            "place": object_keys,
            "address": object_keys,
            "buyer": object_keys,
            "seller": object_keys,
        },
    )


EVENT_PARTS = st.recursive(JSON_VALUES, _shaped, max_leaves=20)
EVENTS = st.fixed_dictionaries(
    {"type": FLEXPORT_TYPES | COMPACT_TYPES | TEXT.filter(str.strip)},
    optional={
        "id": JSON_SCALARS,
        "occurred_at": TIMESTAMPS,
        "created_at": TIMESTAMPS,
        "data": st.fixed_dictionaries(
            {},
            optional={
                "resource": EVENT_PARTS,
                "shipment": EVENT_PARTS,
                "location": EVENT_PARTS,
                "containers": st.lists(EVENT_PARTS, max_size=3) | JSON_VALUES,
                **{key: TIMESTAMPS for key in DATE_KEYS},
                **{key: JSON_SCALARS for key in ID_KEYS},
                "milestone": st.sampled_from(["departed", "delivered"]) | JSON_SCALARS,
                "location_": EVENT_PARTS,
            },
        )
        | JSON_VALUES,
    },
)


@settings(database=None, deadline=None, max_examples=300)
@given(body=st.binary(max_size=300) | JSON_VALUES.map(lambda v: json.dumps(v).encode()))
@example(body=b"[" * 100_000)
@example(body=b'{"type":"x","id":' + b"9" * 5000 + b"}")
@example(body=b'{"type":"/shipment#created","data":{"containers":1}}')
def test_parse_event_returns_an_event_or_raises_malformed_event(body: bytes) -> None:
    with contextlib.suppress(MalformedEvent):
        parse_event(body)


@settings(database=None, deadline=None, max_examples=300)
@given(payload=EVENTS)
@example(payload={"type": "/shipment#created", "data": {"containers": 1}})
@example(payload={"type": "/shipment#created", "occurred_at": "9999-12-31T23:59:59-23:59"})
def test_facts_of_any_event_object_return_or_raise_event_data_error(
    payload: dict[str, Any],
) -> None:
    event = parse_event(json.dumps(payload).encode())
    with contextlib.suppress(EventDataError):
        event.occurred_at()
    with contextlib.suppress(EventDataError):
        event.facts()


def test_parsing_does_not_alter_the_payload(sample: SampleReader) -> None:
    body = sample("06")
    event = parse_event(body)
    before = copy.deepcopy(event.payload)

    event.facts()

    assert event.payload == before == json.loads(body)


def test_an_amount_sent_as_a_json_number_is_kept() -> None:
    body = json.dumps(
        {
            "id": "evt_money",
            "type": "invoice.created",
            "data": {
                "invoice_id": "INV-1",
                "amount": 4820.55,
                "occurred_at": "2026-03-15T02:00:00Z",
            },
        }
    ).encode()

    invoice = parse_event(body).facts().invoice

    assert invoice is not None
    assert invoice.amount == "4820.55"


@pytest.mark.parametrize("number", [b"NaN", b"Infinity", b"-Infinity", b"1e999999"])
def test_numbers_json_cannot_represent_are_malformed(number: bytes) -> None:
    body = b'{"type": "invoice.created", "data": {"amount": ' + number + b"}}"

    with pytest.raises(MalformedEvent, match="not JSON"):
        parse_event(body)


def test_a_nul_character_anywhere_is_malformed() -> None:
    for body in (
        b'{"type": "invoice.created", "data": {"name": "a\\u0000b"}}',
        b'{"type": "invoice.created", "data": {"a\\u0000": 1}}',
        b'{"type": "/shipment#created\\u0000"}',
    ):
        with pytest.raises(MalformedEvent, match="NUL"):
            parse_event(body)
    # An escaped backslash followed by u0000 is plain text, not a NUL.
    assert parse_event(b'{"type": "invoice.created", "data": {"note": "\\\\u0000"}}').known


class TestShapesRealSendersUse:
    """Hand-built and older payloads differ from the documented shape; each still records."""

    def test_a_location_with_only_a_name_still_gives_the_place(self, sample: SampleReader) -> None:
        def name_only(payload: dict[str, Any]) -> None:
            payload["data"]["location"] = {"_object": "/shipment_node", "name": "Yantian"}

        facts = parse_event(edited(sample("06"), name_only)).facts()

        assert facts.location == Location(name="Yantian")

    def test_a_resource_without_object_is_the_resource_its_type_names(self) -> None:
        body = json.dumps(
            {
                "_object": "/event",
                "id": 7001,
                "type": "/invoice#invoice_payment_made",
                "occurred_at": "2026-03-20T10:00:00Z",
                "data": {"resource": {"id": 5001, "status": "paid"}},
            }
        ).encode()

        event = parse_event(body)
        facts = event.facts()

        assert event.category == "invoice"
        assert facts.invoice is not None
        assert (facts.invoice.invoice_id, facts.invoice.status) == ("5001", "paid")

    def test_a_shipment_resource_without_object_is_the_shipment(self) -> None:
        body = json.dumps(
            {
                "id": 7002,
                "type": "/shipment#weather_delay",
                "occurred_at": "2026-03-20T10:00:00Z",
                "data": {"resource": {"id": 418563, "name": "SS26 apparel"}},
            }
        ).encode()

        event = parse_event(body)

        assert event.shipment_id == "418563"
        assert event.facts().shipment is not None

    @pytest.mark.parametrize(
        "reference",
        [
            {"_object": "/api/refs/object", "ref_type": "/shipment", "id": 418563},
            {
                "_object": "/api/refs/object",
                "ref_type": "/shipment",
                "link": "https://api.flexport.com/shipments/418563",
            },
        ],
        ids=["with-id", "link-only"],
    )
    def test_resource_shipment_as_a_reference_names_the_shipment(
        self, sample: SampleReader, reference: dict[str, Any]
    ) -> None:
        def by_reference(payload: dict[str, Any]) -> None:
            payload["data"]["shipment"] = None
            payload["data"]["resource"]["shipment"] = reference

        event = parse_event(edited(sample("06"), by_reference))

        assert event.shipment_id == "418563"
        assert event.facts().shipment is not None

    def test_the_plural_shipments_object_is_the_shipment(self) -> None:
        body = json.dumps(
            {
                "id": 7003,
                "type": "/shipments#commercial_invoices_digitized",
                "occurred_at": "2026-03-20T10:00:00Z",
                "data": {"resource": {"_object": "/shipments", "id": 418563, "name": "SS26"}},
            }
        ).encode()

        event = parse_event(body)

        assert (event.category, event.shipment_id) == ("document", "418563")
        shipment = event.facts().shipment
        assert shipment is not None and shipment.name == "SS26"
