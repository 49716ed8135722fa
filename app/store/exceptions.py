"""The exception inbox's records (issue 19) over the pure core (`app.core.exception_state`).

Every function works in its caller's session and never commits. A write reads the row, lets
the core decide the transition and saves it by compare-and-set on the row's `version`: when
another writer (a person, or a Flexport event's automation) saved first, it reads again and
decides again, so neither overwrites the other and a person then meets the core's refusal
(`ActionRefused`: "already resolved by ..."). Notices are returned, never sent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select, update

from app.core import exception_state as core
from app.core.exception_families import SEVERITIES, ExceptionEffect, Severity, severity_of
from app.core.stamps import stamp, stamp_time
from app.store import exception_stats, untold_watches
from app.store.exception_filters import ExceptionFilter, filtered_by, in_inbox_order
from app.store.exception_models import EarlyClearing, ExceptionEntry, ShipmentExceptionRow

Action = Literal["acknowledge", "assign", "note", "snooze", "resolve", "reopen"]
ACTIONS: Final[tuple[Action, ...]] = (
    "acknowledge",
    "assign",
    "note",
    "snooze",
    "resolve",
    "reopen",
)
# Tries of one read-decide-save before giving up on a row every other writer keeps changing.
MAX_ATTEMPTS: Final = 5


class ConcurrentChanges(RuntimeError):
    """An exception changed under every one of `MAX_ATTEMPTS` tries: retry the whole call."""


class UnknownException(LookupError):
    """No exception has this id."""


@dataclass(frozen=True)
class Notified:
    """A notice the core implies (`to` hears `kind`) about one exception."""

    exception_id: int
    notice: core.Notice


@dataclass(frozen=True)
class Outcome:
    """What one write did to one exception: its row after it, whether it changed, the
    notices to send, or the core's reason for refusing it."""

    exception_id: int
    changed: bool
    notices: tuple[Notified, ...] = ()
    refused: str | None = None
    # What happened, as the timeline says it (`opened`, `occurrence`, `recurred`, `resolved`, ...)
    what: tuple[str, ...] = ()
    version: int = 0  # the row's version after the write


@dataclass(frozen=True)
class Cursor:
    """Where a page ended, in inbox order (most severe first, then oldest, then id)."""

    severity_rank: int
    opened_at: datetime
    id: int


@dataclass(frozen=True)
class Page:
    exceptions: tuple[ShipmentExceptionRow, ...]
    next: Cursor | None  # None: this was the last page


def as_core(row: ShipmentExceptionRow) -> core.ShipmentException:
    """The row as the pure core's exception."""
    severity = SEVERITIES[row.severity_rank]
    return core.ShipmentException(
        shipment_id=row.shipment_id,
        family=row.family,
        severity=severity,
        opened_at=row.opened_at,
        markers=tuple(sorted(core.Marker(*marker) for marker in row.markers)),
        acknowledged_by=row.acknowledged_by,
        acknowledged_at=row.acknowledged_at,
        assignee=row.assignee,
        snoozed_until=row.snoozed_until,
    )


def _columns(exception: core.ShipmentException) -> dict[str, Any]:
    closer = exception.lifecycle.resolved_by
    return {
        "severity": exception.severity,
        "severity_rank": SEVERITIES.index(exception.severity),
        "state": exception.state,
        "occurrences": exception.occurrences,
        "recurrences": exception.recurrences,
        "opened_at": exception.opened_at,
        "acknowledged_by": exception.acknowledged_by,
        "acknowledged_at": exception.acknowledged_at,
        "assignee": exception.assignee,
        "snoozed_until": exception.snoozed_until,
        "resolved_by": exception.resolved_by,
        "resolved_at": stamp_time(closer.stamp) if closer is not None else None,
        "markers": _stored_markers(exception),
    }


def _stored_markers(exception: core.ShipmentException) -> list[list[str]]:
    """The markers as the row keeps them: `[stamp, kind, source]`, then a report's `about`."""
    return [[m.stamp, m.kind, m.source, *([m.about] if m.about else [])] for m in exception.markers]


def _append(
    session: Session, exception_id: int, transition: core.Transition, *, version: int
) -> Outcome:
    for entry in transition.entries:
        session.add(
            ExceptionEntry(
                exception_id=exception_id,
                at=entry.when,
                who=entry.who,
                what=entry.what,
                note=entry.note,
            )
        )
    notices = tuple(Notified(exception_id, notice) for notice in transition.notices)
    what = tuple(entry.what for entry in transition.entries)
    return Outcome(exception_id, transition.changed, notices, what=what, version=version)


def fresh_row(session: Session, exception_id: int) -> ShipmentExceptionRow:
    statement = select(ShipmentExceptionRow).where(ShipmentExceptionRow.id == exception_id)
    row = session.exec(statement.execution_options(populate_existing=True)).first()
    if row is None:
        raise UnknownException(exception_id)
    return row


def _outbox(transition: core.Transition, version: int) -> list[list[str | int]]:
    """The transition's notices as the outbox keeps them: `[to, kind, version, when]`."""
    when = transition.entries[0].when.isoformat() if transition.entries else ""
    return [[n.to, n.kind, version, when] for n in transition.notices]


