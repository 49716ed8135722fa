"""The classification table: every documented type string, unknown types, the compact format."""

from __future__ import annotations

import pytest

from app.core.flexport_types import REFERENCE
from app.core.taxonomy import CATEGORIES, MILESTONES, Classification, classify, classify_compact

# Every type string of shared/flexport/README.md, "Event types (as documented)", written out in
# full (the README abbreviates siblings as `#event` and `..._suffix`).
DOCUMENTED: dict[str, tuple[str, str | None]] = {
    # Estimated transit
    "/shipment#schedule_confirmed": ("transit", None),
    "/shipment#updated_route": ("transit", None),
    "/shipment_leg#updated_estimated_time_of_departure": ("transit", None),
    "/shipment_leg#updated_estimated_time_of_arrival": ("transit", None),
    "/shipment_leg#updated_estimated_out_for_delivery": ("transit", None),
    "/shipment_container_leg#updated_estimated_available_for_pickup": ("transit", None),
    # Actual transit
    "/shipment_leg#departed": ("milestone", "departed"),
    "/shipment_leg#arrived": ("milestone", "arrived"),
    "/shipment_leg#out_for_delivery": ("milestone", "out_for_delivery"),
    "/shipment_leg#delivered": ("milestone", "delivered"),
    "/shipment_leg#delivery_completed": ("milestone", "delivered"),
    "/shipment#delivered_in_full": ("milestone", "delivered"),
    # Containers
    "/ocean/shipment_container_leg#loaded_on_board": ("container", None),
    "/ocean/shipment_container_leg#unloaded_off_board": ("container", None),
    "/ocean/shipment_container_leg#available_for_pickup": ("container", None),
    "/ocean/shipment_leg#loaded_on_truck": ("container", None),
    "/ocean/shipment_container#free_time_to_expire": ("container", None),
    "/ocean/shipment_container#free_time_expired": ("container", None),
    "/ocean/shipment_container#empty_returned": ("container", None),
    # Booking and administration
    "/shipment#created": ("booking", None),
    "/shipment#booking_confirmed": ("booking", None),
    "/shipment#cargo_ready_date_changed": ("booking", None),
    "/shipment#updated_cargo_ready_date": ("booking", None),
    "/shipment#documents_sent_to_nominated_broker": ("document", None),
    "/shipments#commercial_invoices_digitized": ("document", None),
    # Customs
    "/shipment#customs_entry_release_status_released": ("customs", "customs_cleared"),
    "/shipment#customs_agriculture_hold": ("customs", None),
    "/shipment#customs_entry_release_status_document_required": ("customs", None),
    "/shipment#customs_entry_release_status_entry_docs_required": ("customs", None),
    "/shipment#customs_entry_release_status_pending_intensive_exam": ("customs", None),
    "/shipment#customs_entry_release_status_release_suspended": ("customs", None),
    "/shipment#customs_entry_release_status_under_cbp_review": ("customs", None),
    "/shipment#customs_undergoing_x_ray_exam": ("customs", None),
    "/shipment#export_country_customs_exam": ("customs", None),
    "/shipment#filing_submitted_for_in_bond_transportation": ("customs", None),
    "/shipment#ftz_admission": ("customs", None),
    "/shipment#returned_to_shipper": ("customs", None),
    # Appointments
    "/shipment_leg#delivery_appointment_requested": ("transit", None),
    "/shipment_leg#delivery_appointment_scheduled": ("transit", None),
    # Exceptions
    "/shipment#weather_delay": ("exception", None),
    "/shipment#port_strike_delay": ("exception", None),
    "/shipment#vessel_delay_port_congestion": ("exception", None),
    "/shipment#cargo_rolled_from_booked_vessel": ("exception", None),
    "/shipment#missed_appointment": ("exception", None),
    "/shipment#trucking_delay_traffic": ("exception", None),
    "/shipment#equipment_unavailable": ("exception", None),
    "/shipment#transshipment_delay": ("exception", None),
    # Invoices
    "/invoice#invoice_shared": ("invoice", None),
    "/invoice#invoice_payment_made": ("invoice", None),
    "/invoice#invoice_due_date_adjusted": ("invoice", None),
    "/invoice#invoice_voided": ("invoice", None),
    "/invoice#invoice_credit_applied": ("invoice", None),
    "/invoice#invoice_refund_applied": ("invoice", None),
    "/invoice#invoice_payment_failed": ("invoice", None),
}

