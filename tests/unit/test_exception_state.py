"""The exception state machine, driven by recorded-style Flexport events of shipment 418563 and by
people: one exception per problem, closing itself when the world does, the same whatever order
the events come in, and people's actions racing Flexport's."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import pytest

from app.core.events import Event
from app.core.exception_families import MISSED_ETA_TYPE, exception_effect, family
from app.core.exception_state import (
    ActionRefused,
    EventRef,
    Notice,
    ShipmentException,
    TimelineEntry,
    Transition,
    acknowledge,
    assign,
    clear,
    each,
    note,
    open_exception,
    reopen,
    report,
    resolve,
    snooze,
    wake,
)
from app.core.stamps import stamp
from app.core.taxonomy import classify
from tests.unit.exception_samples import sample_event

HOLD = "/shipment#customs_entry_release_status_under_cbp_review"
NOW = datetime(2026, 3, 16, 9, 0, tzinfo=UTC)


def hold(event_id: int, occurred_at: str) -> Event:
    """A customs hold on shipment 418563 (the release sample, retyped), as Flexport sends it."""
    return again(sample_event("11_customs_released", event_type=HOLD), event_id, occurred_at)


def again(event: Event, event_id: int, occurred_at: str) -> Event:
    """`event` as another delivery of its type: another id, another time."""
    return replace(event, event_id=str(event_id), occurred_at_raw=occurred_at)


HOLD_1 = hold(900001, "2026-03-15T20:00:00Z")
HOLD_2 = hold(900002, "2026-03-15T22:00:00Z")  # the same hold, reported again
RELEASE = sample_event("11_customs_released")  # id 48302560, 2026-03-16T01:20Z
HOLD_3 = hold(900003, "2026-03-17T09:00:00Z")  # held again after the release: a recurrence
RELEASED_BY = "flexport:48302560"


def ref(event: Event) -> EventRef:
    occurred_at = event.occurred_at()
    assert occurred_at is not None
    return EventRef(stamp(occurred_at, event.event_id), event.event_id)


@dataclass
class OneFamily:
    """What the store will do for one (shipment, family): keep the exception, remember clearing
    events that came before it opened, and collect every timeline entry and notice."""

    family: str
    exception: ShipmentException | None = None
    earlier_clears: list[EventRef] = field(default_factory=list)
    timeline: list[TimelineEntry] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)

    def take(self, transition: Transition) -> Transition:
        self.exception = transition.exception
        self.timeline.extend(transition.entries)
        self.notices.extend(transition.notices)
        return transition

    def deliver(self, event: Event, *, at: datetime = NOW) -> Transition | None:
        effect = exception_effect(event.type, event.classification, event.facts())
        if effect.opens == self.family:
            if self.exception is None:
                return self.take(
                    open_exception(
                        "418563",
                        self.family,
                        family(self.family).severity,
                        ref(event),
                        at=at,
                        earlier_clears=tuple(self.earlier_clears),
                    )
                )
            return self.take(report(self.exception, ref(event), at=at))
        if self.family in effect.clears:
            if self.exception is None:
                self.earlier_clears.append(ref(event))
                return None
            return self.take(clear(self.exception, ref(event)))
        return None

    @property
    def current(self) -> ShipmentException:
        assert self.exception is not None
        return self.exception


def outcome(exception: ShipmentException) -> tuple[str, int, int, str | None]:
    return (exception.state, exception.occurrences, exception.recurrences, exception.resolved_by)


def test_a_hold_reported_twice_then_released_is_one_exception_resolved_by_the_release() -> None:
    holds = OneFamily("customs_hold")
    for event in (HOLD_1, HOLD_2, RELEASE):
        holds.deliver(event)
    assert outcome(holds.current) == ("resolved", 2, 0, RELEASED_BY)
    assert [(e.who, e.what) for e in holds.timeline] == [
        ("flexport:900001", "opened"),
        ("flexport:900002", "occurrence"),
        (RELEASED_BY, "resolved"),
    ]
    assert holds.timeline[-1].when == datetime(2026, 3, 16, 1, 20, tzinfo=UTC)


@pytest.mark.parametrize(
    "order",
    list(itertools.permutations((HOLD_1, HOLD_2, RELEASE, HOLD_3))),
    ids=lambda order: "-".join(e.event_id for e in order),
)
def test_every_order_of_the_same_events_ends_in_the_same_state(order: tuple[Event, ...]) -> None:
    holds = OneFamily("customs_hold")
    for event in order:
        holds.deliver(event)
    assert outcome(holds.current) == ("open", 3, 1, None)
    assert holds.current.first_reported_at == datetime(2026, 3, 15, 20, tzinfo=UTC)


@pytest.mark.parametrize("order", list(itertools.permutations((HOLD_1, HOLD_2, RELEASE))))
def test_without_the_recurrence_every_order_ends_resolved_by_the_release(
    order: tuple[Event, ...],
) -> None:
    holds = OneFamily("customs_hold")
    for event in order:
        holds.deliver(event)
    assert outcome(holds.current) == ("resolved", 2, 0, RELEASED_BY)


def test_a_redelivered_event_changes_nothing() -> None:
    holds = OneFamily("customs_hold")
    for event in (HOLD_1, HOLD_2, RELEASE):
        holds.deliver(event)
    before = holds.current
    for event in (HOLD_1, HOLD_2, RELEASE, HOLD_2):
        again = holds.deliver(event)
        assert again is not None and not again.changed and again.notices == ()
    assert holds.current == before


def test_a_late_hold_older_than_the_release_never_reopens() -> None:
    holds = OneFamily("customs_hold")
    for event in (HOLD_1, RELEASE, HOLD_2):  # HOLD_2 happened before the release
        holds.deliver(event)
    assert outcome(holds.current) == ("resolved", 2, 0, RELEASED_BY)
    assert holds.timeline[-1] == TimelineEntry(
        datetime(2026, 3, 15, 22, tzinfo=UTC),
        "flexport:900002",
        "occurrence",
        "older than its resolution",
    )


def test_a_release_before_its_hold_opens_the_exception_resolved() -> None:
    holds = OneFamily("customs_hold")
    holds.deliver(RELEASE)
    assert holds.exception is None
    holds.deliver(HOLD_1)
    assert outcome(holds.current) == ("resolved", 1, 0, RELEASED_BY)
    assert [e.what for e in holds.timeline] == ["opened", "resolved"]


def test_a_recurrence_reopens_it_as_a_new_unacknowledged_episode() -> None:
    holds = OneFamily("customs_hold")
    holds.deliver(HOLD_1)
    holds.take(acknowledge(holds.current, by="Dana", at=NOW))
    holds.take(assign(holds.current, assignee="Dana", by="Dana", at=NOW))
    holds.deliver(RELEASE)
    later = datetime(2026, 3, 17, 9, 5, tzinfo=UTC)
    recurred = holds.deliver(HOLD_3, at=later)
    assert recurred is not None and recurred.entries[0].what == "recurred"
    assert outcome(holds.current) == ("open", 2, 1, None)
    assert (holds.current.acknowledged_by, holds.current.assignee) == (None, "Dana")
    assert holds.current.opened_at == later


def test_acknowledging_after_flexport_cleared_is_refused_with_the_reason() -> None:
    holds = OneFamily("customs_hold")
    holds.deliver(HOLD_1)
    holds.deliver(RELEASE)
    with pytest.raises(ActionRefused) as refused:
        acknowledge(holds.current, by="Dana", at=NOW)
    assert str(refused.value) == (
        "cannot acknowledge: already resolved by flexport:48302560 at 2026-03-16 01:20 UTC"
    )


def test_a_clear_after_an_acknowledgement_resolves_and_tells_the_acknowledger_once() -> None:
    holds = OneFamily("customs_hold")
    holds.deliver(HOLD_1)
    holds.take(acknowledge(holds.current, by="Dana", at=NOW))
    assert holds.current.state == "acknowledged"
    holds.deliver(RELEASE)
    holds.deliver(RELEASE)  # redelivered
    holds.deliver(sample_event("15_delivered_in_full"))  # a second clearing event
    assert outcome(holds.current) == ("resolved", 1, 0, RELEASED_BY)
    assert holds.notices == [Notice(to="Dana", kind="resolved")]


def test_a_person_resolves_a_self_clearing_family_only_with_a_note() -> None:
    holds = OneFamily("customs_hold")
    holds.deliver(HOLD_1)
    with pytest.raises(ActionRefused, match="a note is required: customs hold resolves itself"):
        resolve(holds.current, by="Dana", at=NOW, text="  ")
    holds.take(resolve(holds.current, by="Dana", at=NOW, text="broker confirmed by phone"))
    assert outcome(holds.current) == ("resolved", 1, 0, "Dana")
    assert holds.timeline[-1] == TimelineEntry(NOW, "Dana", "resolved", "broker confirmed by phone")


def test_a_family_without_clearing_events_is_resolved_without_a_note() -> None:
    missing = OneFamily("cargo_problem")
    missing.deliver(sample_event("01_shipment_created", event_type="/shipment#missing_cargo"))
    missing.take(resolve(missing.current, by="Dana", at=NOW))
    assert missing.current.resolved_by == "Dana"


def test_a_reopening_is_not_closed_again_by_an_older_clearing_event() -> None:
    holds = OneFamily("customs_hold")
    holds.deliver(HOLD_1)
    holds.take(resolve(holds.current, by="Dana", at=NOW - timedelta(hours=12), text="checked"))
    holds.take(reopen(holds.current, by="Lee", at=NOW, text="still held at the terminal"))
    holds.deliver(RELEASE)  # occurred 01:20, before the reopening at 09:00
    assert holds.current.state == "open"
    assert holds.timeline[-1].note == "older than the latest report or reopening: still open"
    holds.deliver(again(RELEASE, 48302999, "2026-03-16T10:00:00Z"))
    assert outcome(holds.current) == ("resolved", 1, 0, "flexport:48302999")


def test_an_assignee_hears_of_the_assignment_unless_they_took_it_themselves() -> None:
    holds = OneFamily("customs_hold")
    holds.deliver(HOLD_1)
    assigned = holds.take(assign(holds.current, assignee="Lee", by="Dana", at=NOW))
    assert assigned.notices == (Notice(to="Lee", kind="assigned"),)
    assert assigned.entries == (TimelineEntry(NOW, "Dana", "assigned", "to Lee"),)
    with pytest.raises(ActionRefused, match="already assigned to Lee"):
        assign(holds.current, assignee="Lee", by="Dana", at=NOW)
    assert assign(holds.current, assignee="Dana", by="Dana", at=NOW).notices == ()


def test_a_snooze_wakes_on_time_into_the_state_it_left() -> None:
    holds = OneFamily("customs_hold")
    holds.deliver(HOLD_1)
    holds.take(acknowledge(holds.current, by="Dana", at=NOW))
    with pytest.raises(ActionRefused, match="in the future"):
        snooze(holds.current, until=NOW, by="Dana", at=NOW)
    until = NOW + timedelta(hours=2)
    holds.take(snooze(holds.current, until=until, by="Dana", at=NOW, text="terminal closed"))
    assert holds.current.state == "snoozed"
    holds.deliver(HOLD_2)  # a repeat report does not wake it
    assert (holds.current.state, holds.current.occurrences) == ("snoozed", 2)
    assert not wake(holds.current, at=until - timedelta(seconds=1)).changed
    woke = holds.take(wake(holds.current, at=until))
    assert woke.entries == (TimelineEntry(until, "system", "woke"),)
    assert woke.exception.state == "acknowledged"


def test_a_clear_while_snoozed_resolves_and_the_wake_up_changes_nothing() -> None:
    holds = OneFamily("customs_hold")
    holds.deliver(HOLD_1)
    until = NOW + timedelta(days=1)
    holds.take(snooze(holds.current, until=until, by="Dana", at=NOW))
    holds.deliver(RELEASE)
    assert (holds.current.state, holds.current.snoozed_until) == ("resolved", None)
    assert not wake(holds.current, at=until).changed
    assert holds.notices == []  # nobody acknowledged it


def test_notes_in_any_state_and_refusals_of_what_makes_no_sense() -> None:
    holds = OneFamily("customs_hold")
    holds.deliver(HOLD_1)
    with pytest.raises(ActionRefused, match="cannot reopen: it is open"):
        reopen(holds.current, by="Dana", at=NOW)
    with pytest.raises(ActionRefused, match="the note must not be empty"):
        note(holds.current, text=" ", by="Dana", at=NOW)
    holds.take(acknowledge(holds.current, by="Dana", at=NOW))
    with pytest.raises(ActionRefused, match="already acknowledged by Dana"):
        acknowledge(holds.current, by="Lee", at=NOW)
    holds.deliver(RELEASE)
    noted = holds.take(note(holds.current, text="invoice the exam fee", by="Lee", at=NOW))
    assert noted.entries == (TimelineEntry(NOW, "Lee", "noted", "invoice the exam fee"),)
    actions: list[Callable[[], Transition]] = [
        lambda: assign(holds.current, assignee="Lee", by="Dana", at=NOW),
        lambda: snooze(holds.current, until=NOW + timedelta(hours=1), by="Dana", at=NOW),
        lambda: resolve(holds.current, by="Dana", at=NOW, text="done"),
    ]
    for refused in actions:
        with pytest.raises(ActionRefused, match="already resolved by flexport:48302560"):
            refused()


def test_a_missed_eta_is_opened_by_the_system_and_cleared_by_the_arrival() -> None:
    missed = OneFamily("missed_eta")
    eta = datetime(2026, 3, 13, 15, tzinfo=UTC)
    effect = exception_effect(MISSED_ETA_TYPE, classify(MISSED_ETA_TYPE), None)
    assert effect.opens == "missed_eta"
    watch = EventRef(stamp(eta, "flexhook:eta_missed:418563"), "flexhook:eta_missed:418563")
    missed.take(open_exception("418563", "missed_eta", "high", watch, at=eta))
    assert missed.timeline == [TimelineEntry(eta, "system", "opened")]
    missed.deliver(sample_event("09_leg_arrived"))
    assert outcome(missed.current) == ("resolved", 1, 0, "flexport:48301288")


def test_a_release_older_than_a_persons_resolution_takes_its_place_and_says_so() -> None:
    """Dana resolved the hold at 09:00; Flexport's release, which happened at 01:20, comes in
    after: the markers now say the release resolved it, and the timeline says why."""
    holds = OneFamily("customs_hold")
    holds.deliver(HOLD_1)
    holds.take(resolve(holds.current, by="Dana", at=NOW, text="broker confirmed the release"))
    released = holds.deliver(RELEASE)
    assert released is not None and released.changed
    assert outcome(holds.current) == ("resolved", 1, 0, RELEASED_BY)
    assert holds.timeline[-1].note == "older than the resolution: resolved by it"


def test_a_release_older_than_a_later_report_makes_that_report_a_recurrence() -> None:
    holds = OneFamily("customs_hold")
    holds.deliver(HOLD_1)  # 03-15 20:00
    holds.deliver(hold(900004, "2026-03-16T05:00:00Z"))  # held again after the release (01:20)
    holds.take(resolve(holds.current, by="Dana", at=NOW, text="released at last"))
    holds.deliver(RELEASE)
    assert outcome(holds.current) == ("resolved", 2, 1, "Dana")
    assert holds.timeline[-1].note == "older than a later report, which now counts as a recurrence"


def test_a_second_release_of_a_resolved_hold_changes_nothing_for_people() -> None:
    holds = OneFamily("customs_hold")
    for event in (HOLD_1, RELEASE):
        holds.deliver(event)
    second = holds.deliver(again(RELEASE, 48302999, "2026-03-16T03:00:00Z"))
    assert second is not None and not second.changed
    assert outcome(holds.current) == ("resolved", 1, 0, RELEASED_BY)
    assert len(holds.current.markers) == 3  # kept all the same, for every order to fold alike


ARRIVED = sample_event("09_leg_arrived")  # id 48301288, arrived 2026-03-15T12:42Z
ARRIVED_BY = "flexport:48301288"
ETA_ANNOUNCED = stamp(datetime(2026, 3, 5, 17, 44, tzinfo=UTC), "48290377")  # sample 07


def missed_eta(noticed: datetime, about: str = ETA_ANNOUNCED) -> EventRef:
    """flexhook's missed-ETA report, made when the grace ran out (`noticed`) about the ETA
    announced at `about`."""
    event_id = f"flexhook:eta_missed:418563:{about}"
    return EventRef(stamp(noticed, event_id), event_id, about)


def missed_family(*refs: EventRef) -> OneFamily:
    missed = OneFamily("missed_eta")
    for ref in refs:
        if missed.exception is None:
            missed.take(open_exception("418563", "missed_eta", "high", ref, at=NOW))
        else:
            missed.take(report(missed.current, ref, at=NOW))
    return missed


@pytest.mark.parametrize("arrival_first", [False, True], ids=["report_first", "arrival_first"])
def test_an_arrival_after_the_eta_was_announced_settles_its_missed_report_however_late(
    arrival_first: bool,
) -> None:
    """The ETA announced on 03-05 passed; the grace ran out on 03-15 at 18:00 with no arrival
    known, so flexhook reported it missed. Flexport's arrival, which happened at 12:42 that day,
    came in after that (or, replayed, before): it settles the report in either order, as the ETA
    watch itself would have had it come in time."""
    missed = OneFamily("missed_eta")
    noticed = missed_eta(datetime(2026, 3, 15, 18, tzinfo=UTC))
    if arrival_first:
        missed.deliver(ARRIVED)
    missed.take(
        open_exception(
            "418563",
            "missed_eta",
            "high",
            noticed,
            at=NOW,
            earlier_clears=tuple(missed.earlier_clears),
        )
    )
    if not arrival_first:
        missed.deliver(ARRIVED)
    assert outcome(missed.current) == ("resolved", 1, 0, ARRIVED_BY)
    assert missed.timeline[-1] == TimelineEntry(
        datetime(2026, 3, 15, 12, 42, tzinfo=UTC),
        ARRIVED_BY,
        "resolved",
        "it happened after what the report is about, and settles it",
    )


def test_an_arrival_before_the_eta_was_announced_does_not_settle_its_missed_report() -> None:
    """An arrival older than the ETA's announcement is an earlier leg's or an earlier
    schedule's: the ETA watch reported the miss all the same, and the inbox agrees."""
    missed = missed_family(
        missed_eta(
            datetime(2026, 3, 20, 18, tzinfo=UTC), stamp(datetime(2026, 3, 16, tzinfo=UTC), "e-16")
        )
    )
    missed.deliver(ARRIVED)  # 03-15
    assert outcome(missed.current)[:2] == ("open", 1)
    assert missed.timeline[-1].note == "older than the latest report or reopening: still open"


