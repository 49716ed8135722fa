"""Flexport's milestone reference: every documented webhook type, what it is and how to say it.

Pure data, standard library only. The list is the one Flexport's API reference ("Milestones")
publishes, as mirrored type for type in the public SDK distributeaid/flexport-sdk-js
(`src/events/Milestone.ts`, `src/events/MilestoneInfo.ts`, commit c91f16e4); the rows of
Flexport's own page that could be read match it string for string. 90 types: 42 exceptions and
delays, 9 customs holds and exams plus the release, 4 other customs steps, 9 transit, 7 container,
7 invoice, 6 milestone, 4 booking and 2 document types. No document or purchase-order type
string is published: those events are handled by the resource they carry.

Spelling as Flexport writes it, with two notes: `/shipments#commercial_invoices_digitized` is
written with the plural resource (kept here in the singular, as `classify` reads it); and the two
`/shipment_container_leg#...` types carry no `/ocean/` prefix although their resource does.
Categories of in-bond filing, FTZ admission and returned to shipper (customs) and of the
appointment types (transit) are ours: Flexport's text does not say.
"""

from __future__ import annotations

from typing import Final

# type -> (category, normalized milestone or None, a headline for people)
REFERENCE: Final[dict[str, tuple[str, str | None, str]]] = {
    # Estimated transit events
    "/shipment#schedule_confirmed": ("transit", None, "Schedule confirmed"),
    "/shipment_leg#updated_estimated_time_of_departure": (
        "transit",
        None,
        "Estimated departure updated",
    ),
    "/shipment_leg#updated_estimated_time_of_arrival": (
        "transit",
        None,
        "Estimated arrival updated",
    ),
    "/shipment_leg#updated_estimated_out_for_delivery": (
        "transit",
        None,
        "Estimated out-for-delivery date updated",
    ),
    "/shipment#updated_route": ("transit", None, "Route updated"),
    "/shipment_container_leg#updated_estimated_available_for_pickup": (
        "transit",
        None,
        "Estimated pickup availability updated",
    ),
    # Actual transit events (incl. container loading)
    "/shipment_leg#arrived": ("milestone", "arrived", "Arrived"),
    "/shipment_leg#departed": ("milestone", "departed", "Departed"),
    "/shipment_leg#out_for_delivery": ("milestone", "out_for_delivery", "Out for delivery"),
    "/shipment_leg#delivery_completed": ("milestone", "delivered", "Delivery completed"),
    "/ocean/shipment_container_leg#loaded_on_board": (
        "container",
        None,
        "Container loaded on board",
    ),
    "/ocean/shipment_leg#loaded_on_truck": ("container", None, "Cargo transloaded onto truck"),
    "/ocean/shipment_container_leg#unloaded_off_board": (
        "container",
        None,
        "Container unloaded off board",
    ),
    "/shipment_leg#delivered": ("milestone", "delivered", "Arrived at delivery location"),
    "/shipment#delivered_in_full": ("milestone", "delivered", "Delivered in full"),
    # Administrative / booking events
    "/shipment#created": ("booking", None, "Shipment created"),
    "/shipment#booking_confirmed": ("booking", None, "Air booking confirmed"),
    "/shipment#cargo_ready_date_changed": ("booking", None, "Cargo ready date changed"),
    "/shipment#updated_cargo_ready_date": ("booking", None, "Cargo ready date updated"),
    "/shipment#documents_sent_to_nominated_broker": (
        "document",
        None,
        "Documents sent to nominated broker",
    ),
    "/shipment#commercial_invoices_digitized": ("document", None, "Commercial invoices digitized"),
    # Customs release and holds/exams
    "/shipment#customs_entry_release_status_released": (
        "customs",
        "customs_cleared",
        "Customs released",
    ),
    "/shipment#customs_agriculture_hold": ("customs", None, "Customs hold: agriculture hold"),
    "/shipment#customs_entry_release_status_document_required": (
        "customs",
        None,
        "Customs hold: document required",
    ),
    "/shipment#customs_entry_release_status_entry_docs_required": (
        "customs",
        None,
        "Customs hold: entry documents required",
    ),
    "/shipment#customs_entry_release_status_pending_intensive_exam": (
        "customs",
        None,
        "Customs hold: pending intensive exam",
    ),
    "/shipment#customs_entry_release_status_release_suspended": (
        "customs",
        None,
        "Customs hold: release suspended",
    ),
    "/shipment#customs_entry_release_status_under_cbp_review": (
        "customs",
        None,
        "Customs hold: under CBP review",
    ),
    "/shipment#customs_undergoing_x_ray_exam": ("customs", None, "Customs hold: X-ray exam"),
    "/shipment#export_country_customs_exam": (
        "customs",
        None,
        "Customs hold: export country customs exam",
    ),
    "/shipment#export_country_magnetism_exam": (
        "customs",
        None,
        "Customs hold: export country magnetism exam",
    ),
    # Other milestones (containers, appointments, in-bond, FTZ, returns)
    "/ocean/shipment_container_leg#available_for_pickup": (
        "container",
        None,
        "Container available for pickup",
    ),
    "/shipment_leg#delivery_appointment_requested": (
        "transit",
        None,
        "Delivery appointment requested",
    ),
    "/shipment_leg#delivery_appointment_scheduled": (
        "transit",
        None,
        "Delivery appointment scheduled",
    ),
    "/shipment#filing_submitted_for_in_bond_transportation": (
        "customs",
        None,
        "Filing submitted for in-bond transportation",
    ),
    "/ocean/shipment_container#free_time_to_expire": (
        "container",
        None,
        "Container free time about to expire",
    ),
    "/ocean/shipment_container#free_time_expired": (
        "container",
        None,
        "Container free time expired",
    ),
    "/shipment#ftz_admission": ("customs", None, "FTZ admission"),
    "/ocean/shipment_container#empty_returned": ("container", None, "Empty container returned"),
    "/shipment#returned_to_shipper": ("customs", None, "Returned to shipper"),
    "/shipment_container_leg#delivery_appointment_scheduled": (
        "transit",
        None,
        "Delivery appointment scheduled (deprecated)",
    ),
    # Exception / delay events (42)
    "/shipment#cargo_breakdown_delay": ("exception", None, "Delayed: cargo breakdown"),
    "/shipment#cargo_bumped_from_booked_flight": (
        "exception",
        None,
        "Cargo bumped from booked flight",
    ),
    "/shipment#cargo_contamination_delay": ("exception", None, "Delayed: cargo contamination"),
    "/shipment#cargo_not_available": ("exception", None, "Cargo not available"),
    "/shipment#cargo_ready_date_changed_exception": (
        "exception",
        None,
        "Delayed: cargo ready date changed",
    ),
    "/shipment#cargo_rolled_from_booked_vessel": (
        "exception",
        None,
        "Cargo rolled from booked vessel",
    ),
    "/shipment#dry_run_pickup": ("exception", None, "Dry run: pickup not completed"),
    "/shipment#dry_run_delivery_attempt_not_completed": (
        "exception",
        None,
        "Dry run: delivery attempt not completed",
    ),
    "/shipment#equipment_unavailable": ("exception", None, "Equipment unavailable"),
    "/shipment#flight_delay_mechanical": ("exception", None, "Flight delayed: mechanical problem"),
    "/shipment#flight_delay_schedule_updated_by_carrier": (
        "exception",
        None,
        "Flight delayed: schedule updated by carrier",
    ),
    "/shipment#late_bill_of_lading_release": ("exception", None, "Late bill of lading release"),
    "/shipment#missed_appointment": ("exception", None, "Missed appointment"),
    "/shipment#missing_cargo": ("exception", None, "Cargo is missing"),
    "/shipment#no_appointments_available": ("exception", None, "No appointments available"),
    "/shipment#no_attempt_made": ("exception", None, "No delivery attempt made"),
    "/shipment#ocean_port_dwell_delay": ("exception", None, "Delayed: dwell at ocean port"),
    "/shipment#pending_customs_clearance_from_nominated_broker": (
        "exception",
        None,
        "Pending customs clearance from nominated broker",
    ),
    "/shipment#pending_delivery_appointment_confirmation": (
        "exception",
        None,
        "Pending delivery appointment confirmation",
    ),
    "/shipment#port_strike_delay": ("exception", None, "Delayed: port strike"),
    "/shipment#rail_car_equipment_breakdown": ("exception", None, "Rail car equipment breakdown"),
    "/shipment#rail_interchange_delay": ("exception", None, "Delayed: rail interchange"),
    "/shipment#rail_transfer_delay": ("exception", None, "Delayed: rail transfer"),
    "/shipment#shipment_rerouted_by_carrier": ("exception", None, "Rerouted by carrier"),
    "/shipment#shipment_rerouted_per_client_request": (
        "exception",
        None,
        "Rerouted per client request",
    ),
    "/shipment#supplier_late_gate_in": ("exception", None, "Supplier late gate-in"),
    "/shipment#supplier_late_documents": ("exception", None, "Supplier late documents"),
    "/shipment#transload_delay": ("exception", None, "Delayed: transload"),
    "/shipment#transshipment_delay": ("exception", None, "Delayed: transshipment"),
    "/shipment#trucker_rejected": ("exception", None, "Trucker rejected the load"),
    "/shipment#truckers_hours_expired": ("exception", None, "Trucker's hours expired"),
    "/shipment#trucking_delay_chassis_problem": (
        "exception",
        None,
        "Trucking delayed: chassis problem",
    ),
    "/shipment#trucking_delay_mechanical_problem": (
        "exception",
        None,
        "Trucking delayed: mechanical problem",
    ),
    "/shipment#trucking_delay_port_congestion": (
        "exception",
        None,
        "Trucking delayed: port congestion",
    ),
    "/shipment#trucking_delay_other": ("exception", None, "Trucking delayed: other reason"),
    "/shipment#trucking_delay_strike": ("exception", None, "Trucking delayed: strike"),
    "/shipment#trucking_delay_traffic": ("exception", None, "Trucking delayed: traffic"),
    "/shipment#vessel_delay_mechanical": ("exception", None, "Vessel delayed: mechanical problem"),
    "/shipment#vessel_delay_port_congestion": (
        "exception",
        None,
        "Vessel delayed: port congestion",
    ),
    "/shipment#vessel_delay_schedule_updated_by_carrier": (
        "exception",
        None,
        "Vessel delayed: schedule updated by carrier",
    ),
    "/shipment#warehouse_devan_delay": ("exception", None, "Delayed: warehouse devanning"),
    "/shipment#weather_delay": ("exception", None, "Delayed: weather"),
    # Invoice events
    "/invoice#invoice_payment_made": ("invoice", None, "Invoice payment made"),
    "/invoice#invoice_due_date_adjusted": ("invoice", None, "Invoice due date adjusted"),
    "/invoice#invoice_shared": ("invoice", None, "Invoice shared"),
    "/invoice#invoice_voided": ("invoice", None, "Invoice voided"),
    "/invoice#invoice_credit_applied": ("invoice", None, "Invoice credit applied"),
    "/invoice#invoice_refund_applied": ("invoice", None, "Invoice refund applied"),
    "/invoice#invoice_payment_failed": ("invoice", None, "Invoice payment failed"),
}

# The customs types that hold the cargo or examine it: urgent news. The release is not one.
CUSTOMS_HOLDS: Final[frozenset[str]] = frozenset(
    {
        "/shipment#customs_agriculture_hold",
        "/shipment#customs_entry_release_status_document_required",
        "/shipment#customs_entry_release_status_entry_docs_required",
        "/shipment#customs_entry_release_status_pending_intensive_exam",
        "/shipment#customs_entry_release_status_release_suspended",
        "/shipment#customs_entry_release_status_under_cbp_review",
        "/shipment#customs_undergoing_x_ray_exam",
        "/shipment#export_country_customs_exam",
        "/shipment#export_country_magnetism_exam",
    }
)
