"""How flexhook says times, spans and container sizes to people: the dashboard, the public
tracking page and the ETA chart say them alike. Plain functions over plain values, in English
whatever the process's locale."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MONTHS: Final = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# Flexport spells forty "fourty" in its container sizes; both spellings are shown the same.
CONTAINER_SIZES: Final = {
    "twenty_ft": "20 ft",
    "twenty_ft_hc": "20 ft HC",
    "fourty_ft": "40 ft",
    "fourty_ft_hc": "40 ft HC",
    "fourty_five_ft": "45 ft",
    "fourty_five_ft_hc": "45 ft HC",
}


def zone(name: str | None) -> tzinfo | None:
    """The IANA zone `name`; None when unset or unknown."""
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def in_zone(value: datetime, timezone: str | None) -> datetime:
    """`value` in the zone `timezone` when known, else in UTC."""
    return value.astimezone(zone(timezone) or UTC)


def time_text(value: datetime, timezone: str | None = None) -> str:
    """`26 Feb 2026 21:20 CST` in the place's zone when known, else `... UTC`."""
    moment = in_zone(value, timezone)
    name = (moment.tzname() or "UTC") if zone(timezone) else "UTC"
    if name[:1] in "+-":
        name = f"UTC{name}"  # zones without an abbreviation name their offset
    return f"{moment.day} {MONTHS[moment.month - 1]} {moment.year} {moment:%H:%M} {name}"


def span(delta: timedelta) -> str:
    """`2 d 4 h`, `3 h 10 min`, `5 min` (no sign)."""
    minutes = int(abs(delta.total_seconds()) // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min"
