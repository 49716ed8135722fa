"""When a recipient hears things: quiet hours and the daily digest, as time rules. Standard
library only.

Wall-clock times are read in the recipient's IANA time zone the way calendars read them (RFC 5545
section 3.3.5): a local time that occurs twice when the clocks go back means its first occurrence,
and a local time the clocks skip when they go forward is read with the offset from before the
jump (02:30 on a spring-forward night in Berlin is 03:30 CEST). Quiet hours are the instants from
their start to their end so read, and a range whose end is earlier than its start runs past
midnight (22:00-07:00).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_CLOCK_RE: Final = re.compile(r"^([01]?[0-9]|2[0-3]):([0-5][0-9])$")
_ZONE_RE: Final = re.compile(r"^[A-Za-z0-9_+-]+(/[A-Za-z0-9_+-]+)*$")


class ScheduleError(ValueError):
    """A clock time, a range of hours or a time zone that cannot be read; the message says why."""


def parse_clock(text: str, *, name: str = "time") -> time:
    """`"07:30"` as a time: 24-hour `HH:MM`, 00:00 to 23:59."""
    match = _CLOCK_RE.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise ScheduleError(f"{name} must be a 24-hour time HH:MM (like 07:30), not {text!r}")
    return time(int(match.group(1)), int(match.group(2)))


def parse_zone(name: str) -> ZoneInfo:
    """The IANA time zone `name` (`Europe/Berlin`, `UTC`)."""
    if not isinstance(name, str) or not _ZONE_RE.match(name) or len(name) > 64:
        raise ScheduleError(f"timezone must be an IANA name like Europe/Berlin, not {name!r}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ScheduleError(
            f"unknown timezone {name!r}: use an IANA name like Europe/Berlin"
        ) from None


@dataclass(frozen=True)
class QuietHours:
    """A daily range of wall-clock hours, `start` included, `end` excluded."""

    start: time
    end: time

    @classmethod
    def parse(cls, text: str) -> QuietHours:
        """`"22:00-07:00"`; the two times must differ."""
        if not isinstance(text, str) or text.count("-") != 1:
            raise ScheduleError(f"quiet_hours must be HH:MM-HH:MM (like 22:00-07:00), not {text!r}")
        first, second = text.split("-")
        start = parse_clock(first, name="quiet_hours start")
        end = parse_clock(second, name="quiet_hours end")
        if start == end:
            raise ScheduleError("quiet_hours must start and end at different times")
        return cls(start=start, end=end)

    @property
    def spans_midnight(self) -> bool:
        return self.end < self.start

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


def local_instant(day: date, clock: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of wall-clock `clock` on `day` in `zone` (first occurrence; a skipped time
    with the offset from before the jump)."""
    return datetime.combine(day, clock, tzinfo=zone).astimezone(UTC)


def _local_day(moment: datetime, zone: ZoneInfo) -> date:
    return moment.astimezone(zone).date()


def _periods(quiet: QuietHours, zone: ZoneInfo, around: date) -> list[tuple[datetime, datetime]]:
    """The quiet periods that start the day before `around` through two days after, in order."""
    periods = []
    for offset in range(-1, 3):
        day = around + timedelta(days=offset)
        end_day = day + timedelta(days=1) if quiet.spans_midnight else day
        start = local_instant(day, quiet.start, zone)
        end = local_instant(end_day, quiet.end, zone)
        if start < end:  # from the skipped hour to its end (02:30-03:00 in spring) is none
            periods.append((start, end))
    return periods


def quiet_period(
    moment: datetime, quiet: QuietHours, zone: ZoneInfo
) -> tuple[datetime, datetime] | None:
    """The (start, end) of the quiet period `moment` falls in, or None outside quiet hours."""
    for start, end in _periods(quiet, zone, _local_day(moment, zone)):
        if start <= moment < end:
            return start, end
    return None


def is_quiet(moment: datetime, quiet: QuietHours, zone: ZoneInfo) -> bool:
    """Whether `moment` (aware) falls inside quiet hours in `zone`."""
    return quiet_period(moment, quiet, zone) is not None


def quiet_end(moment: datetime, quiet: QuietHours, zone: ZoneInfo) -> datetime:
    """When the quiet period `moment` is in ends; outside quiet hours, when the next one ends."""
    for _start, end in _periods(quiet, zone, _local_day(moment, zone)):
        if moment < end:  # periods are in order: the current one, else the next
            return end
    raise AssertionError("a quiet period ends within three days")  # pragma: no cover


def last_quiet_end(moment: datetime, quiet: QuietHours, zone: ZoneInfo) -> datetime | None:
    """When the latest quiet period that is over by `moment` ended (within the last two days)."""
    ends = [end for _start, end in _periods(quiet, zone, _local_day(moment, zone)) if end <= moment]
    return ends[-1] if ends else None


@dataclass(frozen=True)
class DigestTime:
    """One daily digest: the instant it is due and the recipient's local date it covers."""

    due: datetime  # UTC
    local_date: date


def digest_on(day: date, at: time, zone: ZoneInfo) -> DigestTime:
    """The digest of local date `day`."""
    return DigestTime(due=local_instant(day, at, zone), local_date=day)


def last_digest(moment: datetime, at: time, zone: ZoneInfo) -> DigestTime:
    """The latest digest due at or before `moment`."""
    today = _local_day(moment, zone)
    for offset in range(0, -3, -1):
        digest = digest_on(today + timedelta(days=offset), at, zone)
        if digest.due <= moment:
            return digest
    raise AssertionError("a digest falls within three days")  # pragma: no cover


def next_digest(moment: datetime, at: time, zone: ZoneInfo) -> DigestTime:
    """The first digest due strictly after `moment`: one per local date, at `at` in `zone`."""
    today = _local_day(moment, zone)
    for offset in range(-1, 3):
        digest = digest_on(today + timedelta(days=offset), at, zone)
        if digest.due > moment:
            return digest
    raise AssertionError("a digest falls within three days")  # pragma: no cover
