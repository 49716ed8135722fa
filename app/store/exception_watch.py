"""What an exception's watch (`workflows.exception_watch`) reads and writes of its row: the
next moment a clock fires, the escalation and the reminder (each once per episode, remembered
on the row by compare-and-set with a timeline entry) and the outbox of notices to persons
(`[to, kind, version, when]` as a transition writes it, `[..., 1]` once planned).

Works in its caller's session and never commits, like `app.store.exceptions`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlmodel import Session, col, update

from app.core import exception_state as core
from app.core.exception_clock import deadlines, go_duration
from app.core.exception_families import Severity
from app.store.exception_models import ExceptionEntry, ShipmentExceptionRow
from app.store.exceptions import MAX_ATTEMPTS, ConcurrentChanges, as_core, fresh_row, wake

Due = Literal["escalate", "remind", "wake"]
Slas = Mapping[Severity, timedelta]


@dataclass(frozen=True)
class Clock:
    """An exception as its watch needs it: resolved or not, its next due time and what is due
    then (None: no clock runs), and how many notices wait in its outbox."""

    resolved: bool
    due_at: datetime | None
    due: Due | None
    notices: int


@dataclass(frozen=True)
class Overdue:
    """An escalation (not acknowledged within `sla`) or a reminder (acknowledged, not resolved
    within `sla`) of the exception's current episode, opened at `opened_at`."""

    kind: Literal["escalation", "reminder"]
    exception_id: int
    shipment_id: str
    family: str
    severity: Severity
    opened_at: datetime
    sla: timedelta
    reported_by: str  # the event id of the latest report


@dataclass(frozen=True)
class PendingNotice:
    to: str
    kind: str  # resolved | assigned
    version: int  # the row's version that wrote it: two assignments are two notices
    when: str  # ISO-8601: when the transition happened


def _done(row: ShipmentExceptionRow) -> tuple[bool, bool]:
    """Whether the current episode escalated, and whether it reminded."""
    return row.escalated_for == row.opened_at, row.reminded_for == row.opened_at


def read_clock(session: Session, *, exception_id: int, ack_sla: Slas, resolve_sla: Slas) -> Clock:
    """The exception's next due time: its escalation or reminder unless this episode had it,
    or its wake-up (`UnknownException` for an id with no row)."""
    row = fresh_row(session, exception_id)
    exception = as_core(row)
    waiting = len(row.notices) - _planned(row)
    if exception.state == "resolved":
        return Clock(resolved=True, due_at=None, due=None, notices=waiting)
    due = deadlines(exception, ack_sla=ack_sla, resolve_sla=resolve_sla)
    escalated, reminded = _done(row)
    candidates: list[tuple[datetime, Due]] = []
    if due.escalate_at is not None and not escalated:
        candidates.append((due.escalate_at, "escalate"))
    if due.remind_at is not None and not reminded:
        candidates.append((due.remind_at, "remind"))
    if due.wake_at is not None:
        candidates.append((due.wake_at, "wake"))
    # At the same moment a wake-up comes first: performing it wakes, then escalates.
    at, what = min(candidates, key=lambda c: (c[0], c[1] != "wake"), default=(None, None))
    return Clock(resolved=False, due_at=at, due=what, notices=waiting)


def _compare_and_set(session: Session, row: ShipmentExceptionRow, **values: Any) -> bool:
    result = session.execute(
        update(ShipmentExceptionRow)
        .where(
            col(ShipmentExceptionRow.id) == row.id, col(ShipmentExceptionRow.version) == row.version
        )
        .values(**values, version=row.version + 1)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def _overdue(
    row: ShipmentExceptionRow, kind: Literal["escalation", "reminder"], sla: timedelta
) -> Overdue:
    assert row.id is not None
    exception = as_core(row)
    reports = [m.source for m in exception.markers if m.kind == "report"]
    return Overdue(
        kind=kind,
        exception_id=row.id,
        shipment_id=row.shipment_id,
        family=row.family,
        severity=exception.severity,
        opened_at=row.opened_at,
        sla=sla,
        reported_by=reports[-1] if reports else "",
    )


def mark_overdue(
    session: Session, *, exception_id: int, at: datetime, ack_sla: Slas, resolve_sla: Slas
) -> tuple[Overdue, ...]:
    """At `at`: wake a snooze whose time came, then mark the escalation and the reminder due by
    then, each once per episode (a timeline entry by `system`). Returns the escalation and the
    reminder this episode has had, marked now or before, for the caller to plan: planning is
    idempotent through the ledger, so a retry finds what to send."""
    wake(session, exception_id=exception_id, at=at)
    for _ in range(MAX_ATTEMPTS):
        row = fresh_row(session, exception_id)
        exception = as_core(row)
        if exception.state == "resolved":
            return ()
        due = deadlines(exception, ack_sla=ack_sla, resolve_sla=resolve_sla)
        escalated, reminded = _done(row)
        values: dict[str, datetime] = {}
        entries: list[tuple[str, str]] = []
        ack = ack_sla.get(exception.severity)
        resolve = resolve_sla.get(exception.severity)
        if due.escalate_at is not None and due.escalate_at <= at and not escalated:
            assert ack is not None
            values["escalated_for"] = row.opened_at
            entries.append(("escalated", f"not acknowledged within {go_duration(ack)}"))
        if due.remind_at is not None and due.remind_at <= at and not reminded:
            assert resolve is not None
            values["reminded_for"] = row.opened_at
            entries.append(("reminded", f"not resolved within {go_duration(resolve)}"))
        if values and not _compare_and_set(session, row, **values):
            continue
        for what, note in entries:
            session.add(
                ExceptionEntry(
                    exception_id=exception_id, at=at, who=core.SYSTEM, what=what, note=note
                )
            )
        marked: list[Overdue] = []
        if (escalated or "escalated_for" in values) and ack is not None:
            marked.append(_overdue(row, "escalation", ack))
        if (reminded or "reminded_for" in values) and resolve is not None:
            marked.append(_overdue(row, "reminder", resolve))
        return tuple(marked)
    raise ConcurrentChanges(exception_id)


def plan_notices(session: Session, *, exception_id: int) -> tuple[PendingNotice, ...]:
    """Mark the notices of the exception's outbox planned (compare-and-set) and return every
    notice it holds, planned before or now, for the caller to plan in the same transaction:
    the ledger sends each once, and a retry after a lost result finds them again."""
    for _ in range(MAX_ATTEMPTS):
        row = fresh_row(session, exception_id)
        entries = [(str(e[0]), str(e[1]), int(e[2]), str(e[3])) for e in row.notices]
        if len(entries) == _planned(row) or _compare_and_set(
            session, row, notices=[[*entry, 1] for entry in entries]
        ):
            return tuple(PendingNotice(*entry) for entry in entries)
    raise ConcurrentChanges(exception_id)


def _planned(row: ShipmentExceptionRow) -> int:
    """How many notices of the outbox were planned (`[to, kind, version, when, 1]`)."""
    return sum(1 for entry in row.notices if len(entry) > 4)
