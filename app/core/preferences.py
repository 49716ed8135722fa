"""What a recipient wants: every alert at once, or one digest a day; quiet hours; and whether an
alert waits. Pure standard library (see `app.core.schedule` for the time rules)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from app.core.alert import ESCALATION, Alert
from app.core.schedule import (
    QuietHours,
    ScheduleError,
    last_quiet_end,
    next_digest,
    parse_clock,
    parse_zone,
    quiet_end,
    quiet_period,
)
from app.core.taxonomy import classify

DELIVERIES: Final = ("instant", "digest")
# Kinds that reach a recipient at once even in quiet hours; `customs` only for a hold or an exam
# (`Classification.urgent`), not for the release.
URGENT_KINDS: Final = frozenset({"exception", "eta_missed", ESCALATION})
# An alert held just before quiet hours end may commit its ledger row just after the release at
# the end (processing decides at its start and commits within its 30 s timeout): a second look
# this long after the end sends those.
RELEASE_GRACE: Final = timedelta(seconds=60)


class InvalidPreferences(ValueError):
    """Preferences that cannot be honoured; the message says which value and why."""


@dataclass(frozen=True)
class Preferences:
    """A recipient's delivery preferences, validated (build them with `parse_preferences`)."""

    delivery: str = "instant"  # "instant" or "digest"
    digest_at: str | None = None  # "HH:MM", with digest only
    timezone: str = "UTC"  # IANA name: where digest_at and quiet_hours are read
    quiet_hours: str | None = None  # "HH:MM-HH:MM", with instant only

    @property
    def zone(self) -> ZoneInfo:
        return parse_zone(self.timezone)

    @property
    def quiet(self) -> QuietHours | None:
        return QuietHours.parse(self.quiet_hours) if self.quiet_hours else None

    @property
    def digest_clock(self) -> time | None:
        return parse_clock(self.digest_at) if self.digest_at else None

    @property
    def holds(self) -> bool:
        """Whether any alert may ever wait for this recipient."""
        return self.delivery == "digest" or self.quiet_hours is not None


def _text(value: object, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidPreferences(f'{name} must be a string (quote times in YAML: "07:30")')
    return value.strip() or None


def parse_preferences(
    *,
    delivery: object = None,
    digest_at: object = None,
    timezone: object = None,
    quiet_hours: object = None,
) -> Preferences:
    """Validated preferences; `InvalidPreferences` says what is wrong. Times are normalised to
    `HH:MM`; the time zone defaults to UTC."""
    wanted = _text(delivery, "delivery") or "instant"
    if wanted not in DELIVERIES:
        raise InvalidPreferences(f"delivery must be one of {list(DELIVERIES)}, not {wanted!r}")
    at, quiet, zone = (
        _text(digest_at, "digest_at"),
        _text(quiet_hours, "quiet_hours"),
        _text(timezone, "timezone") or "UTC",
    )
    try:
        parse_zone(zone)
        at = f"{parse_clock(at, name='digest_at'):%H:%M}" if at else None
        quiet = str(QuietHours.parse(quiet)) if quiet else None
    except ScheduleError as exc:
        raise InvalidPreferences(str(exc)) from None
    if wanted == "digest" and at is None:
        raise InvalidPreferences("digest_at (HH:MM) is required with delivery digest")
    if wanted == "digest" and quiet is not None:
        raise InvalidPreferences(
            "quiet_hours apply to instant delivery; a digest is sent once a day at digest_at"
        )
    if wanted == "instant" and at is not None:
        raise InvalidPreferences("digest_at only applies with delivery digest")
    return Preferences(delivery=wanted, digest_at=at, timezone=zone, quiet_hours=quiet)


def is_urgent(alert: Alert) -> bool:
    """An exception, a missed ETA, or a customs hold or exam (a release is routine)."""
    if alert.kind in URGENT_KINDS:
        return True
    return alert.kind == "customs" and classify(alert.event_type).urgent


def hold_until(preferences: Preferences, alert: Alert, *, now: datetime) -> datetime | None:
    """When `alert` may reach this recipient: None for now, else the instant its hold ends (the
    next digest, or the end of the quiet hours `now` falls in). An escalation is never held."""
    if alert.kind == ESCALATION:
        return None  # an escalation is for now: neither a digest nor quiet hours hold it
    if preferences.delivery == "digest":
        clock = preferences.digest_clock
        assert clock is not None
        return next_digest(now, clock, preferences.zone).due
    quiet = preferences.quiet
    if quiet is None or is_urgent(alert):
        return None
    period = quiet_period(now, quiet, preferences.zone)
    return period[1] if period is not None else None


def next_release(quiet: QuietHours, zone: ZoneInfo, *, now: datetime) -> datetime:
    """When a recipient with quiet hours next looks for held alerts: when the quiet hours `now`
    is in (or the next ones) end; just after an end, once more `RELEASE_GRACE` after it."""
    ended = last_quiet_end(now, quiet, zone)
    if ended is not None and now < ended + RELEASE_GRACE:
        return ended + RELEASE_GRACE
    return quiet_end(now, quiet, zone)