def test_a_reopening_stands_against_a_settling_arrival_when_a_new_eta_is_missed() -> None:
    """Settled by the arrival, reopened by Dana, then a new ETA (announced after the arrival) is
    missed too: the old arrival settles nothing of the new report, which stays open."""
    missed = missed_family(missed_eta(datetime(2026, 3, 15, 18, tzinfo=UTC)))
    missed.deliver(ARRIVED)
    assert missed.current.state == "resolved"
    missed.take(reopen(missed.current, by="Dana", at=datetime(2026, 3, 16, 9, tzinfo=UTC)))
    second = missed_eta(
        datetime(2026, 3, 18, 18, tzinfo=UTC), stamp(datetime(2026, 3, 16, 10, tzinfo=UTC), "e-2")
    )
    missed.take(report(missed.current, second, at=NOW))
    assert outcome(missed.current) == ("open", 2, 0, None)


def test_a_settling_arrival_never_undoes_a_reopening_made_after_it() -> None:
    """Dana resolved the first missed ETA, then reopened it on 03-14; a new ETA announced on 03-12
    was reported missed on 03-16. The arrival of 03-13, reported later still, happened after that
    ETA's announcement but before Dana's reopening: her reopening stands."""
    missed = missed_family(
        missed_eta(
            datetime(2026, 3, 10, tzinfo=UTC), stamp(datetime(2026, 3, 1, tzinfo=UTC), "e-1")
        )
    )
    missed.take(
        resolve(missed.current, by="Dana", at=datetime(2026, 3, 11, tzinfo=UTC), text="arrived")
    )
    missed.take(reopen(missed.current, by="Dana", at=datetime(2026, 3, 14, tzinfo=UTC)))
    missed.take(
        report(
            missed.current,
            missed_eta(
                datetime(2026, 3, 16, tzinfo=UTC), stamp(datetime(2026, 3, 12, tzinfo=UTC), "e-2")
            ),
            at=NOW,
        )
    )
    missed.deliver(again(ARRIVED, 48309998, "2026-03-13T00:00:00Z"))
    assert outcome(missed.current)[0] == "open"


