"""The history of a shipment's ETA, and the step chart that shows it. Pure standard library.

Every estimated arrival an event reported is kept as an observation with the event's stamp
(`occurred_at|event id`, UTC, as `app.store.projection.make_stamp` writes it). The history is
those observations in stamp order, never in the order they were written: a report that
repeats the estimate it follows, a second report of the same event, and a report made when
or after the shipment arrived add no point, so the history is the same whatever order events
came in.

The chart is plain geometry (SVG coordinates, ticks with labels, preformatted text) for a
template to draw; it names no event, so a public page may show it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Literal

from app.core.display import MONTHS, time_text

# Tick spacings in days: the first that keeps an axis to at most `_MAX_TICKS` ticks is used.
_TICK_DAYS = (1, 2, 3, 7, 14, 28, 56, 91, 182, 364)
_MAX_TICKS = 6
_DAY = timedelta(days=1)
_LATEST = datetime.max.replace(tzinfo=UTC)
# The SVG canvas and the plot area inside it (room for the axis labels).
# Narrow enough that its text stays legible when a phone scales it down.
WIDTH, HEIGHT = 480, 250
LEFT, TOP, RIGHT, BOTTOM = 56.0, 34.0, 444.0, 206.0
# Two labels side by side ("revised", "arrived") need this much room across.
_LABEL_ROOM = 100.0

MarkKind = Literal["original", "revised", "arrived"]


@dataclass(frozen=True)
class EtaReport:
    """One stored observation: the event that reported an estimate, and that event's stamp."""

    event_id: str
    stamp: str
    estimate: datetime


@dataclass(frozen=True)
class EtaPoint:
    """One point of the history: an estimate, when it was reported (UTC) and by which event."""

    estimate: datetime
    reported_at: datetime
    event_id: str


def reported_at(stamp: str) -> datetime:
    """When the event of a stamp (`YYYY-MM-DDTHH:MM:SS.ffffff|event id`, UTC) happened."""
    year, _, rest = stamp.partition("|")[0].partition("-")
    # `strftime` writes years before 1000 unpadded (`1-01-01T…`); `fromisoformat` wants four
    # digits, and reads them ten times faster than `strptime`.
    return datetime.fromisoformat(f"{year.zfill(4)}-{rest}").replace(tzinfo=UTC)


def eta_history(
    reports: Iterable[EtaReport], *, actual_arrival: datetime | None
) -> tuple[EtaPoint, ...]:
    """The points of the ETA's history in reporting order (by stamp): each report that changes
    the estimate, of an event not seen before, reported before the actual arrival."""
    points: list[EtaPoint] = []
    seen: set[str] = set()
    for report in sorted(reports, key=lambda r: (r.stamp, r.event_id, r.estimate)):
        if report.event_id in seen:
            continue
        seen.add(report.event_id)
        when = reported_at(report.stamp)
        # An estimate reported once the shipment has arrived (the arrival's own event carries
        # the ETA it had) is no forecast any more.
        if actual_arrival is not None and when >= actual_arrival:
            continue
        if points and points[-1].estimate == report.estimate:
            continue
        points.append(
            EtaPoint(
                estimate=report.estimate.astimezone(UTC),
                reported_at=when,
                event_id=report.event_id,
            )
        )
    return tuple(points)


def slip_days(points: Sequence[EtaPoint], *, actual_arrival: datetime | None) -> float:
    """How many days the arrival moved from the original estimate (signed: later is positive),
    to the actual arrival once there is one, else to the latest estimate; one decimal."""
    if not points:
        return 0.0
    end = actual_arrival if actual_arrival is not None else points[-1].estimate
    # `+ 0.0` turns a rounded -0.0 into 0.0.
    return round((end - points[0].estimate) / _DAY, 1) + 0.0


def show_slip(days: float) -> str:
    """`+3.0 days`, `-1.5 days`, `+0.0 days` (never `-0.0`)."""
    return f"{round(days, 1) + 0.0:+.1f} days"


def show_time(value: datetime) -> str:
    """`15 Mar 2026 13:00 UTC`, whatever the locale."""
    return time_text(value)


