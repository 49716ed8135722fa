"""The ETA history and its chart, as plain functions over observations made from Flexport's own
ETA event (`07_eta_updated`) re-issued with other ids, times and estimates."""

from __future__ import annotations

import copy
import itertools
import json
import random
from datetime import UTC, datetime, timedelta

from app.core.eta_history import (
    EtaReport,
    eta_chart,
    eta_history,
    reported_at,
    show_slip,
    slip_days,
)
from app.core.events import parse_event
from app.store.projection import make_stamp
from tests.helpers import load_sample


def eta_event(event_id: int, occurred_at: str, estimate: str) -> bytes:
    """Flexport's ETA update of shipment 418563 as another event: its id, when, the new ETA."""
    payload = copy.deepcopy(load_sample("07_eta_updated"))
    payload["id"] = event_id
    payload["occurred_at"] = occurred_at
    payload["data"]["resource"]["estimated_arrival_date"] = estimate
    payload["data"]["shipment"]["estimated_arrival_date"] = estimate
    return json.dumps(payload).encode()


def observed(body: bytes) -> EtaReport:
    """The observation the projection keeps of one delivery."""
    event = parse_event(body)
    occurred_at = event.occurred_at()
    shipment = event.facts().shipment
    assert occurred_at is not None and shipment is not None
    assert shipment.estimated_arrival is not None
    return EtaReport(
        event_id=event.event_id,
        stamp=make_stamp(occurred_at, event.event_id),
        estimate=shipment.estimated_arrival,
    )


# The voyage of shipment 418563: first estimate the 15th, slipping to the 18th, then the 17th.
JOURNEY = [
    observed(eta_event(48290377, "2026-03-05T17:44:09.930Z", "2026-03-15T06:00:00.000-07:00")),
    observed(eta_event(48290401, "2026-03-07T09:00:00.000Z", "2026-03-16T06:00:00.000-07:00")),
    # The same estimate again, from the carrier's next schedule: no new point.
    observed(eta_event(48290455, "2026-03-08T12:30:00.000Z", "2026-03-16T06:00:00.000-07:00")),
    observed(eta_event(48290502, "2026-03-10T02:15:00.000Z", "2026-03-18T06:00:00.000-07:00")),
    observed(eta_event(48290610, "2026-03-12T20:00:00.000Z", "2026-03-17T22:00:00.000-07:00")),
]
ARRIVED = datetime(2026, 3, 18, 4, 30, tzinfo=UTC)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def test_the_history_is_each_change_in_reporting_order() -> None:
    points = eta_history(JOURNEY, actual_arrival=None)
    assert [(p.event_id, p.estimate, p.reported_at) for p in points] == [
        ("48290377", utc("2026-03-15T13:00:00+00:00"), utc("2026-03-05T17:44:09.930+00:00")),
        ("48290401", utc("2026-03-16T13:00:00+00:00"), utc("2026-03-07T09:00:00+00:00")),
        ("48290502", utc("2026-03-18T13:00:00+00:00"), utc("2026-03-10T02:15:00+00:00")),
        ("48290610", utc("2026-03-18T05:00:00+00:00"), utc("2026-03-12T20:00:00+00:00")),
    ]


def test_every_order_the_rows_were_written_in_gives_the_same_history() -> None:
    expected = eta_history(JOURNEY, actual_arrival=ARRIVED)
    chart = eta_chart(expected, actual_arrival=ARRIVED)
    for order in itertools.permutations(JOURNEY):
        points = eta_history(order, actual_arrival=ARRIVED)
        assert points == expected, [r.event_id for r in order]
        assert eta_chart(points, actual_arrival=ARRIVED) == chart


def test_the_same_event_twice_adds_one_point() -> None:
    first = JOURNEY[1]
    # Written twice, once with another estimate: whichever order, one point for the event.
    twin = EtaReport(first.event_id, first.stamp, first.estimate + timedelta(days=9))
    for reports in ([*JOURNEY, first, twin], [twin, first, *JOURNEY]):
        points = eta_history(reports, actual_arrival=None)
        assert [p.event_id for p in points] == ["48290377", "48290401", "48290502", "48290610"]
        assert [p.event_id for p in points].count(first.event_id) == 1


def test_a_report_repeating_the_estimate_in_another_zone_adds_no_point() -> None:
    again = observed(eta_event(48290700, "2026-03-13T08:00:00.000Z", "2026-03-18T05:00:00.000Z"))
    points = eta_history([*JOURNEY, again], actual_arrival=None)
    assert [p.event_id for p in points][-1] == "48290610"


