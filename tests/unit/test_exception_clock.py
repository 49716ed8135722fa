"""The exception clocks: the SLA settings' form and when an exception escalates, reminds, wakes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.core.exception_clock import (
    DEFAULT_ACK_SLA,
    DEFAULT_RESOLVE_SLA,
    Deadlines,
    deadlines,
    parse_go_duration,
    parse_severity_durations,
)
from app.core.exception_families import Severity
from app.core.exception_state import (
    EventRef,
    ShipmentException,
    acknowledge,
    clear,
    open_exception,
    snooze,
)
from app.core.stamps import stamp

OPENED = datetime(2026, 3, 15, 20, 5, tzinfo=UTC)
ACK = parse_severity_durations(DEFAULT_ACK_SLA)
RESOLVE = parse_severity_durations(DEFAULT_RESOLVE_SLA)


def opened(family: str = "customs_hold", severity: Severity = "critical") -> ShipmentException:
    """An exception of shipment 418563 flexhook opened at `OPENED`, on a report of 20:00."""
    report = EventRef(stamp(datetime(2026, 3, 15, 20, tzinfo=UTC), "900001"), "900001")
    return open_exception("418563", family, severity, report, at=OPENED).exception


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1h", timedelta(hours=1)),
        ("90m", timedelta(minutes=90)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        (" 45s ", timedelta(seconds=45)),
        ("1.5h", timedelta(hours=1, minutes=30)),
        ("250ms", timedelta(milliseconds=250)),
        ("168h", timedelta(days=7)),
    ],
)
def test_go_durations(value: str, expected: timedelta) -> None:
    assert parse_go_duration(value) == expected


@pytest.mark.parametrize("value", ["", "1d", "h", "1 h", "-1h", "1h-30m", "forever"])
def test_what_is_not_a_go_duration(value: str) -> None:
    with pytest.raises(ValueError, match="is not a duration"):
        parse_go_duration(value)


def test_the_sla_settings_form() -> None:
    assert parse_severity_durations(" critical=1h, high = 4h ,normal=24h,") == {
        "critical": timedelta(hours=1),
        "high": timedelta(hours=4),
        "normal": timedelta(hours=24),
    }
    assert parse_severity_durations("") == {}
    assert RESOLVE["normal"] == timedelta(days=7)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("urgent=1h", "severity one of"),
        ("critical", "expected <severity>=<duration>"),
        ("critical=1h,critical=2h", "appears twice"),
        ("critical=0s", "more than zero"),
        ("critical=soon", "is not a duration"),
    ],
)
def test_the_sla_settings_refuse_what_they_cannot_read(value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_severity_durations(value)


def test_an_open_exception_escalates_at_its_ack_sla() -> None:
    due = deadlines(opened(), ack_sla=ACK, resolve_sla=RESOLVE)
    assert due == Deadlines(escalate_at=OPENED + timedelta(hours=1))
    assert not due.overdue(OPENED + timedelta(minutes=59))
    assert due.overdue(OPENED + timedelta(hours=1))


def test_an_acknowledged_exception_reminds_at_its_resolve_sla() -> None:
    acknowledged = acknowledge(opened(), by="Dana", at=OPENED + timedelta(minutes=10)).exception
    due = deadlines(acknowledged, ack_sla=ACK, resolve_sla=RESOLVE)
    assert due == Deadlines(remind_at=OPENED + timedelta(hours=24))


def test_a_snooze_holds_the_clocks_until_it_wakes() -> None:
    until = OPENED + timedelta(hours=3)
    snoozed = snooze(opened(), until=until, by="Dana", at=OPENED).exception
    assert deadlines(snoozed, ack_sla=ACK, resolve_sla=RESOLVE) == Deadlines(
        escalate_at=until, wake_at=until
    )
    short = snooze(opened(), until=OPENED + timedelta(minutes=5), by="Dana", at=OPENED).exception
    assert deadlines(short, ack_sla=ACK, resolve_sla=RESOLVE).escalate_at == OPENED + timedelta(
        hours=1
    )


def test_a_severity_without_a_clock_and_a_resolved_exception_have_no_deadlines() -> None:
    assert deadlines(opened("trucking", "low"), ack_sla=ACK, resolve_sla=RESOLVE) == Deadlines()
    release = EventRef(stamp(datetime(2026, 3, 16, 1, 20, tzinfo=UTC), "48302560"), "48302560")
    resolved = clear(opened(), release).exception
    assert deadlines(resolved, ack_sla=ACK, resolve_sla=RESOLVE) == Deadlines()
