"""The time rules of quiet hours and the daily digest (`app.core.schedule`), the preferences
over them (`app.core.preferences`) and the configuration file's `flexhook:` section
(`activities.preferences`): plain functions, across midnight and both DST changes."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from app.core.alert import Alert
from app.core.preferences import (
    RELEASE_GRACE,
    InvalidPreferences,
    Preferences,
    hold_until,
    is_urgent,
    next_release,
    parse_preferences,
)
from app.core.schedule import (
    QuietHours,
    ScheduleError,
    is_quiet,
    local_instant,
    next_digest,
    parse_clock,
    parse_zone,
    quiet_end,
)
from notifications.destinations import NotifyConfig, parse_rules
from notifications.notifier import load_config

BERLIN = ZoneInfo("Europe/Berlin")  # CET +01:00, CEST +02:00; 2026: forward 29 Mar, back 25 Oct
NEW_YORK = ZoneInfo("America/New_York")  # 2026: forward 8 Mar, back 1 Nov
NIGHT = QuietHours.parse("22:00-07:00")


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def local(text: str, zone: ZoneInfo = BERLIN, *, fold: int = 0) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=zone, fold=fold)


def alert(kind: str = "departed", event_type: str = "/shipment_leg#departed") -> Alert:
    return Alert(
        kind=kind,
        event_id="evt_1",
        event_type=event_type,
        shipment_id="418563",
        headline=kind,
        occurred_at="2026-03-01T00:00:00+00:00",
    )


# -- reading times, ranges and zones ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"), [("07:30", time(7, 30)), ("7:05", time(7, 5)), (" 23:59 ", time(23, 59))]
)
def test_clock_times_are_24_hour(text: str, expected: time) -> None:
    assert parse_clock(text) == expected


@pytest.mark.parametrize("text", ["24:00", "7", "07:60", "7.30", "7:30pm", "", "07:30:00"])
def test_a_clock_time_that_is_not_hh_mm_is_refused_with_the_reason(text: str) -> None:
    with pytest.raises(ScheduleError, match="HH:MM"):
        parse_clock(text)


def test_quiet_hours_read_a_range_and_refuse_an_empty_one() -> None:
    assert QuietHours(time(22), time(7)) == NIGHT and NIGHT.spans_midnight
    assert str(QuietHours.parse("9:00-17:30")) == "09:00-17:30"
    with pytest.raises(ScheduleError, match="different times"):
        QuietHours.parse("07:00-07:00")
    for bad in ("22:00", "22:00-07:00-08:00", "late-early"):
        with pytest.raises(ScheduleError):
            QuietHours.parse(bad)


@pytest.mark.parametrize("name", ["Mars/Olympus", "../../etc/passwd", "", "Europe/", "local time"])
def test_an_unknown_zone_is_refused(name: str) -> None:
    with pytest.raises(ScheduleError, match="timezone"):
        parse_zone(name)


# -- quiet hours -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "quiet"),
    [
        ("2026-06-10T21:59:59", False),
        ("2026-06-10T22:00:00", True),
        ("2026-06-10T23:59:00", True),
        ("2026-06-11T00:00:00", True),
        ("2026-06-11T06:59:59", True),
        ("2026-06-11T07:00:00", False),
        ("2026-06-11T12:00:00", False),
    ],
)
def test_a_range_past_midnight_is_quiet_from_its_start_to_its_end(moment: str, quiet: bool) -> None:
    assert is_quiet(local(moment), NIGHT, BERLIN) is quiet


def test_quiet_hours_end_at_the_next_end_in_the_recipients_zone() -> None:
    late, early = local("2026-06-10T23:30"), local("2026-06-11T02:00")
    assert quiet_end(late, NIGHT, BERLIN) == local("2026-06-11T07:00")
    assert quiet_end(early, NIGHT, BERLIN) == local("2026-06-11T07:00")
    # Outside quiet hours: the end of the next period.
    assert quiet_end(local("2026-06-11T12:00"), NIGHT, BERLIN) == local("2026-06-12T07:00")
    day = QuietHours.parse("12:00-13:00")
    assert quiet_end(local("2026-06-11T12:30"), day, BERLIN) == local("2026-06-11T13:00")
    assert quiet_end(local("2026-06-11T13:00"), day, BERLIN) == local("2026-06-12T13:00")


def test_the_same_instant_is_quiet_in_one_zone_and_not_in_another() -> None:
    moment = utc("2026-06-10T21:30:00")  # 23:30 in Berlin, 17:30 in New York
    assert is_quiet(moment, NIGHT, BERLIN)
    assert not is_quiet(moment, NIGHT, NEW_YORK)


def test_a_night_the_clocks_go_forward_is_an_hour_shorter() -> None:
    start, end = local("2026-03-28T22:00"), local("2026-03-29T07:00")
    assert end.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=8)
    assert is_quiet(local("2026-03-29T03:30"), NIGHT, BERLIN)  # just after the jump
    assert quiet_end(local("2026-03-29T01:30"), NIGHT, BERLIN) == end
    assert end.astimezone(UTC) == utc("2026-03-29T05:00:00")  # CEST


def test_a_night_the_clocks_go_back_is_an_hour_longer() -> None:
    first, second = local("2026-10-25T02:30", fold=0), local("2026-10-25T02:30", fold=1)
    assert second.astimezone(UTC) - first.astimezone(UTC) == timedelta(hours=1)  # twice 02:30
    assert is_quiet(first, NIGHT, BERLIN) and is_quiet(second, NIGHT, BERLIN)
    end = quiet_end(first, NIGHT, BERLIN)
    assert end == quiet_end(second, NIGHT, BERLIN) == local("2026-10-25T07:00")
    assert end.astimezone(UTC) - local("2026-10-24T22:00").astimezone(UTC) == timedelta(hours=10)


def test_a_range_ending_in_the_skipped_hour_ends_as_calendars_read_it() -> None:
    # 02:30 does not exist on 29 March in Berlin: read with the offset before the jump, it is
    # 03:30 CEST (RFC 5545), so the quiet period runs until then, and nothing is quiet twice.
    quiet = QuietHours.parse("01:00-02:30")
    assert local_instant(date(2026, 3, 29), time(2, 30), BERLIN) == utc("2026-03-29T01:30:00")
    assert quiet_end(local("2026-03-29T01:15"), quiet, BERLIN) == utc("2026-03-29T01:30:00")
    assert is_quiet(local("2026-03-29T03:10"), quiet, BERLIN)
    assert not is_quiet(local("2026-03-29T03:30"), quiet, BERLIN)


def test_a_range_inside_the_skipped_hour_moves_with_it() -> None:
    # 02:10-02:50 is read with the offset before the jump: 03:10-03:50 CEST that night.
    inside = QuietHours.parse("02:10-02:50")
    assert not is_quiet(local("2026-03-29T01:59"), inside, BERLIN)
    assert is_quiet(local("2026-03-29T03:20"), inside, BERLIN)
    assert quiet_end(local("2026-03-29T03:20"), inside, BERLIN) == local("2026-03-29T03:50")


def test_a_range_from_the_skipped_hour_to_its_end_is_no_quiet_period_that_night() -> None:
    # 02:30 reads as 03:30 CEST, after the 03:00 end: nothing is quiet that night.
    gone = QuietHours.parse("02:30-03:00")
    for moment in ("2026-03-29T01:59", "2026-03-29T03:00", "2026-03-29T03:40"):
        assert not is_quiet(local(moment), gone, BERLIN)
    assert quiet_end(local("2026-03-29T01:00"), gone, BERLIN) == local("2026-03-30T03:00")


# -- the daily digest ------------------------------------------------------------------------


def test_the_next_digest_is_the_first_after_now_one_per_local_date() -> None:
    eight = time(8)
    before = next_digest(local("2026-06-10T07:59:59"), eight, BERLIN)
    at = next_digest(local("2026-06-10T08:00:00"), eight, BERLIN)
    assert (before.due, before.local_date) == (local("2026-06-10T08:00"), date(2026, 6, 10))
    assert (at.due, at.local_date) == (local("2026-06-11T08:00"), date(2026, 6, 11))


def test_the_digest_date_is_the_recipients_date_not_utcs() -> None:
    # 22:00 UTC on 10 June is already 11 June in Berlin: the next 00:15 digest is of 11 June.
    digest = next_digest(utc("2026-06-10T22:00:00"), time(0, 15), BERLIN)
    assert digest.local_date == date(2026, 6, 11)
    assert digest.due == utc("2026-06-10T22:15:00")


def test_digests_keep_their_wall_clock_time_across_both_dst_changes() -> None:
    eight = time(8)
    moment, seen = local("2026-03-27T09:00"), []
    for _ in range(3):
        digest = next_digest(moment, eight, BERLIN)
        seen.append(digest.due.astimezone(BERLIN).strftime("%m-%d %H:%M %Z"))
        moment = digest.due
    assert seen == ["03-28 08:00 CET", "03-29 08:00 CEST", "03-30 08:00 CEST"]
    autumn = next_digest(local("2026-10-24T09:00"), eight, BERLIN)
    assert autumn.due - local("2026-10-24T08:00").astimezone(UTC) == timedelta(hours=25)


def test_a_digest_in_the_skipped_hour_is_sent_once_that_day() -> None:
    digest = next_digest(local("2026-03-29T00:00"), time(2, 30), BERLIN)
    assert digest.local_date == date(2026, 3, 29)
    assert digest.due == utc("2026-03-29T01:30:00")  # 03:30 CEST
    assert next_digest(digest.due, time(2, 30), BERLIN).local_date == date(2026, 3, 30)


def test_a_digest_in_the_repeated_hour_goes_at_its_first_occurrence() -> None:
    digest = next_digest(local("2026-11-01T00:00", NEW_YORK), time(1, 30), NEW_YORK)
    assert digest.due == utc("2026-11-01T05:30:00")  # 01:30 EDT, not EST
    assert next_digest(digest.due, time(1, 30), NEW_YORK).local_date == date(2026, 11, 2)


# -- preferences -----------------------------------------------------------------------------


def test_preferences_default_to_instant_in_utc_and_normalise_times() -> None:
    assert parse_preferences() == Preferences()
    digest = parse_preferences(delivery="digest", digest_at="7:30", timezone="Asia/Shanghai")
    assert (digest.delivery, digest.digest_at, digest.timezone) == (
        "digest",
        "07:30",
        "Asia/Shanghai",
    )
    assert parse_preferences(quiet_hours="22:00-7:00").quiet_hours == "22:00-07:00"


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ({"delivery": "weekly"}, "delivery must be one of"),
        ({"delivery": "digest"}, "digest_at .* is required"),
        ({"delivery": "digest", "digest_at": "25:00"}, "digest_at must be a 24-hour time"),
        ({"digest_at": "08:00"}, "only applies with delivery digest"),
        (
            {"delivery": "digest", "digest_at": "08:00", "quiet_hours": "22:00-07:00"},
            "quiet_hours apply to instant delivery",
        ),
        ({"quiet_hours": "22-7"}, "quiet_hours start must be"),
        ({"timezone": "Berlin"}, "unknown timezone 'Berlin'"),
        ({"delivery": "digest", "digest_at": 480}, "quote times in YAML"),
    ],
)
def test_preferences_that_cannot_be_honoured_say_why(
    values: dict[str, object], reason: str
) -> None:
    with pytest.raises(InvalidPreferences, match=reason):
        parse_preferences(**values)


@pytest.mark.parametrize(
    ("kind", "event_type", "urgent"),
    [
        ("exception", "/shipment#weather_delay", True),
        ("eta_missed", "eta_missed", True),
        ("customs", "/shipment#customs_agriculture_hold", True),
        ("customs", "/shipment#customs_entry_release_status_released", False),
        ("customs", "shipment.milestone", False),  # the compact release
        ("departed", "/shipment_leg#departed", False),
        ("eta", "/shipment_leg#updated_estimated_time_of_arrival", False),
    ],
)
def test_exceptions_customs_holds_and_missed_etas_are_urgent(
    kind: str, event_type: str, urgent: bool
) -> None:
    assert is_urgent(alert(kind, event_type)) is urgent


def test_quiet_hours_hold_routine_alerts_until_they_end_and_let_urgent_ones_through() -> None:
    quiet = parse_preferences(quiet_hours="22:00-07:00", timezone="Europe/Berlin")
    night, day = local("2026-06-10T23:00"), local("2026-06-10T12:00")
    assert hold_until(quiet, alert(), now=night) == local("2026-06-11T07:00")
    assert hold_until(quiet, alert(), now=day) is None
    assert hold_until(quiet, alert("exception", "/shipment#weather_delay"), now=night) is None
    hold = alert("customs", "/shipment#customs_undergoing_x_ray_exam")
    assert hold_until(quiet, hold, now=night) is None
    assert hold_until(Preferences(), alert(), now=night) is None


def test_held_alerts_are_looked_for_at_the_end_of_quiet_hours_and_once_more_after_it() -> None:
    # An alert held in the last instant may commit its ledger row just after the release.
    end = local("2026-06-11T07:00")
    assert next_release(NIGHT, BERLIN, now=local("2026-06-10T23:00")) == end
    assert next_release(NIGHT, BERLIN, now=end) == end + RELEASE_GRACE
    assert next_release(NIGHT, BERLIN, now=end + RELEASE_GRACE) == local("2026-06-12T07:00")
    assert next_release(NIGHT, BERLIN, now=local("2026-06-11T12:00")) == local("2026-06-12T07:00")


def test_a_digest_holds_everything_until_the_next_digest() -> None:
    digest = parse_preferences(delivery="digest", digest_at="08:00", timezone="Europe/Berlin")
    now = local("2026-06-10T12:00")
    for held in (alert(), alert("exception", "/shipment#weather_delay")):
        assert hold_until(digest, held, now=now) == local("2026-06-11T08:00")


# -- the configuration file's flexhook: section ------------------------------------------------

CONFIG = """\
urls:
  - "json://127.0.0.1:9/digest":
      tag: departed, arrived, morning
  - "json://127.0.0.1:9/night":
      tag: departed, night-owls
  - "json://127.0.0.1:9/plain":
      tag: departed