def test_an_estimate_that_returns_to_an_earlier_one_is_a_revision() -> None:
    back = observed(eta_event(48290720, "2026-03-14T08:00:00.000Z", "2026-03-15T06:00:00-07:00"))
    points = eta_history([*JOURNEY, back], actual_arrival=None)
    assert [p.event_id for p in points][-1] == "48290720"


def test_reports_made_after_the_arrival_add_no_point() -> None:
    late = observed(eta_event(48290800, "2026-03-20T08:00:00.000Z", "2026-03-25T06:00:00-07:00"))
    with_late = eta_history([late, *JOURNEY], actual_arrival=ARRIVED)
    assert with_late == eta_history(JOURNEY, actual_arrival=ARRIVED)
    # Before the arrival is known, the same report is the latest estimate.
    assert eta_history([late, *JOURNEY], actual_arrival=None)[-1].event_id == "48290800"


def test_a_report_at_the_moment_of_arrival_adds_no_point() -> None:
    # Flexport's arrival event carries the ETA the shipment had: no forecast any more.
    at_arrival = EtaReport("e-at", make_stamp(ARRIVED, "e-at"), ARRIVED + timedelta(hours=9))
    just_before = ARRIVED - timedelta(microseconds=1)
    before = EtaReport("e-before", make_stamp(just_before, "e-before"), ARRIVED)
    points = eta_history([*JOURNEY, at_arrival, before], actual_arrival=ARRIVED)
    assert points[-1].event_id == "e-before"


def test_the_stamp_order_breaks_ties_by_event_id() -> None:
    when = datetime(2026, 3, 9, 0, 0, tzinfo=UTC)
    a = EtaReport("a", make_stamp(when, "a"), utc("2026-03-20T00:00:00+00:00"))
    b = EtaReport("b", make_stamp(when, "b"), utc("2026-03-21T00:00:00+00:00"))
    assert [p.event_id for p in eta_history([b, a], actual_arrival=None)] == ["a", "b"]


def test_a_stamp_reads_back_as_its_time_in_utc() -> None:
    assert reported_at("2026-03-05T17:44:09.930000|48290377") == utc("2026-03-05T17:44:09.930Z")


def test_the_slip_is_signed_days_from_the_original_estimate() -> None:
    points = eta_history(JOURNEY, actual_arrival=None)
    # From the 15th 13:00 to the latest estimate, the 18th 05:00: 2 days 16 hours.
    assert slip_days(points, actual_arrival=None) == 2.7
    # Once arrived, to the actual arrival: the 18th 04:30.
    assert slip_days(points, actual_arrival=ARRIVED) == 2.6
    early = datetime(2026, 3, 13, 13, 0, tzinfo=UTC)
    assert slip_days(points, actual_arrival=early) == -2.0
    assert [show_slip(d) for d in (3.0, -1.5, 0.0, -0.0)] == [
        "+3.0 days",
        "-1.5 days",
        "+0.0 days",
        "+0.0 days",
    ]
    assert slip_days((), actual_arrival=None) == 0.0


def test_the_chart_marks_the_original_each_revision_and_the_arrival() -> None:
    points = eta_history(JOURNEY, actual_arrival=ARRIVED)
    chart = eta_chart(points, actual_arrival=ARRIVED)
    assert chart is not None
    assert [m.kind for m in chart.marks] == ["original", "revised", "revised", "revised", "arrived"]
    assert chart.slip == "+2.6 days"
    # Text on the chart for the original, the last revision and the arrival.
    assert [m.label.text if m.label else None for m in chart.marks] == [
        "original",
        None,
        None,
        "revised",
        "arrived",
    ]
    assert chart.marks[0].estimate == "15 Mar 2026 13:00 UTC"
    assert chart.marks[0].reported == "5 Mar 2026 17:44 UTC"
    assert chart.marks[-1].estimate == chart.marks[-1].reported == "18 Mar 2026 04:30 UTC"
    assert chart.description == (
        "Original estimate 15 Mar 2026 13:00 UTC; 3 revisions, latest 18 Mar 2026 05:00 UTC; "
        "arrived 18 Mar 2026 04:30 UTC; total slip +2.6 days."
    )
    # The chart names no event: a public page may show it.
    assert not any(r.event_id in repr(chart) for r in JOURNEY)


