"""What `/metrics` and the daily digest say of the exception inbox (issue 19), the same from
every process.

Two histograms, time to acknowledge and time to resolve, are kept in the `exception_stats` table:
one row per bucket (not cumulative) with its observations and their seconds summed, incremented
by `observe` in the transaction of the transition it measures (`app.store.exceptions` calls it
once a compare-and-set succeeded), so a transition that loses its race or rolls back counts
nothing. The web process never sees Flexport's resolutions (the worker does); it reads them here.

`read_exception_counts` answers the open exceptions by family and severity, the oldest one's
opening and both histograms: two searches of the partial index of unresolved exceptions
(`ix_shipment_exception_unresolved`) and one read of the small stats table.
`unresolved_exceptions` lists a digest's open exceptions in inbox order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select, update

from app.core import exception_state as core
from app.core.stamps import stamp_time
from app.store.exception_models import UNRESOLVED, ExceptionStat, ShipmentExceptionRow
from app.store.models import Shipment

Measure = Literal["acknowledge", "resolve"]
MEASURES: Final[tuple[Measure, ...]] = ("acknowledge", "resolve")
# Upper bounds in seconds: 5m, 15m, 1h, 4h, 12h, 24h, 72h, 168h; then +Inf.
BUCKETS: Final[tuple[float, ...]] = (
    300.0,
    900.0,
    3600.0,
    4 * 3600.0,
    12 * 3600.0,
    24 * 3600.0,
    72 * 3600.0,
    168 * 3600.0,
)
INF: Final = "+Inf"
UNRESOLVED_STATES: Final = tuple(state for state in core.STATES if state != "resolved")


def bucket_label(seconds: float) -> str:
    """The row (`le`) an observation of `seconds` goes into: the smallest bound not below it."""
    for bound in BUCKETS:
        if seconds <= bound:
            return f"{bound:g}"
    return INF


def _add(session: Session, measure: Measure, seconds: float) -> None:
    """One observation: an atomic increment of its bucket's row, made if it is missing."""
    stat = ExceptionStat
    label = bucket_label(seconds)
    bump = (
        update(stat)
        .where(col(stat.measure) == measure, col(stat.le) == label)
        .values(
            observations=col(stat.observations) + 1, seconds_sum=col(stat.seconds_sum) + seconds
        )
        .execution_options(synchronize_session=False)
    )
    for _ in range(2):
        if session.execute(bump).rowcount:  # type: ignore[attr-defined]
            return
        try:
            with session.begin_nested():  # a concurrent first observation may insert it
                session.add(stat(measure=measure, le=label, observations=1, seconds_sum=seconds))
                session.flush()
            return
        except IntegrityError:
            continue  # it did: increment its row
    raise RuntimeError(f"exception_stats has no row {measure}/{label} and none can be made")


def _seconds(since: datetime, until: datetime) -> float:
    """Seconds from `since` to `until`; 0 when a late event says it happened before."""
    return max(0.0, (until - since).total_seconds())


def observe(
    session: Session, *, before: ShipmentExceptionRow, after: core.ShipmentException
) -> None:
    """What a saved transition from `before` to `after` measures: the first acknowledgement of
    an episode (seconds since the episode opened); a resolution (seconds from the episode's
    opening to when its closer happened: the clearing event's time or the person's)."""
    if before.acknowledged_at is None and after.acknowledged_at is not None:
        _add(session, "acknowledge", _seconds(after.opened_at, after.acknowledged_at))
    closer = after.lifecycle.resolved_by
    if before.state != "resolved" and closer is not None:
        _add(session, "resolve", _seconds(after.opened_at, stamp_time(closer.stamp)))


@dataclass(frozen=True)
class HistogramCounts:
    """A histogram as Prometheus reads it: cumulative counts per upper bound (the last one
    +Inf, equal to `count`), the observations' sum and their count."""

    buckets: tuple[tuple[float, int], ...]
    sum: float
    count: int


@dataclass(frozen=True)
class ExceptionCounts:
    open: dict[tuple[str, str], int]  # (family, severity): exceptions not resolved
    oldest_opened_at: datetime | None  # the oldest unresolved episode's opening; None: none
    histograms: dict[Measure, HistogramCounts]


def _histogram(rows: list[ExceptionStat]) -> HistogramCounts:
    bounds = (*BUCKETS, math.inf)
    per_bucket = [0] * len(bounds)
    for row in rows:
        upper = math.inf if row.le == INF else float(row.le)
        # A bound no longer in BUCKETS counts in the next one up.
        per_bucket[next(i for i, bound in enumerate(bounds) if upper <= bound)] += row.observations
    cumulative = tuple((bound, sum(per_bucket[: i + 1])) for i, bound in enumerate(bounds))
    return HistogramCounts(
        buckets=cumulative, sum=sum(r.seconds_sum for r in rows), count=cumulative[-1][1]
    )


def read_exception_counts(session: Session) -> ExceptionCounts:
    """The inbox's gauges and histograms (see the module's docstring for the indexes)."""
    row = ShipmentExceptionRow
    by_family = session.exec(
        select(row.family, row.severity, func.count())
        .where(UNRESOLVED)
        .group_by(col(row.family), col(row.severity))
    ).all()
    oldest = session.exec(select(func.min(row.opened_at)).where(UNRESOLVED)).one()
    stats = list(session.exec(select(ExceptionStat)).all())
    return ExceptionCounts(
        open={(family, severity): count for family, severity, count in by_family},
        oldest_opened_at=oldest,
        histograms={m: _histogram([s for s in stats if s.measure == m]) for m in MEASURES},
    )


def unresolved_exceptions(
    session: Session, *, shipment_ids: list[str] | None, limit: int
) -> tuple[list[tuple[ShipmentExceptionRow, str | None]], int]:
    """The exceptions not resolved of `shipment_ids` (None: of every shipment), most severe
    first, then oldest, at most `limit`, each with its shipment's name; and how many there are."""
    row = ShipmentExceptionRow
    listed = select(row, Shipment.name).outerjoin(Shipment, col(Shipment.id) == row.shipment_id)
    counted = select(func.count()).select_from(row)
    if shipment_ids is not None:  # a search of each shipment's few rows (unique key)
        followed = col(row.shipment_id).in_(shipment_ids)
        listed, counted = listed.where(followed), counted.where(followed, UNRESOLVED)
    else:  # the state index's unresolved ranges, never a walk past resolved rows
        counted = counted.where(col(row.state).in_(UNRESOLVED_STATES))
    found = session.exec(
        listed.where(UNRESOLVED)  # in order, the partial index's first entries
        .order_by(col(row.severity_rank), col(row.opened_at), col(row.id))
        .limit(limit)
    ).all()
    total = session.exec(counted).one()
    return [(exception, name) for exception, name in found], total