def _saved(session: Session, row: ShipmentExceptionRow, transition: core.Transition) -> int | None:
    """Compare-and-set: write the transition only if the row is still at the version read; its
    notices join the row's outbox in the same write. A transition that changes nothing for
    people may still add a marker (a second clearing of a resolved exception), which the fold
    needs for every order of events to end the same: it is written too. Returns the row's
    version after it, or None when another writer came first."""
    if not transition.changed and _stored_markers(transition.exception) == row.markers:
        return row.version
    result = session.execute(
        update(ShipmentExceptionRow)
        .where(
            col(ShipmentExceptionRow.id) == row.id, col(ShipmentExceptionRow.version) == row.version
        )
        .values(
            **_columns(transition.exception),
            notices=[*row.notices, *_outbox(transition, row.version + 1)],
            version=row.version + 1,
        )
        .execution_options(synchronize_session=False)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        return None
    # The metrics' histograms, in the same transaction (`app.store.exception_stats`).
    exception_stats.observe(session, before=row, after=transition.exception)
    return row.version + 1


def _transit(
    session: Session,
    exception_id: int,
    decide: Callable[[core.ShipmentException], core.Transition],
) -> Outcome:
    """Read, decide, compare-and-set; again from a fresh read when another writer came first.
    The core's `ActionRefused` propagates."""
    for _ in range(MAX_ATTEMPTS):
        row = fresh_row(session, exception_id)
        transition = decide(as_core(row))
        version = _saved(session, row, transition)
        if version is not None:
            return _append(session, exception_id, transition, version=version)
    raise ConcurrentChanges(exception_id)


def _row_of(session: Session, shipment_id: str, family: str) -> ShipmentExceptionRow | None:
    return session.exec(
        select(ShipmentExceptionRow).where(
            ShipmentExceptionRow.shipment_id == shipment_id, ShipmentExceptionRow.family == family
        )
    ).first()


def _open(
    session: Session,
    *,
    shipment_id: str,
    family: str,
    severity: Severity,
    ref: core.EventRef,
    now: datetime,
) -> Outcome | None:
    """The exception a first report opens; None when another writer opened it meanwhile."""
    early = session.exec(
        select(EarlyClearing).where(
            EarlyClearing.shipment_id == shipment_id, EarlyClearing.family == family
        )
    ).all()
    clears = tuple(core.EventRef(e.stamp, e.event_id) for e in early)
    transition = core.open_exception(
        shipment_id, family, severity, ref, at=now, earlier_clears=clears
    )
    row = ShipmentExceptionRow(
        shipment_id=shipment_id, family=family, **_columns(transition.exception)
    )
    try:
        with session.begin_nested():  # a concurrent first report may have inserted it
            session.add(row)
            session.flush()
    except IntegrityError:
        return None
    for clearing in early:
        session.delete(clearing)
    assert row.id is not None
    return _append(session, row.id, transition, version=row.version)


def record_event(
    session: Session,
    *,
    shipment_id: str,
    event_id: str,
    occurred_at: datetime,
    effect: ExceptionEffect,
    severities: Mapping[str, Severity],
    now: datetime,
    about: str = "",
) -> tuple[Outcome, ...]:
    """A Flexport event's `effect` (`app.core.exception_families.exception_effect`) on the
    shipment's exceptions: it opens one or adds an occurrence (or a recurrence), and clears
    others. Idempotent per event id: a redelivery changes nothing. `severities`: the
    configured overrides of the families' default severities. `about`: the stamp of what a
    report made after the fact is about (`core.EventRef.about`: the missed ETA's announcement)."""
    ref = core.EventRef(stamp(occurred_at, event_id), event_id, about)
    outcomes: list[Outcome] = []
    cleared: list[int] = []
    for family in sorted(effect.clears - {effect.opens}):
        row = _row_of(session, shipment_id, family)
        if row is None:
            _remember_early_clearing(session, shipment_id, family, ref)
        elif row.id is not None:
            cleared.append(row.id)
    for exception_id in sorted(cleared):  # in id order, as bulk actions write (PostgreSQL locks)
        outcomes.append(_transit(session, exception_id, lambda e: core.clear(e, ref)))
    if effect.opens is not None:
        outcomes.append(_report(session, shipment_id, effect.opens, ref, severities, now))
    return tuple(outcomes)


def _report(
    session: Session,
    shipment_id: str,
    family: str,
    ref: core.EventRef,
    severities: Mapping[str, Severity],
    now: datetime,
) -> Outcome:
    """A report of `family`: opens its exception, or adds an occurrence (or a recurrence)."""
    for _ in range(MAX_ATTEMPTS):
        row = _row_of(session, shipment_id, family)
        if row is not None:
            assert row.id is not None
            return _transit(session, row.id, lambda e: core.report(e, ref, at=now))
        severity = severity_of(family, severities)
        opened = _open(
            session, shipment_id=shipment_id, family=family, severity=severity, ref=ref, now=now
        )
        if opened is not None:
            return opened
    raise ConcurrentChanges(f"{shipment_id}/{family}")


def entries_by(session: Session, *, exception_id: int, who: str) -> tuple[str, ...]:
    """What the exception's timeline says `who` did to it (`opened`, `occurrence`, ...)."""
    statement = select(ExceptionEntry.what).where(
        ExceptionEntry.exception_id == exception_id, ExceptionEntry.who == who
    )
    return tuple(session.exec(statement).all())


def wake(session: Session, *, exception_id: int, at: datetime) -> Outcome:
    """The end of a snooze (its timer fired at `at`): back to acknowledged or open; nothing
    when it is no longer snoozed or its time has not come."""
    return _transit(session, exception_id, lambda e: core.wake(e, at=at))


def _remember_early_clearing(
    session: Session, shipment_id: str, family: str, ref: core.EventRef
) -> None:
    known = session.exec(
        select(EarlyClearing.id).where(
            EarlyClearing.shipment_id == shipment_id,
            EarlyClearing.family == family,
            EarlyClearing.event_id == ref.event_id,
        )
    ).first()
    if known is None:
        session.add(
            EarlyClearing(
                shipment_id=shipment_id, family=family, event_id=ref.event_id, stamp=ref.stamp
            )
        )


def _decision(
    action: Action,
    *,
    by: str,
    at: datetime,
    note: str | None,
    assignee: str | None,
    until: datetime | None,
) -> Callable[[core.ShipmentException], core.Transition]:
    if action == "acknowledge":
        return lambda e: core.acknowledge(e, by=by, at=at, text=note)
    if action == "assign":
        return lambda e: core.assign(e, assignee=assignee or "", by=by, at=at, text=note)
    if action == "note":
        return lambda e: core.note(e, text=note or "", by=by, at=at)
    if action == "snooze":
        if until is None:
            raise core.ActionRefused("a snooze needs the time it ends")
        return lambda e: core.snooze(e, until=until, by=by, at=at, text=note)
    if action == "resolve":
        return lambda e: core.resolve(e, by=by, at=at, text=note)
    return lambda e: core.reopen(e, by=by, at=at, text=note)


def act(
    session: Session,
    *,
    exception_id: int,
    action: Action,
    by: str,
    at: datetime,
    note: str | None = None,
    assignee: str | None = None,
    until: datetime | None = None,
) -> Outcome:
    """A person's action on one exception. Raises the core's `ActionRefused` (saying why) and
    `UnknownException`."""
    decide = _decision(action, by=by, at=at, note=note, assignee=assignee, until=until)
    return _acted(session, exception_id, decide, at)


def _acted(
    session: Session,
    exception_id: int,
    decide: Callable[[core.ShipmentException], core.Transition],
    at: datetime,
) -> Outcome:
    """A person's decided action, saved; a change is marked for its watch (`untold_watches`)."""
    outcome = _transit(session, exception_id, decide)
    if outcome.changed:
        untold_watches.mark(session, exception_id, version=outcome.version, at=at)
    return outcome


def act_on_each(
    session: Session,
    *,
    exception_ids: Iterable[int],
    action: Action,
    by: str,
    at: datetime,
    note: str | None = None,
    assignee: str | None = None,
    until: datetime | None = None,
    unknown: str = "no such exception",
) -> dict[int, Outcome]:
    """`action` with one shared note on each exception, by id: a refusal (with its reason, or
    `unknown` for an id that is no exception) stops none of the others. They are written in
    ascending id, so that two of these, or one and the forgetting of told marks
    (`untold_watches`), never lock two rows in opposite orders (PostgreSQL)."""
    ids = sorted(set(exception_ids))
    try:
        decide = _decision(action, by=by, at=at, note=note, assignee=assignee, until=until)
    except core.ActionRefused as refusal:  # the same refusal for each
        return {i: Outcome(i, changed=False, refused=str(refusal)) for i in ids}
    outcomes: dict[int, Outcome] = {}
    for exception_id in ids:
        try:
            outcomes[exception_id] = _acted(session, exception_id, decide, at)
        except core.ActionRefused as refusal:
            outcomes[exception_id] = Outcome(exception_id, changed=False, refused=str(refusal))
        except UnknownException:
            outcomes[exception_id] = Outcome(exception_id, changed=False, refused=unknown)
    return outcomes


def bulk_act(
    session: Session,
    *,
    where: ExceptionFilter,
    action: Action,
    by: str,
    at: datetime,
    note: str | None = None,
    assignee: str | None = None,
    until: datetime | None = None,
    limit: int = 500,
) -> tuple[Outcome, ...]:
    """`act_on_each` on every exception `where` matches (at most `limit`, in inbox order), the
    outcomes in inbox order."""
    ids = [
        i
        for i in session.exec(
            in_inbox_order(filtered_by(select(ShipmentExceptionRow.id), where)).limit(limit)
        ).all()
        if i is not None
    ]
    outcomes = act_on_each(
        session,
        exception_ids=ids,
        action=action,
        by=by,
        at=at,
        note=note,
        assignee=assignee,
        until=until,
    )
    return tuple(outcomes[i] for i in ids)