def test_the_chart_geometry_stays_inside_the_plot_and_later_is_higher() -> None:
    points = eta_history(JOURNEY, actual_arrival=ARRIVED)
    chart = eta_chart(points, actual_arrival=ARRIVED)
    assert chart is not None
    for mark in chart.marks:
        assert chart.left <= mark.x <= chart.right and chart.top <= mark.y <= chart.bottom
    xs = [m.x for m in chart.marks]
    assert xs == sorted(xs)
    original, first_revision, second_revision = chart.marks[:3]
    assert second_revision.y < first_revision.y < original.y  # the ETA slipped: higher up
    for ticks, low, high in (
        (chart.x_ticks, chart.left, chart.right),
        (chart.y_ticks, chart.bottom, chart.top),
    ):
        assert 2 <= len(ticks) <= 6
        assert ticks[0].at == low and all(min(low, high) <= t.at <= max(low, high) for t in ticks)
    assert chart.x_ticks[0].label == "5 Mar" and chart.y_ticks[0].label == "15 Mar"
    # The original estimate holds until the first revision; each revision steps up or down.
    assert chart.original_path == f"M{original.x} {original.y} H{first_revision.x}"
    assert chart.revised_path.startswith(f"M{first_revision.x} {original.y} V{first_revision.y}")
    assert chart.revised_path.count("V") == 3


def test_one_estimate_is_a_chart_with_no_revision() -> None:
    points = eta_history(JOURNEY[:1], actual_arrival=None)
    chart = eta_chart(points, actual_arrival=None)
    assert chart is not None
    assert [m.kind for m in chart.marks] == ["original"] and chart.revised_path == ""
    assert chart.slip == "+0.0 days"
    assert eta_chart((), actual_arrival=None) is None


def test_a_shuffled_long_history_charts_the_same() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    reports = [
        observed(
            eta_event(
                50000000 + i,
                (start + timedelta(hours=7 * i)).isoformat(),
                (start + timedelta(days=30, hours=(i * 37) % 120)).isoformat(),
            )
        )
        for i in range(60)
    ]
    expected = eta_chart(eta_history(reports, actual_arrival=None), actual_arrival=None)
    shuffler = random.Random(18)
    for _ in range(20):
        shuffler.shuffle(reports)
        assert eta_chart(eta_history(reports, actual_arrival=None), actual_arrival=None) == expected


def test_labels_of_marks_close_together_do_not_overlap() -> None:
    # Revised a day before it arrived: the revision's label goes below, the arrival's above.
    revision = observed(eta_event(48290900, "2026-03-17T04:00:00.000Z", "2026-03-18T04:00:00Z"))
    points = eta_history([JOURNEY[0], revision], actual_arrival=ARRIVED)
    chart = eta_chart(points, actual_arrival=ARRIVED)
    assert chart is not None
    original, revised, arrived = chart.marks
    assert revised.label is not None and arrived.label is not None
    assert revised.label.y > revised.y and arrived.label.y < arrived.y
    assert original.label is not None and original.label.y > original.y
    # Far apart, a revision is labelled above its mark.
    far = eta_chart(eta_history(JOURNEY, actual_arrival=ARRIVED), actual_arrival=ARRIVED)
    assert far is not None
    last_revision = far.marks[-2]
    assert last_revision.label is not None and last_revision.label.y < last_revision.y
    # Every tick label has room inside the canvas.
    assert far.x_ticks[-1].at + 24 <= far.width and far.y_ticks[0].at + 24 <= far.height


def test_estimates_at_the_ends_of_the_calendar_still_chart() -> None:
    # A report gone wrong (or made up) must not break the shipment's page.
    first = observed(eta_event(48291000, "0001-01-01T00:30:00Z", "0001-01-02T00:00:00Z"))
    last = observed(eta_event(48291001, "2026-03-06T00:00:00Z", "9999-12-31T23:59:59.999999Z"))
    points = eta_history([first, last], actual_arrival=None)
    chart = eta_chart(points, actual_arrival=None)
    assert chart is not None
    for ticks, first_day in ((chart.x_ticks, "1 Jan 1"), (chart.y_ticks, "2 Jan 1")):
        assert 2 <= len(ticks) <= 6 and ticks[0].label == first_day
    for mark in chart.marks:
        assert chart.left <= mark.x <= chart.right and chart.top <= mark.y <= chart.bottom
    assert chart.slip == "+3652058.0 days"