flexhook:
  preferences:
    - tag: Morning
      delivery: digest
      digest_at: "08:00"
      timezone: Europe/Berlin
    - tag: night-owls
      quiet_hours: "22:00-07:00"
    - tag: broken
      delivery: digest
    - tag: typo
      quiet_hour: "22:00-07:00"
"""


def test_the_flexhook_section_gives_preferences_to_urls_by_tag(tmp_path: Path) -> None:
    path = tmp_path / "notifications.yml"
    path.write_text(CONFIG, encoding="utf-8")
    config = NotifyConfig(path)
    by_path = {d.url.split("?")[0].rsplit("/", 1)[-1]: d for d in load_config(path)}

    digest = config.preferences_for(by_path["digest"].tags)
    night = config.preferences_for(by_path["night"].tags)

    assert digest == Preferences(delivery="digest", digest_at="08:00", timezone="Europe/Berlin")
    assert night == Preferences(quiet_hours="22:00-07:00")
    assert config.preferences_for(by_path["plain"].tags) is None


def test_rules_that_cannot_be_read_are_left_out_with_the_reason() -> None:
    rules, problems = parse_rules(CONFIG)
    assert [rule.tag for rule in rules] == ["morning", "night-owls"]
    assert len(problems) == 2
    assert "#3 (tag 'broken')" in problems[0] and "digest_at" in problems[0]
    assert "#4 (tag 'typo')" in problems[1] and "quiet_hour" in problems[1]
    assert parse_rules("json://127.0.0.1:9/hook\n") == ([], [])  # a TEXT configuration
    assert parse_rules("urls: [{ bad") == ([], [])
    assert parse_rules("flexhook: yes\n")[1] == [
        "flexhook: expected `preferences:` with a list of rules"
    ]


def test_unreadable_rules_are_warned_about_once_per_version_of_the_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "notifications.yml"
    path.write_text(CONFIG, encoding="utf-8")
    config = NotifyConfig(path)
    with caplog.at_level(logging.WARNING, logger="notifications.destinations"):
        for _ in range(3):
            config.preferences_for(frozenset({"morning"}))
    assert len([r for r in caplog.records if r.name == "notifications.destinations"]) == 2


def test_apprise_reads_the_urls_and_passes_over_the_section_without_a_word(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "notifications.yml"
    path.write_text(CONFIG, encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="apprise"):
        destinations = load_config(path)
    assert len(destinations) == 3
    assert [r.getMessage() for r in caplog.records if r.name.startswith("apprise")] == []