COMPACT: dict[tuple[str, str | None], tuple[str, str | None]] = {
    ("shipment.milestone", "cargo_ready"): ("milestone", "cargo_ready"),
    ("shipment.milestone", "departed"): ("milestone", "departed"),
    ("shipment.milestone", "arrived"): ("milestone", "arrived"),
    ("shipment.milestone", "customs_cleared"): ("customs", "customs_cleared"),
    ("shipment.milestone", "delivered"): ("milestone", "delivered"),
    ("shipment.eta_updated", None): ("transit", None),
    ("booking.confirmed", None): ("booking", None),
    ("booking.amended", None): ("booking", None),
    ("purchase_order.created", None): ("purchase_order", None),
    ("purchase_order.updated", None): ("purchase_order", None),
    ("purchase_order.archived", None): ("purchase_order", None),
    ("invoice.created", None): ("invoice", None),
    ("invoice.freight_invoice_ready", None): ("invoice", None),
    ("document.uploaded", None): ("document", None),
    ("document.bill_of_lading_ready", None): ("document", None),
    ("container.loaded", None): ("container", None),
    ("container.unloaded", None): ("container", None),
}


@pytest.mark.parametrize(("event_type", "expected"), DOCUMENTED.items(), ids=list(DOCUMENTED))
def test_every_documented_type_is_classified(
    event_type: str, expected: tuple[str, str | None]
) -> None:
    classification = classify(event_type)

    assert (classification.category, classification.milestone) == expected
    assert classification.known


def test_customs_release_is_the_customs_cleared_milestone() -> None:
    assert classify("/shipment#customs_entry_release_status_released") == Classification(
        category="customs",
        milestone="customs_cleared",
        name="customs_cleared",
        headline="Customs released",
        documented=True,
    )


# Types of Flexport's milestone reference that shared/flexport/README.md does not name: until the
# complete list was taken in, each of them was `other`, stored as ignored and alerted nobody.
BEYOND_THE_README: dict[str, tuple[str, bool]] = {
    "/shipment#missing_cargo": ("exception", False),
    "/shipment#trucker_rejected": ("exception", False),
    "/shipment#vessel_delay_mechanical": ("exception", False),
    "/shipment#shipment_rerouted_by_carrier": ("exception", False),
    "/shipment#cargo_not_available": ("exception", False),
    "/shipment#dry_run_pickup": ("exception", False),
    "/shipment#pending_customs_clearance_from_nominated_broker": ("exception", False),
    "/shipment#export_country_magnetism_exam": ("customs", True),
    "/shipment_container_leg#delivery_appointment_scheduled": ("transit", False),
}


@pytest.mark.parametrize(("event_type", "expected"), BEYOND_THE_README.items())
def test_types_only_the_milestone_reference_lists_are_classified(
    event_type: str, expected: tuple[str, bool]
) -> None:
    classification = classify(event_type)

    assert (classification.category, classification.urgent) == expected
    assert classification.documented


def test_the_reference_holds_every_documented_type_with_a_headline() -> None:
    assert len(REFERENCE) == 90
    assert set(DOCUMENTED) - {"/shipments#commercial_invoices_digitized"} <= set(REFERENCE)
    for event_type in REFERENCE:
        classification = classify(event_type)
        assert classification.documented, event_type
        assert classification.headline and classification.headline[0].isupper(), event_type
        assert classification.known, event_type


def test_an_undocumented_type_says_so() -> None:
    classification = classify("/shipment#something_new")

    assert not classification.documented
    assert classification.headline == "Something new"


def test_eta_and_etd_updates_have_short_names() -> None:
    assert classify("/shipment_leg#updated_estimated_time_of_arrival").name == "eta_updated"
    assert classify("/shipment_leg#updated_estimated_time_of_departure").name == "etd_updated"


