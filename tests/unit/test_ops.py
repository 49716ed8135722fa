"""Ops alerts as plain values: incident keys, what the messages say, when a spool is stuck."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.core import ops_alerts

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_incident_keys_name_the_kind_and_the_thing() -> None:
    assert ops_alerts.event_failed_key("48262090") == "event-failed:48262090"
    assert ops_alerts.destination_failing_key("url-0123456789abcdef") == (
        "destination-failing:url-0123456789abcdef"
    )
    assert ops_alerts.SPOOL_STUCK == "spool-stuck"


@pytest.mark.parametrize(
    ("error", "shown"),
    [
        ("occurred_at is not a timestamp: 'soon'", "occurred_at is not a timestamp: 'soon'"),
        ("\n  first\nsecond\nthird", "first"),
        ("", ""),
        ("x" * 500, "x" * 299 + "…"),
    ],
)
def test_an_error_is_shown_by_its_first_line_only(error: str, shown: str) -> None:
    assert ops_alerts.first_line(error) == shown


@pytest.mark.parametrize(
    ("seconds", "words"),
    [(0, "0 s"), (45, "45 s"), (360, "6 min"), (7500, "2 h 5 min"), (7200, "2 h"),
     (3 * 86400 + 4 * 3600, "3 d 4 h"), (-5, "0 s")],
)  # fmt: skip
def test_durations_read_to_the_unit_that_matters(seconds: int, words: str) -> None:
    assert ops_alerts.duration(timedelta(seconds=seconds)) == words


def test_a_failed_event_alert_says_what_failed_and_nothing_of_the_payload() -> None:
    alert = ops_alerts.event_failed(
        event_id="48262090",
        event_type="/shipment_leg#departed",
        shipment_id="418563",
        error="occurred_at is not a timestamp: 'soon'\nTraceback (most recent call last): ...",
        failed_at=NOW,
    )

    assert alert.key == "event-failed:48262090"
    assert not alert.recovered
    assert "48262090" in alert.title
    facts = dict(alert.facts)
    assert facts["Type"] == "/shipment_leg#departed"
    assert facts["Shipment"] == "418563"
    assert facts["Error"] == "occurred_at is not a timestamp: 'soon'"
    assert "Traceback" not in repr(alert)


def test_a_failing_destination_is_named_by_its_privacy_form() -> None:
    alert = ops_alerts.destination_failing(
        destination_id="url-0123456789abcdef",
        destination="mailtos://u...r:****@smtp.example.com/ops%40example.com?cto=15",
        alert_kind="departed",
        event_id="48262090",
        shipment_id="418563",
        error="mailtos://u...r:****@smtp.example.com/ops%40example.com?cto=15: Apprise could not "
        "deliver (failure): connection refused",
        attempts=4,
    )

    assert alert.key == "destination-failing:url-0123456789abcdef"
    assert alert.title == (
        "flexhook: alerts to mailtos://u...r:****@smtp.example.com/ops%40example.com keep failing"
    )
    facts = dict(alert.facts)
    assert facts["Destination"] == "mailtos://u...r:****@smtp.example.com/ops%40example.com?cto=15"
    assert facts["Error"] == "Apprise could not deliver (failure): connection refused"
    assert facts["Attempts"] == "4"


def test_recoveries_say_how_long_it_lasted() -> None:
    since = NOW - timedelta(minutes=12)

    spool = ops_alerts.spool_recovered(since=since, now=NOW)
    destination = ops_alerts.destination_recovered(
        destination_id="url-1", destination="json://127.0.0.1:9/hook", failing_since=since, now=NOW
    )

    assert spool.recovered and destination.recovered
    assert dict(spool.facts)["Lasted"] == "12 min"
    assert "12 min" in spool.title
    assert dict(destination.facts)["Failing for"] == "12 min"


def state(
    depth: int, *, oldest_age: float | None = None, answers: bool = True
) -> ops_alerts.SpoolState:
    oldest = NOW - timedelta(seconds=oldest_age) if oldest_age is not None else None
    return ops_alerts.SpoolState(depth=depth, oldest_received_at=oldest, temporal_answers=answers)


def test_an_empty_spool_with_temporal_answering_is_no_trouble() -> None:
    assert not state(0).troubled
    assert state(1, oldest_age=0).troubled
    assert state(0, answers=False).troubled


def test_trouble_began_when_the_oldest_waiting_event_arrived() -> None:
    assert ops_alerts.trouble_began(state(3, oldest_age=90), now=NOW) == NOW - timedelta(seconds=90)
    assert ops_alerts.trouble_began(state(0, answers=False), now=NOW) == NOW
    # A clock a little behind the database's (another replica) never puts it in the future.
    assert ops_alerts.trouble_began(state(1, oldest_age=-5), now=NOW) == NOW


def test_stuck_means_troubled_for_longer_than_the_setting() -> None:
    after = timedelta(minutes=5)
    five_minutes_ago = NOW - after

    assert not ops_alerts.is_stuck(
        state(2, oldest_age=300), since=five_minutes_ago, now=NOW, after=after
    )
    later = NOW + timedelta(seconds=1)
    assert ops_alerts.is_stuck(
        state(2, oldest_age=301), since=five_minutes_ago, now=later, after=after
    )
    assert ops_alerts.is_stuck(
        state(0, answers=False), since=five_minutes_ago, now=later, after=after
    )
    assert not ops_alerts.is_stuck(state(0), since=five_minutes_ago, now=later, after=after)


@pytest.mark.parametrize(
    ("after", "every"),
    [(timedelta(minutes=5), 10), (timedelta(seconds=20), 4), (timedelta(seconds=1), 1),
     (timedelta(0), 1)],
)  # fmt: skip
def test_the_watch_looks_often_enough_to_be_at_most_a_fifth_late(
    after: timedelta, every: float
) -> None:
    assert ops_alerts.check_every(after) == timedelta(seconds=every)


def test_a_stuck_spool_alert_gives_depth_age_and_temporal() -> None:
    since = NOW - timedelta(minutes=7)

    waiting = ops_alerts.spool_stuck(state(3, oldest_age=420, answers=False), since=since, now=NOW)
    away = ops_alerts.spool_stuck(state(0, answers=False), since=since, now=NOW)

    assert waiting.title == "flexhook: 3 event(s) stuck in the spool for 7 min"
    assert dict(waiting.facts) == {
        "Spool depth": "3",
        "Oldest waiting for": "7 min",
        "Temporal": "unreachable",
        "Since": "2026-03-01 11:53:00 UTC",
        "For": "7 min",
    }
    assert away.title == "flexhook: Temporal unreachable for 7 min"
    assert dict(away.facts)["Oldest waiting for"] == "none waiting"
