"""The reconcile runs' totals `/metrics` reports (`app.store.reconcile_tally`, kept by
`record_run`) stay what counting every run says: after runs of each trigger and outcome, a run
recorded again (its activity retried) with another outcome, a dry run, and first runs of a pair
recorded by concurrent writers at once. On SQLite and on PostgreSQL
(FLEXHOOK_TEST_DATABASE=postgresql); the gauges' refresh reads the tally, a few rows, instead of
grouping every run."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from app.store import reconcile_runs
from app.store.models import ReconcileRun
from app.store.reconcile_runs import ReconcileCounts, Tally

NOW = datetime(2026, 3, 20, 12, tzinfo=UTC)
WRITERS = 6
RUNS_EACH = 4


def record(engine: Engine, minute: int, **changes: Any) -> None:
    values: dict[str, Any] = {
        "trigger": "schedule",
        "since": NOW - timedelta(hours=72),
        "until": NOW,
        "tally": Tally(listed=3, known=3),
        "started_at": NOW + timedelta(minutes=minute),
        "finished_at": NOW + timedelta(minutes=minute, seconds=2),
        **changes,
    }
    with Session(engine) as session:
        reconcile_runs.record_run(session, **values)
        session.commit()


def counted(engine: Engine) -> ReconcileCounts:
    with Session(engine) as session:
        return reconcile_runs.run_counts(session)


def every_run(engine: Engine) -> dict[str, Any]:
    """What grouping every stored run says (how the metrics counted before the tally)."""
    run = ReconcileRun
    with Session(engine) as session:
        pairs = session.exec(
            select(run.trigger, run.outcome, func.count()).group_by(
                col(run.trigger), col(run.outcome)
            )
        ).all()
        started = session.exec(select(func.coalesce(func.sum(run.started), 0))).one()
        last = session.exec(
            select(run.trigger, func.max(run.finished_at)).group_by(col(run.trigger))
        ).all()
        ok = session.exec(select(func.max(run.finished_at)).where(run.outcome == "ok")).one()
    return {
        "runs": {(trigger, outcome): n for trigger, outcome, n in pairs},
        "started": int(started),
        "last_finished_at": {trigger: at for trigger, at in last},
        "last_ok_at": ok,
    }


def as_reported(counts: ReconcileCounts) -> dict[str, Any]:
    return {
        "runs": counts.runs,
        "started": counts.started,
        "last_finished_at": counts.last_finished_at,
        "last_ok_at": counts.last_ok_at,
    }


def test_the_totals_follow_every_run_recorded_and_recorded_again(engine: Engine) -> None:
    assert as_reported(counted(engine)) == every_run(engine)  # none yet: empty, no last runs

    record(engine, 0, trigger="cli", tally=Tally(listed=5, missing=2, started=2))
    record(engine, 15, workflow_id="wf-15")
    failed = Tally(listed=1, errors=("Flexport answered 503",))
    record(engine, 30, tally=failed, workflow_id="wf-30")
    record(engine, 45, trigger="cli", tally=Tally(listed=4, missing=1), dry_run=True)
    # The activity of wf-30 retried: its run recorded again, now without errors, one started.
    record(engine, 31, tally=Tally(listed=2, missing=1, started=1), workflow_id="wf-30")

    reported = counted(engine)
    assert as_reported(reported) == every_run(engine)
    assert reported.runs == {("cli", "ok"): 2, ("schedule", "ok"): 2}
    assert reported.started == 3
    assert reported.last_ok_at == NOW + timedelta(minutes=45, seconds=2)
    assert reported.last_missing == 1  # the retried wf-30 started latest but the dry run


def test_first_runs_recorded_at_once_all_count(engine: Engine) -> None:
    gate = threading.Barrier(WRITERS)
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            gate.wait()  # every writer's first run finds no row of its pair
            for k in range(RUNS_EACH):
                minute = n * RUNS_EACH + k
                record(engine, minute, trigger="cli", tally=Tally(started=1))
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    reported = counted(engine)
    assert reported.runs == {("cli", "ok"): WRITERS * RUNS_EACH}
    assert reported.started == WRITERS * RUNS_EACH
    assert as_reported(reported) == every_run(engine)
