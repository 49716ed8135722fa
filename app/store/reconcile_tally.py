"""The reconcile runs' totals per (trigger, outcome) that `/metrics` reports, kept up to date in
`reconcile_tally` by `reconcile_runs.record_run` in the transaction that stores the run: the
gauges' refresh reads a few rows, not a year of runs (35,000 at the default 15 minutes, which
it used to group and sum four times per refresh).

Each change is an atomic increment of its row (`runs = runs + 1`: writers of one row queue on its
lock on PostgreSQL and never lose a count), the row made by the first run of its pair, in a
savepoint: a concurrent first run that inserted it meanwhile makes the insert fail on the
primary key, and the increment is then retried on its row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select, update

from app.store.models import ReconcileTally, UTCDateTime


@dataclass(frozen=True)
class RunCount:
    """One run's share of its pair's totals; `sign` -1 takes a run back (recorded again)."""

    trigger: str
    outcome: str
    started: int
    finished_at: datetime
    sign: int = 1


def _latest(finished_at: datetime) -> sa.ColumnElement[datetime | None]:
    """The later of the row's `last_finished_at` and `finished_at` (a run taken back leaves it:
    its run is recorded again at once, ending no earlier)."""
    last = col(ReconcileTally.last_finished_at)
    later = sa.or_(last.is_(None), last < finished_at)
    return sa.case((later, sa.literal(finished_at, UTCDateTime())), else_=last)


def count_run(session: Session, run: RunCount) -> None:
    """Add `run` to (or take it from) its pair's row, made if it is missing."""
    tally = ReconcileTally
    bump = (
        update(tally)
        .where(col(tally.trigger) == run.trigger, col(tally.outcome) == run.outcome)
        .values(
            runs=col(tally.runs) + run.sign,
            started=col(tally.started) + run.sign * run.started,
            last_finished_at=_latest(run.finished_at),
        )
        .execution_options(synchronize_session=False)
    )
    for _ in range(2):
        if session.execute(bump).rowcount:  # type: ignore[attr-defined]
            return
        try:
            with session.begin_nested():  # a concurrent first run of this pair may insert it
                session.add(
                    tally(
                        trigger=run.trigger,
                        outcome=run.outcome,
                        runs=run.sign,
                        started=run.sign * run.started,
                        last_finished_at=run.finished_at,
                    )
                )
                session.flush()
            return
        except IntegrityError:
            continue  # it did: increment its row
    pair = f"{run.trigger}/{run.outcome}"
    raise RuntimeError(f"reconcile_tally has no row {pair} and none can be made")


def read_tally(session: Session) -> list[ReconcileTally]:
    """Every pair's totals (a handful of rows: two triggers, two outcomes)."""
    return list(session.exec(select(ReconcileTally)).all())