def test_a_report_that_an_arrival_already_settles_resolves_on_its_own() -> None:
    """The arrival of 03-15 was recorded while a missed ETA announced after it was open (it
    settles nothing of that one); then a missed report about an ETA announced before it comes
    in (a replayed watch): the arrival settles that report, and the exception resolves with it."""
    missed = missed_family(
        missed_eta(
            datetime(2026, 3, 20, tzinfo=UTC), stamp(datetime(2026, 3, 16, tzinfo=UTC), "e-2")
        )
    )
    missed.take(acknowledge(missed.current, by="Dana", at=NOW))
    missed.deliver(ARRIVED)
    assert missed.current.state == "acknowledged"
    settled = missed.take(
        report(missed.current, missed_eta(datetime(2026, 3, 21, tzinfo=UTC)), at=NOW)
    )
    assert outcome(missed.current) == ("resolved", 2, 0, ARRIVED_BY)
    assert [(e.who, e.what, e.note) for e in settled.entries] == [
        ("system", "occurrence", "settled already"),
        (ARRIVED_BY, "resolved", "it happened after what the report is about, and settles it"),
    ]
    assert settled.notices == (Notice(to="Dana", kind="resolved"),)


@pytest.mark.parametrize("order", list(itertools.permutations(range(4))))
def test_every_order_of_missed_reports_and_arrivals_ends_the_same(order: tuple[int, ...]) -> None:
    """Two missed ETAs and two arrivals, one settling the first report late and one after the
    second ETA's announcement: any delivery order ends resolved by the latter, two occurrences."""
    second_about = stamp(datetime(2026, 3, 16, 10, tzinfo=UTC), "e-2")
    later = again(ARRIVED, 48309999, "2026-03-18T07:00:00Z")
    steps: list[EventRef | Event] = [
        missed_eta(datetime(2026, 3, 15, 18, tzinfo=UTC)),
        ARRIVED,
        missed_eta(datetime(2026, 3, 18, 18, tzinfo=UTC), second_about),
        later,
    ]
    missed = OneFamily("missed_eta")
    for index in order:
        step = steps[index]
        if isinstance(step, Event):
            missed.deliver(step)
        elif missed.exception is None:
            missed.take(
                open_exception(
                    "418563",
                    "missed_eta",
                    "high",
                    step,
                    at=NOW,
                    earlier_clears=tuple(missed.earlier_clears),
                )
            )
        else:
            missed.take(report(missed.current, step, at=NOW))
    assert outcome(missed.current) == ("resolved", 2, 1, "flexport:48309999")


def test_a_bulk_acknowledgement_of_ten_shares_its_note_and_skips_the_resolved_one() -> None:
    holds = []
    for number in range(10):
        shipment = OneFamily("customs_hold")
        shipment.deliver(again(HOLD_1, 910000 + number, "2026-03-15T20:00:00Z"))
        holds.append(shipment)
    holds[3].deliver(RELEASE)
    shared = "broker Kim is on all of these"
    done = each(
        [h.current for h in holds], lambda e: acknowledge(e, by="Dana", at=NOW, text=shared)
    )
    assert [t.exception.state for t in done.transitions] == ["acknowledged"] * 9
    assert {t.entries for t in done.transitions} == {
        (TimelineEntry(NOW, "Dana", "acknowledged", shared),)
    }
    assert [(e.markers[0].source, why) for e, why in done.refused] == [
        ("910003", f"cannot acknowledge: already resolved by {RELEASED_BY} at 2026-03-16 01:20 UTC")
    ]