def test_the_plural_resource_name_is_the_singular_one() -> None:
    assert classify("/shipments#delivered_in_full") == classify("/shipment#delivered_in_full")


class TestUnknownTypes:
    def test_an_unknown_shipment_event_is_other(self) -> None:
        classification = classify("/shipment#something_new")

        assert classification.category == "other"
        assert not classification.known
        assert classification.name == "something_new"

    def test_an_unknown_shipment_delay_is_an_exception(self) -> None:
        classification = classify("/shipment#brand_new_delay")

        assert classification.category == "exception"
        assert classification.known
        assert not classification.documented

    @pytest.mark.parametrize(
        "event_type", ["/shipment#customs_quarantine_hold", "/shipment#customs_drone_exam"]
    )
    def test_an_unknown_customs_hold_or_exam_is_an_urgent_customs_event(
        self, event_type: str
    ) -> None:
        classification = classify(event_type)

        assert (classification.category, classification.urgent) == ("customs", True)

    @pytest.mark.parametrize(
        "event_type", ["/shipment_leg#brand_new_delay", "/shipment#customs_paperwork_filed"]
    )
    def test_the_name_rules_apply_only_where_they_say(self, event_type: str) -> None:
        assert classify(event_type).category == "other"

    @pytest.mark.parametrize(
        ("event_type", "category"),
        [
            ("/document#anything", "document"),
            ("/document#document_created", "document"),
            ("/purchase_order#x", "purchase_order"),
            ("/invoice#invoice_reissued", "invoice"),
            ("/ocean/shipment_container#gate_out", "container"),
        ],
    )
    def test_an_unknown_event_of_a_known_resource_follows_the_resource(
        self, event_type: str, category: str
    ) -> None:
        assert classify(event_type).category == category

    @pytest.mark.parametrize(
        ("resource_object", "category"),
        [
            ("/document", "document"),
            ("/purchase_order", "purchase_order"),
            ("/invoice", "invoice"),
            ("/ocean/shipment_container_leg", "container"),
        ],
    )
    def test_an_unknown_type_follows_the_resource_it_carries(
        self, resource_object: str, category: str
    ) -> None:
        assert classify("/widget#created", resource_object=resource_object).category == category

    @pytest.mark.parametrize("event_type", ["/widget#created", "/shipment", "weird", "/#"])
    def test_anything_else_is_other(self, event_type: str) -> None:
        assert classify(event_type).category == "other"


@pytest.mark.parametrize(("key", "expected"), COMPACT.items(), ids=[f"{t}:{m}" for t, m in COMPACT])
def test_every_compact_type_is_classified(
    key: tuple[str, str | None], expected: tuple[str, str | None]
) -> None:
    event_type, milestone = key
    classification = classify_compact(event_type, milestone=milestone)

    assert (classification.category, classification.milestone) == expected
    assert classification.known


@pytest.mark.parametrize(
    ("event_type", "milestone"),
    [
        ("shipment.teleported", None),
        ("widget.created", None),
        ("shipment.milestone", "teleported"),
        ("shipment.milestone", None),
        ("shipment", None),
    ],
)
def test_unknown_compact_types_are_other(event_type: str, milestone: str | None) -> None:
    classification = classify_compact(event_type, milestone=milestone)

    assert classification.category == "other"
    assert classification.milestone is None
    assert not classification.known


def test_compact_milestones_are_the_normalized_milestones() -> None:
    for milestone in MILESTONES:
        assert classify_compact("shipment.milestone", milestone=milestone).milestone == milestone


def test_every_category_produced_is_a_declared_category() -> None:
    produced = {classify(t).category for t in DOCUMENTED}
    produced |= {classify_compact(t, milestone=m).category for t, m in COMPACT}
    produced |= {classify("/shipment#something_new").category}

    assert produced <= set(CATEGORIES)
    assert produced == set(CATEGORIES), "a declared category that nothing produces"


def test_every_milestone_produced_is_a_declared_milestone() -> None:
    produced = {classify(t).milestone for t in DOCUMENTED} - {None}

    assert produced <= set(MILESTONES)
