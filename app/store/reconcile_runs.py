"""The store side of reconciliation with Flexport's Events API: which listed events the log knows,
the claim that puts a missing event in the log (and the spool) before it is started, and the
record of every run (`ReconcileRun`). Keyword-only functions over a caller's session; the caller
owns the transaction.

A claimed event is `queued` in the log with `source = reconcile`, and has a spool row leased to
the run that claimed it: if that run dies before starting it, the relay starts it once the lease
runs out, as it starts any spooled event.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.core.events import Event
from app.core.ids import event_workflow_id
from app.core.statuses import EventStatus
from app.store import spool
from app.store.metric_counts import count_reconciled_events
from app.store.models import EventRecord, ReconcileRun, SpooledEvent
from app.store.projection import new_event_row
from app.store.reconcile_tally import RunCount, count_run, read_tally

# `EventRecord.source` of an event that reconciliation found missing and started.
RECONCILE_SOURCE = "reconcile"
# What a run keeps of its problems: enough to act on, bounded however many events failed.
MAX_ERROR_LINES = 50
MAX_ERROR_CHARS = 8000
_IN_CHUNK = 500  # ids per IN (...): well under SQLite's limit on bound parameters


@dataclass(frozen=True)
class Tally:
    """What a run (or one page of it) counted. `listed`: Event objects Flexport returned; `known`
    and `missing`: their distinct ids the log has or had not; `started`: workflows started (not
    a duplicate); `errors`: one line per problem; `missing_ids`: the ids found missing."""

    listed: int = 0
    known: int = 0
    missing: int = 0
    started: int = 0
    errors: tuple[str, ...] = ()
    missing_ids: tuple[str, ...] = field(default=(), repr=False)

    def __add__(self, other: Tally) -> Tally:
        return Tally(
            listed=self.listed + other.listed,
            known=self.known + other.known,
            missing=self.missing + other.missing,
            started=self.started + other.started,
            errors=self.errors + other.errors,
            missing_ids=self.missing_ids + other.missing_ids,
        )

    def summary(self) -> str:
        """`listed N, known N, missing N, started N`."""
        return (
            f"listed {self.listed}, known {self.known}, missing {self.missing}, "
            f"started {self.started}"
        )


# -- comparing and claiming -----------------------------------------------------------------


def known_event_ids(session: Session, *, event_ids: Collection[str]) -> set[str]:
    """The ids among `event_ids` that the log has a row for, whatever its status."""
    ids = list(dict.fromkeys(event_ids))
    known: set[str] = set()
    for start in range(0, len(ids), _IN_CHUNK):
        chunk = ids[start : start + _IN_CHUNK]
        statement = select(EventRecord.event_id).where(col(EventRecord.event_id).in_(chunk))
        known.update(session.exec(statement).all())
    return known


def claim_missing(
    session: Session,
    *,
    events: Sequence[tuple[Event, str]],
    received_at: datetime,
    leased_until: datetime,
) -> list[str]:
    """Put each (event, body) the log still lacks in the log (`queued`, `source = reconcile`)
    and in the spool, leased until `leased_until`; the ids claimed, in order. An event that
    reached the log meanwhile (a delivery) is left alone and not returned."""
    claimed: list[str] = []
    for event, body in events:
        if session.get(EventRecord, event.event_id) is not None:
            continue
        row = new_event_row(
            event,
            body=body,
            workflow_id=event_workflow_id(event.event_id),
            received_at=received_at,
            status=EventStatus.QUEUED,
        )
        row.source = RECONCILE_SOURCE
        spooled = SpooledEvent(
            event_id=event.event_id, received_at=received_at, leased_until=leased_until
        )
        try:
            with session.begin_nested():  # a delivery's workflow may insert the row meanwhile
                session.add_all([row, spooled])
        except IntegrityError:
            continue
        claimed.append(event.event_id)
    return claimed


def _spooled(session: Session, event_id: str) -> SpooledEvent | None:
    return session.exec(select(SpooledEvent).where(SpooledEvent.event_id == event_id)).first()


def settle_claims(
    session: Session,
    *,
    started: Collection[str] = (),
    duplicates: Collection[str] = (),
    unavailable: Mapping[str, str] | None = None,
    rejected: Mapping[str, str] | None = None,
) -> None:
    """After the starts of claimed events: a `started` or `duplicate` one leaves the spool (a
    duplicate also loses its `reconcile` mark: something else started it); an `unavailable` one
    (id -> error) is released to the relay; a `rejected` one leaves the spool, failed in the log."""
    for event_id in (*started, *duplicates):
        spool.forget(session, event_id=event_id)
    for event_id in duplicates:
        row = session.get(EventRecord, event_id)
        if row is not None and row.source == RECONCILE_SOURCE:
            row.source = None
    for event_id, error in (unavailable or {}).items():
        spooled = _spooled(session, event_id)
        if spooled is not None and spooled.id is not None:
            spool.release(session, spool_id=spooled.id, error=error)
    for event_id, error in (rejected or {}).items():
        spooled = _spooled(session, event_id)
        if spooled is not None and spooled.id is not None:
            spool.reject(session, spool_id=spooled.id, event_id=event_id, error=error)


# -- the record of runs ---------------------------------------------------------------------


def errors_text(errors: Sequence[str]) -> str | None:
    """The problems of a run as stored: one a line, at most `MAX_ERROR_LINES` and
    `MAX_ERROR_CHARS`; None when there were none."""
    if not errors:
        return None
    lines = list(errors[:MAX_ERROR_LINES])
    if len(errors) > MAX_ERROR_LINES:
        lines.append(f"... and {len(errors) - MAX_ERROR_LINES} more")
    return "\n".join(lines)[:MAX_ERROR_CHARS]


def record_run(
    session: Session,
    *,
    trigger: str,
    since: datetime,
    until: datetime,
    tally: Tally,
    started_at: datetime,
    finished_at: datetime,
    dry_run: bool = False,
    workflow_id: str | None = None,
) -> ReconcileRun:
    """Store a finished run; its outcome is `error` when it has any error, else `ok`. A run of
    a workflow already recorded (the activity retried) updates that row instead of adding one."""
    row = None
    if workflow_id is not None:
        row = session.exec(
            select(ReconcileRun).where(ReconcileRun.workflow_id == workflow_id)
        ).first()
    values: dict[str, Any] = {
        "trigger": trigger,
        "outcome": "error" if tally.errors else "ok",
        "dry_run": dry_run,
        "since": since,
        "until": until,
        "listed": tally.listed,
        "known": tally.known,
        "missing": tally.missing,
        "started": tally.started,
        "errors": errors_text(tally.errors),
        "started_at": started_at,
        "finished_at": finished_at,
        "workflow_id": workflow_id,
    }
    if row is None:
        row = ReconcileRun(**values)
    else:  # its totals taken back, to be counted again as recorded now
        count_run(session, _run_count(row, sign=-1))
        for name, value in values.items():
            setattr(row, name, value)
    session.add(row)
    session.flush()
    count_run(session, _run_count(row))
    return row


def _run_count(row: ReconcileRun, *, sign: int = 1) -> RunCount:
    return RunCount(row.trigger, row.outcome, row.started, row.finished_at, sign=sign)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def run_as_json(run: ReconcileRun) -> dict[str, Any]:
    """One run as the API and the dashboard show it; `errors` as a list of lines."""
    return {
        "id": run.id,
        "trigger": run.trigger,
        "outcome": run.outcome,
        "dry_run": run.dry_run,
        "since": _iso(run.since),
        "until": _iso(run.until),
        "listed": run.listed,
        "known": run.known,
        "missing": run.missing,
        "started": run.started,
        "errors": run.errors.splitlines() if run.errors else [],
        "started_at": _iso(run.started_at),
        "finished_at": _iso(run.finished_at),
        "duration_seconds": round((run.finished_at - run.started_at).total_seconds(), 3),
        "workflow_id": run.workflow_id,
    }


def recent_runs(session: Session, *, limit: int = 20) -> list[dict[str, Any]]:
    """The latest runs, newest first, as `run_as_json` gives them (`limit` clamped to 1..500)."""
    statement = (
        select(ReconcileRun)
        .order_by(col(ReconcileRun.started_at).desc(), col(ReconcileRun.id).desc())
        .limit(max(1, min(limit, 500)))
    )
    return [run_as_json(run) for run in session.exec(statement).all()]


@dataclass(frozen=True)
class ReconcileCounts:
    """What the metrics report of reconciliation at one scrape.

    `runs`: runs by (trigger, outcome); `started`: events started by runs (dry runs start
    none); `reconciled_events`: events in the log marked `source = reconcile`;
    `last_finished_at`: the end of the latest run per trigger; `last_ok_at`: the end of the
    latest run without errors; `last_missing`: what the latest run that was not a dry run found
    missing (None before any)."""

    runs: dict[tuple[str, str], int]
    started: int
    reconciled_events: int
    last_finished_at: dict[str, datetime]
    last_ok_at: datetime | None
    last_missing: int | None


def run_counts(session: Session) -> ReconcileCounts:
    """The counts the metrics endpoint exports (see `ReconcileCounts`): the runs' totals from
    `reconcile_tally` and the reconciled events from `event_tally` (a few rows each), the latest
    run that was not a dry run from the newest end of the runs' start index."""
    tally = read_tally(session)
    reconciled = count_reconciled_events(session)
    latest = session.exec(
        select(ReconcileRun.missing)
        .where(col(ReconcileRun.dry_run).is_(False))
        .order_by(col(ReconcileRun.started_at).desc(), col(ReconcileRun.id).desc())
        .limit(1)
    ).first()
    last_by_trigger: dict[str, datetime] = {}
    for row in tally:
        at = row.last_finished_at
        if row.runs > 0 and at is not None:
            last_by_trigger[row.trigger] = max(at, last_by_trigger.get(row.trigger, at))
    ok = [r.last_finished_at for r in tally if r.outcome == "ok" and r.runs > 0]
    return ReconcileCounts(
        runs={(row.trigger, row.outcome): row.runs for row in tally if row.runs > 0},
        started=sum(row.started for row in tally),
        reconciled_events=int(reconciled),
        last_finished_at=last_by_trigger,
        last_ok_at=max((at for at in ok if at is not None), default=None),
        last_missing=latest,
    )
