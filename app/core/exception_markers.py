"""The markers an exception's state is read from, and how they are read. Standard library only.

Flexport's reports and clearing events and a person's resolve and reopen are markers, each with
a stamp (`occurred_at|event id`, UTC, as `app.store.projection.make_stamp` writes it; a person's
action is stamped by when it was taken). `lifecycle` folds them in stamp order, never in arrival
order (`app.core.exception_state` builds the state machine on it), with one exception:
a clearing that settles a report made after the fact (`EventRef.about`, flexhook's missed ETA)
counts as just after that report (`settled_by`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

MarkerKind = Literal["report", "clear", "resolve", "reopen"]
SYSTEM: Final = "system"
# Ids of events flexhook itself reports (the ETA watch's missed ETA) start with this.
FLEXHOOK_EVENT_PREFIX: Final = "flexhook:"
# The note of a resolution by a clearing that happened before the report it settles.
SETTLES: Final = "it happened after what the report is about, and settles it"


@dataclass(frozen=True)
class EventRef:
    """An event as the state machine sees it: its stamp and its id. `about`, for a report made
    after what it reports on (flexhook's missed ETA, reported when the grace ran out, about an
    ETA announced before): the stamp of that announcement, "" for every other event."""

    stamp: str
    event_id: str
    about: str = ""

    @property
    def who(self) -> str:
        """`flexport:<event id>`, or `system` for flexhook's own reports."""
        if self.event_id.startswith(FLEXHOOK_EVENT_PREFIX):
            return SYSTEM
        return f"flexport:{self.event_id}"


@dataclass(frozen=True, order=True)
class Marker:
    """One report, clearing, resolution or reopening, in stamp order."""

    stamp: str
    kind: MarkerKind
    source: str  # the event's id (report, clear) or the person's name (resolve, reopen)
    about: str = ""  # a report's `EventRef.about`

    @property
    def closes(self) -> bool:
        return self.kind in ("clear", "resolve")

    @property
    def who(self) -> str:
        if self.kind in ("resolve", "reopen"):
            return self.source
        return EventRef(self.stamp, self.source).who


@dataclass(frozen=True)
class Lifecycle:
    """What the markers say, read in stamp order."""

    resolved_by: Marker | None  # the marker that closed it, while it is resolved
    occurrences: int
    recurrences: int


def lifecycle(markers: tuple[Marker, ...]) -> Lifecycle:
    """Fold the markers (in stamp order, but see `_fold_order`): a close before the first
    report closes nothing."""
    closed_by: Marker | None = None
    opened = False
    occurrences = recurrences = 0
    for marker in _fold_order(markers):
        if marker.kind == "report":
            occurrences += 1
            if closed_by is not None:
                recurrences += 1
            opened, closed_by = True, None
        elif marker.kind == "reopen":
            closed_by = None
        elif opened and closed_by is None:
            closed_by = marker
    return Lifecycle(resolved_by=closed_by, occurrences=occurrences, recurrences=recurrences)


def settled_by(marker: Marker, markers: tuple[Marker, ...]) -> str | None:
    """The stamp of the latest report that clearing `marker` settles although it happened
    before the report was made: one about something announced before the clearing (an arrival
    after the ETA was announced settles the ETA's missed report, however late the arrival was
    reported), with no person's reopening between the clearing and the report (that stands).
    None when there is none: the clearing keeps its own place."""
    if marker.kind != "clear":
        return None
    reopened = [m.stamp for m in markers if m.kind == "reopen" and m.stamp > marker.stamp]
    return max(
        (
            m.stamp
            for m in markers
            if m.kind == "report"
            and m.about
            and m.about < marker.stamp <= m.stamp
            and not any(stamp < m.stamp for stamp in reopened)
        ),
        default=None,
    )


def _fold_order(markers: tuple[Marker, ...]) -> tuple[Marker, ...]:
    """Stamp order, except that a clearing settling a report made after it (`settled_by`)
    counts as just after that report. It depends on the markers alone, so every arrival order
    of the same markers still folds the same."""
    if not any(m.about for m in markers):
        return markers

    def order(marker: Marker) -> tuple[str, int, Marker]:
        settled = settled_by(marker, markers)
        return (settled, 1, marker) if settled is not None else (marker.stamp, 0, marker)

    return tuple(sorted(markers, key=order))