def show_day(value: datetime, *, with_year: bool = False) -> str:
    """`15 Mar` (or `15 Mar 2026`), an axis label."""
    day = f"{value.day} {MONTHS[value.month - 1]}"
    return f"{day} {value.year}" if with_year else day


@dataclass(frozen=True)
class Tick:
    """A tick of an axis: where it is along that axis (an SVG coordinate) and its label."""

    at: float
    label: str


@dataclass(frozen=True)
class Label:
    """Text on the chart, starting (or, `anchor="end"`, ending) at x on the baseline y."""

    x: float
    y: float
    anchor: Literal["start", "end"]
    text: str


@dataclass(frozen=True)
class ChartMark:
    """A marked point: the original estimate, a revision, or the actual arrival. `estimate`
    is the estimate (for `arrived`, the actual arrival) and `reported` when it was reported
    (for `arrived`, the arrival too); both preformatted, with their ISO 8601 forms. The original,
    the last revision and the arrival carry their kind as a `label` beside them."""

    kind: MarkKind
    x: float
    y: float
    estimate: str
    reported: str
    estimate_iso: str
    reported_iso: str
    label: Label | None


@dataclass(frozen=True)
class EtaChart:
    """A step chart of the ETA over time, as geometry: x is when an estimate was reported,
    y the estimated arrival (later is higher). `original_path` is the original estimate's line
    (drawn solid), `revised_path` the revisions' steps (drawn dashed); both are SVG path data."""

    width: int
    height: int
    left: float
    top: float
    right: float
    bottom: float
    original_path: str
    revised_path: str
    marks: tuple[ChartMark, ...]
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    slip_days: float
    slip: str
    title: str
    description: str


