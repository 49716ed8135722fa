"""When an exception escalates, reminds and wakes up. Pure standard library.

`FLEXHOOK_EXCEPTION_ACK_SLA` and `FLEXHOOK_EXCEPTION_RESOLVE_SLA` read `critical=1h,high=4h,
normal=24h`: a Go-style duration per severity; a severity left out has no clock. The durations
are parsed here, by a small parser of Go's units (`h`, `m`, `s`, `ms`, combined as in `1h30m`),
so that the core stays standard-library only; `app/settings.py` validates the settings with it.

Both clocks run from when the current episode was opened (`ShipmentException.opened_at`): an
open exception escalates when its acknowledgement SLA has passed; an acknowledged one reminds
when its resolution SLA has passed. A snooze holds both until it wakes: an exception overdue by
then escalates or reminds at its wake-up.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from app.core.exception_families import SEVERITIES, Severity
from app.core.exception_state import ShipmentException

DEFAULT_ACK_SLA: Final = "critical=1h,high=4h,normal=24h"
DEFAULT_RESOLVE_SLA: Final = "critical=24h,high=72h,normal=168h"

_UNITS: Final = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
_PART: Final = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_DURATION: Final = re.compile(r"(?:\d+(?:\.\d+)?(?:ms|h|m|s))+")


def parse_go_duration(value: str) -> timedelta:
    """`1h`, `90m`, `1h30m`, `45s`, `1.5h` as a timedelta; `ValueError` otherwise."""
    value = value.strip()
    if not _DURATION.fullmatch(value):
        raise ValueError(f"{value!r} is not a duration such as 15m, 4h or 1h30m")
    seconds = sum(float(number) * _UNITS[unit] for number, unit in _PART.findall(value))
    return timedelta(seconds=seconds)


def parse_severity_durations(value: str) -> dict[Severity, timedelta]:
    """`critical=1h,high=4h` as {severity: duration}; `ValueError` naming the entry with an
    unknown severity, a duration that is not one or not positive, or a severity given twice."""
    durations: dict[Severity, timedelta] = {}
    for entry in (e.strip() for e in value.split(",") if e.strip()):
        name, sep, duration = (part.strip() for part in entry.partition("="))
        severity = next((s for s in SEVERITIES if s == name), None)
        if not sep or severity is None:
            raise ValueError(
                f"{entry!r}: expected <severity>=<duration>, severity one of {SEVERITIES}"
            )
        if severity in durations:
            raise ValueError(f"severity {severity!r} appears twice")
        parsed = parse_go_duration(duration)
        if parsed <= timedelta(0):
            raise ValueError(f"{entry!r}: the duration must be more than zero")
        durations[severity] = parsed
    return durations


@dataclass(frozen=True)
class Deadlines:
    """The next moments an exception's clocks fire; None: that clock does not run."""

    escalate_at: datetime | None = None
    remind_at: datetime | None = None
    wake_at: datetime | None = None

    def overdue(self, now: datetime) -> bool:
        """Whether an escalation or a reminder is due by `now`."""
        return any(when is not None and when <= now for when in (self.escalate_at, self.remind_at))


def deadlines(
    exception: ShipmentException,
    *,
    ack_sla: Mapping[Severity, timedelta],
    resolve_sla: Mapping[Severity, timedelta],
) -> Deadlines:
    """When `exception` escalates (open: not acknowledged within its severity's ack SLA),
    reminds (acknowledged: not resolved within its resolve SLA) and wakes (snoozed)."""
    state = exception.state
    if state == "resolved":
        return Deadlines()
    wake_at = exception.snoozed_until
    acknowledged = exception.acknowledged_by is not None
    sla = (resolve_sla if acknowledged else ack_sla).get(exception.severity)
    due = None if sla is None else exception.opened_at + sla
    if due is not None and wake_at is not None:
        due = max(due, wake_at)
    if acknowledged:
        return Deadlines(remind_at=due, wake_at=wake_at)
    return Deadlines(escalate_at=due, wake_at=wake_at)


def go_duration(value: timedelta) -> str:
    """A duration as the settings write it: `1h`, `90m` as `1h30m`, `2s`, `1h0m5s` as `1h5s`."""
    seconds = int(value.total_seconds())
    parts = [
        f"{amount}{unit}"
        for amount, unit in (
            (seconds // 3600, "h"),
            (seconds % 3600 // 60, "m"),
            (seconds % 60, "s"),
        )
        if amount
    ]
    return "".join(parts) or f"{round(value.total_seconds() * 1000)}ms"
