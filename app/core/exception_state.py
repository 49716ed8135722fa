"""The life of one shipment exception, as a pure state machine. Standard library only.

An exception is one problem of one shipment in one family (`app.core.exception_families`). Its
state is `open`, `acknowledged`, `snoozed` or `resolved`. Flexport's reports and clearing events
and a person's resolve and reopen are markers (`app.core.exception_markers`). Whether the
exception is resolved, how often it recurred and who resolved it are read from the markers in
stamp order, never in arrival order: so a late event (older than the clearing one) never
reopens, a redelivered event (an id already marked) changes nothing, and any order of the same
events ends in the same state. The marker types are re-exported here (`EventRef`, `Marker`,
`SYSTEM`, ...) for the store and the ETA watch.

Acknowledging, assigning, noting and snoozing belong to the current episode (since the exception
was last opened): a recurrence or a reopen starts a new one, unacknowledged.

Every transition returns the timeline entries it adds (when, who, what, note) and the notices it
implies: the acknowledger hears once when Flexport resolves what they acknowledged, an assignee
hears of the assignment. A person's action that makes no sense in the state it finds raises
`ActionRefused` saying why.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Final, Literal

from app.core.exception_families import Severity, family
from app.core.exception_markers import FLEXHOOK_EVENT_PREFIX as FLEXHOOK_EVENT_PREFIX
from app.core.exception_markers import SETTLES, Lifecycle, settled_by
from app.core.exception_markers import SYSTEM as SYSTEM
from app.core.exception_markers import EventRef as EventRef
from app.core.exception_markers import Marker as Marker
from app.core.exception_markers import lifecycle as lifecycle
from app.core.stamps import stamp, stamp_time

State = Literal["open", "acknowledged", "snoozed", "resolved"]
STATES: Final[tuple[State, ...]] = ("open", "acknowledged", "snoozed", "resolved")
NoticeKind = Literal["resolved", "assigned"]


class ActionRefused(ValueError):
    """A person's action that the exception's state does not allow; the message says why."""


@dataclass(frozen=True)
class TimelineEntry:
    when: datetime
    who: str  # a person's name, `system`, or `flexport:<event id>`
    what: str
    note: str | None = None


@dataclass(frozen=True)
class Notice:
    """A message a transition implies for one person (at their token's contact)."""

    to: str
    kind: NoticeKind


@dataclass(frozen=True)
class ShipmentException:
    """One problem of one shipment. `opened_at` is when flexhook opened the current episode."""

    shipment_id: str
    family: str
    severity: Severity
    opened_at: datetime
    markers: tuple[Marker, ...]
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    assignee: str | None = None
    snoozed_until: datetime | None = None

    @property
    def lifecycle(self) -> Lifecycle:
        return lifecycle(self.markers)

    @property
    def state(self) -> State:
        if self.lifecycle.resolved_by is not None:
            return "resolved"
        if self.snoozed_until is not None:
            return "snoozed"
        return "acknowledged" if self.acknowledged_by is not None else "open"

    @property
    def resolved_by(self) -> str | None:
        """Who resolved it: a person's name or `flexport:<event id>`; None unless resolved."""
        closer = self.lifecycle.resolved_by
        return closer.who if closer is not None else None

    @property
    def occurrences(self) -> int:
        return self.lifecycle.occurrences

    @property
    def recurrences(self) -> int:
        return self.lifecycle.recurrences

    @property
    def first_reported_at(self) -> datetime:
        return stamp_time(next(m.stamp for m in self.markers if m.kind == "report"))

    def has_seen(self, event_id: str) -> bool:
        return any(m.source == event_id for m in self.markers if m.kind in ("report", "clear"))


@dataclass(frozen=True)
class Transition:
    """The exception after a transition, the timeline entries it adds and the notices it implies.
    No entries: nothing changed (a redelivery, a wake-up before its time)."""

    exception: ShipmentException
    entries: tuple[TimelineEntry, ...] = ()
    notices: tuple[Notice, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.entries)


def _with(exception: ShipmentException, marker: Marker) -> ShipmentException:
    markers = list(exception.markers)
    bisect.insort(markers, marker)
    return replace(exception, markers=tuple(markers))


def _new_episode(exception: ShipmentException, at: datetime) -> ShipmentException:
    return replace(
        exception, opened_at=at, acknowledged_by=None, acknowledged_at=None, snoozed_until=None
    )


def open_exception(
    shipment_id: str,
    family_name: str,
    severity: Severity,
    report: EventRef,
    *,
    at: datetime,
    earlier_clears: tuple[EventRef, ...] = (),
) -> Transition:
    """The exception a first report opens. `earlier_clears`: the clearing events of its family
    the shipment already had (a release that arrived before the hold it releases), so that the
    exception is the same whatever order the events came in."""
    exception = ShipmentException(
        shipment_id=shipment_id,
        family=family_name,
        severity=severity,
        opened_at=at,
        markers=(Marker(report.stamp, "report", report.event_id, report.about),),
    )
    entries = [TimelineEntry(stamp_time(report.stamp), report.who, "opened")]
    for ref in sorted(earlier_clears, key=lambda r: r.stamp):
        cleared = clear(exception, ref)
        exception = cleared.exception
        entries.extend(cleared.entries)
    return Transition(exception, tuple(entries))


def report(exception: ShipmentException, ref: EventRef, *, at: datetime) -> Transition:
    """Another report of the problem: an occurrence; after a resolution older than it, a
    recurrence that reopens the exception; older than the resolution, only an occurrence. A
    report that a clearing already recorded settles (`settled_by`) is an occurrence that
    resolves the exception."""
    if exception.has_seen(ref.event_id):
        return Transition(exception)
    was_resolved = exception.state == "resolved"
    after = _with(exception, Marker(ref.stamp, "report", ref.event_id, ref.about))
    when = stamp_time(ref.stamp)
    closer = after.lifecycle.resolved_by
    if was_resolved and closer is None:
        reopened = _new_episode(after, at)
        return Transition(reopened, (TimelineEntry(when, ref.who, "recurred"),))
    if closer is None:
        return Transition(after, (TimelineEntry(when, ref.who, "occurrence"),))
    # Resolved after it: by a clearing newer than the report, or by one that settles it.
    note = "older than its resolution" if ref.stamp < closer.stamp else "settled already"
    entries = [TimelineEntry(when, ref.who, "occurrence", note)]
    notices: tuple[Notice, ...] = ()
    if not was_resolved:  # a clearing it already had settles this report (`settled_by`)
        after = replace(after, snoozed_until=None)
        entries.append(TimelineEntry(stamp_time(closer.stamp), closer.who, "resolved", SETTLES))
        if exception.acknowledged_by is not None:
            notices = (Notice(to=exception.acknowledged_by, kind="resolved"),)
    return Transition(after, tuple(entries), notices)


def clear(exception: ShipmentException, ref: EventRef) -> Transition:
    """A clearing event: resolves the exception when it is newer than every report and
    reopening; tells the acknowledger once. A clearing older than the latest report leaves it
    open (the problem was reported again after it)."""
    if exception.has_seen(ref.event_id):
        return Transition(exception)
    was_resolved = exception.state == "resolved"
    after = _with(exception, Marker(ref.stamp, "clear", ref.event_id))
    when = stamp_time(ref.stamp)
    if was_resolved:
        return _recounted(exception, after, ref, when)
    if after.lifecycle.resolved_by is None:
        note = "older than the latest report or reopening: still open"
        return Transition(after, (TimelineEntry(when, ref.who, "cleared", note),))
    resolved = replace(after, snoozed_until=None)
    notices: tuple[Notice, ...] = ()
    if exception.acknowledged_by is not None:
        notices = (Notice(to=exception.acknowledged_by, kind="resolved"),)
    settles = settled_by(Marker(ref.stamp, "clear", ref.event_id), after.markers) is not None
    why = SETTLES if settles else None
    return Transition(resolved, (TimelineEntry(when, ref.who, "resolved", why),), notices)


def _recounted(
    exception: ShipmentException, after: ShipmentException, ref: EventRef, when: datetime
) -> Transition:
    """A clearing of an exception already resolved: it stays resolved, and the marker is kept
    (for the fold to end the same in every order). When it is older than what resolved it,
    it changes what the markers say (who resolved it, or that a later report recurred after
    it): the timeline says so."""
    before, now = exception.lifecycle, after.lifecycle
    if now == before:
        return Transition(after)  # nothing new for people
    if now.resolved_by != before.resolved_by:
        note = "older than the resolution: resolved by it"
    else:
        note = "older than a later report, which now counts as a recurrence"
    return Transition(after, (TimelineEntry(when, ref.who, "cleared", note),))


def _refuse_if_resolved(exception: ShipmentException, action: str) -> None:
    if exception.state == "resolved":
        closer = exception.lifecycle.resolved_by
        assert closer is not None
        raise ActionRefused(
            f"cannot {action}: already resolved by {closer.who} at "
            f"{stamp_time(closer.stamp):%Y-%m-%d %H:%M} UTC"
        )


def _named(value: str, what: str) -> str:
    value = value.strip()
    if not value:
        raise ActionRefused(f"{what} must not be empty")
    return value


def acknowledge(
    exception: ShipmentException, *, by: str, at: datetime, text: str | None = None
) -> Transition:
    """`by` takes the problem on; refused once resolved or already acknowledged."""
    _refuse_if_resolved(exception, "acknowledge")
    if exception.acknowledged_by is not None:
        raise ActionRefused(f"already acknowledged by {exception.acknowledged_by}")
    by = _named(by, "who acknowledges")
    acknowledged = replace(exception, acknowledged_by=by, acknowledged_at=at)
    return Transition(acknowledged, (TimelineEntry(at, by, "acknowledged", text),))


def assign(
    exception: ShipmentException,
    *,
    assignee: str,
    by: str,
    at: datetime,
    text: str | None = None,
) -> Transition:
    """Give the problem to `assignee` (a named token's person), who is told unless they
    assigned it to themselves. The entry's note names the assignee, then `text`."""
    _refuse_if_resolved(exception, "assign")
    assignee = _named(assignee, "the assignee")
    if exception.assignee == assignee:
        raise ActionRefused(f"already assigned to {assignee}")
    assigned = replace(exception, assignee=assignee)
    notices = () if assignee == by else (Notice(to=assignee, kind="assigned"),)
    said = f"to {assignee}" + (f": {text.strip()}" if text and text.strip() else "")
    entry = TimelineEntry(at, by, "assigned", said)
    return Transition(assigned, (entry,), notices)


def note(exception: ShipmentException, *, text: str, by: str, at: datetime) -> Transition:
    """A note on the timeline, in any state."""
    return Transition(exception, (TimelineEntry(at, by, "noted", _named(text, "the note")),))


def snooze(
    exception: ShipmentException,
    *,
    until: datetime,
    by: str,
    at: datetime,
    text: str | None = None,
) -> Transition:
    """Quiet the problem until `until` (later than `at`); it wakes up then (`wake`)."""
    _refuse_if_resolved(exception, "snooze")
    if until <= at:
        raise ActionRefused("a snooze must end in the future")
    snoozed = replace(exception, snoozed_until=until)
    entry = TimelineEntry(at, by, f"snoozed until {until.astimezone(UTC):%Y-%m-%d %H:%M} UTC", text)
    return Transition(snoozed, (entry,))


def wake(exception: ShipmentException, *, at: datetime) -> Transition:
    """The end of a snooze: back to acknowledged or open. Before its time, or when the
    exception is no longer snoozed (resolved or reopened meanwhile), nothing changes."""
    until = exception.snoozed_until
    if exception.state != "snoozed" or until is None or at < until:
        return Transition(exception)
    return Transition(replace(exception, snoozed_until=None), (TimelineEntry(at, SYSTEM, "woke"),))


def resolve(
    exception: ShipmentException, *, by: str, at: datetime, text: str | None = None
) -> Transition:
    """A person closes the problem. When its family clears itself on a Flexport event, they
    must say why they do not wait for it (`text`)."""
    _refuse_if_resolved(exception, "resolve")
    rules = family(exception.family)
    if rules.clears_itself and not (text and text.strip()):
        raise ActionRefused(
            f"a note is required: {rules.label.lower()} resolves itself when the shipment is "
            f"{' or '.join(m.replace('_', ' ') for m in rules.cleared_by)}"
        )
    by = _named(by, "who resolves")
    resolved = replace(_with(exception, Marker(stamp(at, by), "resolve", by)), snoozed_until=None)
    return Transition(resolved, (TimelineEntry(at, by, "resolved", text),))


def reopen(
    exception: ShipmentException, *, by: str, at: datetime, text: str | None = None
) -> Transition:
    """A person opens a resolved problem again: a new episode. A clearing event older than
    this moment does not resolve it again; a newer one does."""
    if exception.state != "resolved":
        raise ActionRefused(f"cannot reopen: it is {exception.state}")
    by = _named(by, "who reopens")
    reopened = _new_episode(_with(exception, Marker(stamp(at, by), "reopen", by)), at)
    return Transition(reopened, (TimelineEntry(at, by, "reopened", text),))


@dataclass(frozen=True)
class BulkOutcome:
    """One action over many exceptions: the transitions it made, and what it refused and why."""

    transitions: tuple[Transition, ...]
    refused: tuple[tuple[ShipmentException, str], ...]


def each(
    exceptions: Iterable[ShipmentException], action: Callable[[ShipmentException], Transition]
) -> BulkOutcome:
    """`action` (one of the person's actions with its arguments, the shared note among them)
    on every exception: a refusal skips that one, with its reason, and stops none of the others."""
    transitions: list[Transition] = []
    refused: list[tuple[ShipmentException, str]] = []
    for exception in exceptions:
        try:
            transitions.append(action(exception))
        except ActionRefused as refusal:
            refused.append((exception, str(refusal)))
    return BulkOutcome(tuple(transitions), tuple(refused))
