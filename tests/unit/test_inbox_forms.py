"""What the dashboard's Inbox reads from a request before anything reaches the store: the "older"
link's cursor (a tampered one is the first page), the filters, a person's action form (an action
not offered, an over-long note, an assignee who is no active token's person, a snooze end that is
no time: each refused with a reason), the selection's ids; and an exception's overdue mark."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine

from app.core.exception_state import ActionRefused
from app.dashboard.exceptions import (
    BULK_ACTIONS,
    MAX_NOTE,
    action_form,
    cursor_text,
    inbox_filter,
    inbox_row,
    parse_cursor,
    parse_id,
)
from app.dashboard.state import DashboardState
from app.store.exception_models import ShipmentExceptionRow
from app.store.exceptions import ACTIONS, Cursor

PEOPLE = ("ana", "bo")
T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def test_a_cursor_round_trips_and_anything_else_is_the_first_page() -> None:
    cursor = Cursor(1, T0, 42)
    assert parse_cursor(cursor_text(cursor)) == cursor
    for tampered in (None, "", "x_y_z", "1_2026-12-01T08:00:00_42", "1_" + "9" * 90, "a_b"):
        assert parse_cursor(tampered) is None, tampered


def test_the_filters_default_to_every_state_but_resolved() -> None:
    assert inbox_filter({}).state is None
    assert inbox_filter({"state": "drop table"}).state is None
    assert inbox_filter({"state": "resolved"}).state == "resolved"
    assert inbox_filter({"state": "all", "family": " customs_hold ", "shipment": ""}) == (
        inbox_filter({"state": "all", "family": "customs_hold"})
    )


def test_an_id_is_digits_only() -> None:
    assert [parse_id(v) for v in ("12", "0012", "-1", "1e3", "١٢", "", "9" * 19)] == [
        12,
        12,
        None,
        None,
        None,
        None,
        None,
    ]


@pytest.mark.parametrize(
    ("fields", "allowed", "reason"),
    [
        ({"action": ["reopen"]}, BULK_ACTIONS, "choose an action"),
        ({"action": ["delete"]}, ACTIONS, "choose an action"),
        ({}, ACTIONS, "choose an action"),
        ({"action": ["note"], "note": ["x" * (MAX_NOTE + 1)]}, ACTIONS, "at most"),
        ({"action": ["assign"], "assignee": ["mallory"]}, ACTIONS, "active named token"),
        ({"action": ["assign"]}, ACTIONS, "active named token"),
        ({"action": ["snooze"], "until": ["tomorrow"]}, ACTIONS, "not a time"),
    ],
)
def test_a_form_that_asks_for_something_not_offered_is_refused_with_a_reason(
    fields: dict[str, list[str]], allowed: tuple[str, ...], reason: str
) -> None:
    with pytest.raises(ActionRefused, match=reason):
        action_form(fields, allowed=allowed, people=PEOPLE)  # type: ignore[arg-type]


def test_a_snooze_end_without_a_zone_is_utc() -> None:
    form = action_form(
        {"action": ["snooze"], "until": ["2026-12-07T10:30"], "note": ["  "]},
        allowed=ACTIONS,
        people=PEOPLE,
    )
    assert form.until == datetime(2026, 12, 7, 10, 30, tzinfo=UTC)
    assert form.note is None
    assigned = action_form(
        {"action": ["assign"], "assignee": ["bo"]}, allowed=ACTIONS, people=PEOPLE
    )
    assert (assigned.assignee, assigned.until) == ("bo", None)


def row(
    *, severity: str, opened_ago: timedelta, acknowledged: bool = False
) -> ShipmentExceptionRow:
    now = T0
    return ShipmentExceptionRow(
        id=7,
        shipment_id="S",
        family="customs_hold",
        severity=severity,
        severity_rank=("critical", "high", "normal", "low").index(severity),
        state="acknowledged" if acknowledged else "open",
        opened_at=now - opened_ago,
        acknowledged_by="ana" if acknowledged else None,
        acknowledged_at=now if acknowledged else None,
        markers=[[f"{(now - opened_ago):%Y-%m-%dT%H:%M:%S.%f}|e1", "report", "e1"]],
    )


def state() -> DashboardState:
    engine: Engine = None  # type: ignore[assignment]  # not read by inbox_row
    return DashboardState(
        engine=engine,
        environment_digest="",
        limiter=None,  # type: ignore[arg-type]
        redrive=None,  # type: ignore[arg-type]
        templates=None,  # type: ignore[arg-type]
        stylesheet=b"",
        css_version="",
    )


def test_overdue_once_the_ack_sla_or_once_acknowledged_the_resolve_sla_has_passed() -> None:
    marks = [
        inbox_row(row(severity=s, opened_ago=ago, acknowledged=ack), state=state(), now=T0)
        for s, ago, ack in (
            ("critical", timedelta(minutes=59), False),
            ("critical", timedelta(hours=1), False),
            ("critical", timedelta(hours=2), True),  # acknowledged: 24 h to resolve
            ("critical", timedelta(hours=24), True),
            ("low", timedelta(days=30), False),  # no clock for low
        )
    ]
    assert [m.overdue for m in marks] == [False, True, False, True, False]
    assert marks[0].family == "Customs hold" and marks[1].age == "1 h"
    assert marks[2].due_at == T0 - timedelta(hours=2) + timedelta(hours=24)