@dataclass(frozen=True)
class _Scale:
    """A linear map from a time span (whole UTC days) onto an SVG coordinate span."""

    start: datetime
    end: datetime
    low: float
    high: float

    def at(self, value: datetime) -> float:
        share = (value - self.start) / (self.end - self.start)
        return round(self.low + share * (self.high - self.low), 1)

    def ticks(self) -> tuple[Tick, ...]:
        """At most `_MAX_TICKS` ticks on whole days from the start, labelled with the year
        too when the span is longer than a year."""
        days = (self.end - self.start) // _DAY
        # Past the longest spacing (a span of years, from a report gone wrong): an even split.
        step = next((s for s in _TICK_DAYS if days // s + 1 <= _MAX_TICKS), None)
        step = step or -(-days // (_MAX_TICKS - 1))
        moments = [self.start + i * step * _DAY for i in range(days // step + 1)]
        with_year = days > _TICK_DAYS[-1]
        return tuple(Tick(at=self.at(m), label=show_day(m, with_year=with_year)) for m in moments)


def _day_span(values: Iterable[datetime], low: float, high: float) -> _Scale:
    """A scale over whole UTC days covering `values`, at least one day long."""
    ordered = sorted(v.astimezone(UTC) for v in values)
    start = ordered[0].replace(hour=0, minute=0, second=0, microsecond=0)
    end = ordered[-1].replace(hour=0, minute=0, second=0, microsecond=0)
    if end < ordered[-1] or end == start:
        end = end + _DAY if _LATEST - end >= _DAY else _LATEST
    return _Scale(start=start, end=end, low=low, high=high)


def eta_chart(points: Sequence[EtaPoint], *, actual_arrival: datetime | None) -> EtaChart | None:
    """The step chart of a history (None without points): the original estimate, each
    revision as a step at the time it was reported, the actual arrival, the total slip."""
    if not points:
        return None
    last = points[-1]
    end = actual_arrival if actual_arrival is not None else max(last.reported_at, last.estimate)
    end = max(end, last.reported_at)
    across = _day_span([points[0].reported_at, end], LEFT, RIGHT)
    estimates = [p.estimate for p in points]
    up = _day_span([*estimates, *([actual_arrival] if actual_arrival else [])], BOTTOM, TOP)
    marks = [_mark(p, "revised" if i else "original", across, up) for i, p in enumerate(points)]
    if actual_arrival is not None:
        marks.append(_mark(None, "arrived", across, up, arrival=actual_arrival))
    days = slip_days(points, actual_arrival=actual_arrival)
    return EtaChart(
        width=WIDTH,
        height=HEIGHT,
        left=LEFT,
        top=TOP,
        right=RIGHT,
        bottom=BOTTOM,
        original_path=_original_path(points, across, up, end=end),
        revised_path=_revised_path(points, across, up, end=end),
        marks=_labelled(marks),
        x_ticks=across.ticks(),
        y_ticks=up.ticks(),
        slip_days=days,
        slip=show_slip(days),
        title="Estimated arrival over time",
        description=_description(points, actual_arrival=actual_arrival, slip=show_slip(days)),
    )


def _mark(
    point: EtaPoint | None,
    kind: MarkKind,
    across: _Scale,
    up: _Scale,
    *,
    arrival: datetime | None = None,
) -> ChartMark:
    estimate = point.estimate if point is not None else arrival
    reported = point.reported_at if point is not None else arrival
    assert estimate is not None and reported is not None
    x, y = across.at(reported), up.at(estimate)
    return ChartMark(
        kind=kind,
        x=x,
        y=y,
        estimate=show_time(estimate),
        reported=show_time(reported),
        estimate_iso=estimate.astimezone(UTC).isoformat(),
        reported_iso=reported.astimezone(UTC).isoformat(),
        label=None,
    )


def _labelled(marks: list[ChartMark]) -> tuple[ChartMark, ...]:
    """The marks with their kind as text beside the original, the last revision and the
    arrival: the arrival's to its left (it ends the chart), the others' to the right; the
    original's below its line (estimates mostly slip upwards), the last revision's above unless
    the arrival's label is near; each moved to the other side where it would leave the plot."""
    arrival = next((m for m in marks if m.kind == "arrived"), None)
    last_revision = max((i for i, m in enumerate(marks) if m.kind == "revised"), default=None)
    labelled = []
    for index, mark in enumerate(marks):
        above, below = round(mark.y - 9, 1), round(mark.y + 18, 1)
        label: Label | None = None
        if mark.kind == "arrived":
            label = Label(x=round(mark.x - 8, 1), y=above, anchor="end", text=mark.kind)
        elif mark.kind == "original" or index == last_revision:
            crowded = arrival is not None and arrival.x - mark.x < _LABEL_ROOM
            low = mark.kind == "original" or crowded
            y = below if (low and below <= BOTTOM - 4) or above < TOP + 4 else above
            label = Label(x=round(mark.x + 6, 1), y=y, anchor="start", text=mark.kind)
        labelled.append(replace(mark, label=label))
    return tuple(labelled)


def _original_path(points: Sequence[EtaPoint], across: _Scale, up: _Scale, *, end: datetime) -> str:
    """The original estimate, level from its report until the first revision (or the end)."""
    until = points[1].reported_at if len(points) > 1 else end
    y = up.at(points[0].estimate)
    return f"M{across.at(points[0].reported_at)} {y} H{across.at(until)}"


def _revised_path(points: Sequence[EtaPoint], across: _Scale, up: _Scale, *, end: datetime) -> str:
    """Each revision: a step from the estimate before to the new one, level until the next."""
    if len(points) < 2:
        return ""
    steps = [f"M{across.at(points[1].reported_at)} {up.at(points[0].estimate)}"]
    for index, point in enumerate(points[1:], start=1):
        until = points[index + 1].reported_at if index + 1 < len(points) else end
        steps.append(f"V{up.at(point.estimate)} H{across.at(until)}")
    return " ".join(steps)


def _description(points: Sequence[EtaPoint], *, actual_arrival: datetime | None, slip: str) -> str:
    """The chart in one sentence, for `<desc>`."""
    parts = [f"Original estimate {show_time(points[0].estimate)}"]
    revisions = len(points) - 1
    if revisions:
        noun = "revision" if revisions == 1 else "revisions"
        parts.append(f"{revisions} {noun}, latest {show_time(points[-1].estimate)}")
    if actual_arrival is not None:
        parts.append(f"arrived {show_time(actual_arrival)}")
    return f"{'; '.join(parts)}; total slip {slip}."
