"""The tracking page's public view model: exactly the allowlisted fields, times in each place's
own zone, places that never name a party, and open problems: the shipment's exceptions not
resolved, each by its family's label and since when."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from app.core.tracking import (
    PUBLIC_FIELDS,
    ContainerFacts,
    MilestoneFacts,
    OpenException,
    Problem,
    ShipmentFacts,
    TrackingFacts,
    build_view,
    local_time,
    view_field_names,
)

DEPARTED = datetime(2026, 2, 26, 13, 20, tzinfo=UTC)
ARRIVED = datetime(2026, 3, 15, 12, 42, tzinfo=UTC)
YANTIAN: dict[str, Any] = {
    "location_name": "Yantian, China",
    "location_unlocode": "CNYTN",
    "location_country": "CN",
    "location_timezone": "Asia/Shanghai",
}
LOS_ANGELES: dict[str, Any] = {
    "location_name": "Los Angeles, CA",
    "location_unlocode": "USLAX",
    "location_country": "US",
    "location_timezone": "America/Los_Angeles",
}


def facts(
    *,
    status: str | None = "departed",
    milestones: tuple[MilestoneFacts, ...] = (),
    problems: tuple[OpenException, ...] = (),
    **shipment: Any,
) -> TrackingFacts:
    return TrackingFacts(
        shipment=ShipmentFacts(id="418563", status=status, **shipment),
        milestones=milestones,
        open_exceptions=problems,
    )


def test_the_view_model_has_exactly_the_allowlisted_fields() -> None:
    assert view_field_names() == PUBLIC_FIELDS
    assert PUBLIC_FIELDS["TrackingView"] == {
        "reference",
        "mode",
        "status",
        "status_time",
        "place",
        "eta",
        "timeline",
        "containers",
        "problems",
        "eta_chart",
    }


def test_each_time_is_in_its_place_s_zone_and_in_utc_when_the_zone_is_unknown() -> None:
    view = build_view(
        facts(
            status="arrived",
            milestones=(
                MilestoneFacts("departed", DEPARTED, **YANTIAN),
                MilestoneFacts("arrived", ARRIVED, **LOS_ANGELES),
            ),
            status_at=ARRIVED,
            **LOS_ANGELES,
        )
    )

    departed, arrived = (s for s in view.timeline if s.time is not None)
    assert departed.time is not None and departed.time.text == "26 Feb 2026 21:20 CST"
    assert arrived.time is not None and arrived.time.text == "15 Mar 2026 05:42 PDT"
    assert arrived.time.iso == "2026-03-15T05:42:00-07:00"
    assert view.status_time == arrived.time and view.place == "Los Angeles, CA"
    assert local_time(DEPARTED, "Not/AZone") == local_time(DEPARTED, None)
    assert local_time(DEPARTED, None) is not None
    assert local_time(DEPARTED, None).text == "26 Feb 2026 13:20 UTC"  # type: ignore[union-attr]


def test_one_step_per_moment_and_the_milestones_ahead_stay_ahead() -> None:
    compact = MilestoneFacts("departed", DEPARTED, "Yantian, China", None, "CN", None)
    view = build_view(facts(milestones=(compact, MilestoneFacts("departed", DEPARTED, **YANTIAN))))

    assert [(s.milestone, s.reached) for s in view.timeline] == [
        ("Cargo ready", True),
        ("Departed", True),
        ("Arrived", False),
        ("Cleared customs", False),
        ("Out for delivery", False),
        ("Delivered", False),
    ]
    departed = view.timeline[1]
    assert departed.place == "Yantian, China" and departed.time is not None
    assert departed.time.text.endswith("CST")


def test_a_place_without_a_un_locode_is_named_by_its_country_only() -> None:
    warehouse: dict[str, Any] = {
        "location_name": "Acme Outfitters DC - Ontario",
        "location_unlocode": None,
        "location_country": "US",
        "location_timezone": "America/Los_Angeles",
    }
    view = build_view(
        facts(
            status="delivered",
            milestones=(MilestoneFacts("delivered", ARRIVED, **warehouse),),
            **warehouse,
        )
    )

    assert view.place == "US" and view.timeline[-1].place == "US"
    assert "Acme" not in repr(view)


def test_the_eta_says_how_far_it_moved_from_the_first_estimate() -> None:
    first = datetime(2026, 3, 13, 15, 0, tzinfo=UTC)
    later = first + timedelta(days=1, hours=22)
    moved = TrackingFacts(
        shipment=ShipmentFacts(id="418563", estimated_arrival=later),
        eta_estimates=(first, first + timedelta(hours=3), later),
    )
    view = build_view(moved)

    assert view.eta.moved == "1 d 22 h later than first estimated"
    assert view.eta.original == local_time(first, None)
    assert view.eta.current == local_time(later, None)
    earlier = TrackingFacts(
        shipment=ShipmentFacts(id="418563", estimated_arrival=first - timedelta(hours=5)),
        eta_estimates=(first,),
    )
    assert build_view(earlier).eta.moved == "5 h earlier than first estimated"
    unmoved = TrackingFacts(
        ShipmentFacts(id="418563", estimated_arrival=first), eta_estimates=(first,)
    )
    assert build_view(unmoved).eta.moved == ""


def test_each_open_exception_is_its_family_s_label_since_it_opened_in_the_shipment_s_zone() -> None:
    opened = DEPARTED + timedelta(days=2)
    problems = (
        OpenException("departure_delay", opened + timedelta(hours=1)),
        OpenException("customs_hold", opened),
        OpenException("charges", opened),  # commercial: never on the public page
        OpenException("no_such_family", opened),  # a family since renamed: nothing to say
    )

    view = build_view(facts(problems=problems, **YANTIAN))

    assert view.problems == (
        Problem("Customs hold", local_time(opened, "Asia/Shanghai")),
        Problem("Departure delay", local_time(opened + timedelta(hours=1), "Asia/Shanghai")),
    )
    assert view.problems[0].since is not None
    assert view.problems[0].since.text == "28 Feb 2026 21:20 CST"


def test_a_shipment_without_open_exceptions_has_no_problems() -> None:
    assert build_view(facts(status="delivered", delivered_at=ARRIVED)).problems == ()


def test_containers_show_kind_last_event_and_place_in_its_zone() -> None:
    container = ContainerFacts(
        number="CSNU7261843",
        container_type="dry",
        container_size="fourty_ft_hc",
        last_event="empty_returned",
        last_event_at=ARRIVED,
        location_name="Los Angeles, CA",
        location_unlocode="USLAX",
        location_country="US",
    )
    arrived = MilestoneFacts("arrived", ARRIVED, **LOS_ANGELES)
    view = build_view(
        TrackingFacts(ShipmentFacts(id="418563"), milestones=(arrived,), containers=(container,))
    )

    [line] = view.containers
    assert (line.number, line.kind, line.last_event, line.place) == (
        "CSNU7261843",
        "40 ft HC dry",
        "Empty returned",
        "Los Angeles, CA",
    )
    assert line.last_event_time is not None and line.last_event_time.text.endswith("PDT")
