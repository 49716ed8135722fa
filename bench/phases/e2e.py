"""The `e2e` phase: events posted to `flexhook web` until the event log says each was
processed by `flexhook worker`, next to its baseline, as many one-activity no-op workflows
(bench/noop.py) started with the SDK; then, when py-spy is installed, one more uncounted run
with the worker under py-spy."""

from __future__ import annotations

import sqlite3
import statistics
import time
from pathlib import Path
from typing import Any

from bench import profile, report
from bench.measure import cpu, per_event, summarize
from bench.options import Options
from bench.procs import BenchError, Proc
from bench.stack import Stack, py_spy

WORKER_PROFILE_RATE = 500  # the worker holds the GIL a third of the time: more samples
STALLED_SECONDS = 120  # without one more event finished, the run has stalled


def measure(stack: Stack, options: Options) -> dict[str, Any]:
    """`e2e` (flexhook and no-op: runs and medians), and `worker_profile` if one was taken."""
    stack.echo(
        f"e2e: {options.e2e_events} events posted -> records updated, and as many no-op "
        f"one-activity workflows ({options.workers} worker process(es) each)"
    )
    database = stack.database("e2e")
    web, port = stack.start_web("e2e", queue="bench-e2e", database=database)
    procs: list[Proc] = [web]
    flexhook_runs: list[dict[str, Any]] = []
    noop_runs: list[dict[str, Any]] = []
    worker_profile: dict[str, Any] | None = None
    try:
        workers = stack.start_workers("e2e", queue="bench-e2e", database=database)
        noop_workers = stack.start_noop_workers(queue="bench-noop")
        procs += workers + noop_workers
        watched = {"temporal": stack.temporal, **{p.name: p for p in procs}}
        warm = max(50, options.e2e_events // 10)
        flexhook_events(stack, options, port, database, warm)
        noop_events(stack, options, warm)
        for run in range(options.runs):
            result: dict[str, Any] = {}
            with cpu(watched, result):
                result.update(flexhook_events(stack, options, port, database, options.e2e_events))
            per_event(result, events=result["processed"], groups={"worker": workers, "web": [web]})
            flexhook_runs.append(result)
            stack.echo(f"  run {run + 1} flexhook events: {report.brief(result)}")
            result = {}
            with cpu(watched, result):
                result.update(noop_events(stack, options, options.e2e_events))
            per_event(result, events=result["completed"], groups={"worker": noop_workers})
            noop_runs.append(result)
            stack.echo(f"  run {run + 1} no-op workflows: {report.brief(result)}")
        if options.worker_profile:
            rate = statistics.median(r["rate"] for r in flexhook_runs)
            worker_profile = profile_worker(stack, options, port, database, workers[0], rate)
    finally:
        for proc in reversed(procs):
            proc.stop()
    found: dict[str, Any] = {
        "e2e": {
            "events": options.e2e_events,
            "workers": options.workers,
            "flexhook": summarize(flexhook_runs),
            "noop": summarize(noop_runs),
        }
    }
    if worker_profile is not None:
        found["worker_profile"] = worker_profile
    return found


def profile_worker(
    stack: Stack, options: Options, port: int, database: Path, worker: Proc, rate: float
) -> dict[str, Any] | None:
    """One more e2e run (not counted) with py-spy on the worker: where its CPU goes."""
    if not py_spy():
        stack.echo("  no worker profile: py-spy is not installed (pip install py-spy)")
        return None
    seconds = max(4.0, options.duration)
    count = max(100, int(rate * (seconds + 3)))  # load outlasts the sampling
    stack.echo(f"  profiling {worker.name} with py-spy over {count} more events ({seconds:g} s)")
    used: dict[str, Any] = {}
    with (
        stack.profiled(
            "worker",
            worker,
            seconds=seconds,
            rate=WORKER_PROFILE_RATE,
            areas=profile.WORKER_AREAS,
        ) as found,
        cpu({worker.name: worker}, used),
    ):
        run = flexhook_events(stack, options, port, database, count)
    found["worker_cpu_pct"] = used["cpu_pct"].get(worker.name)
    found["events"] = run["processed"]
    return found


def flexhook_events(
    stack: Stack, options: Options, port: int, database: Path, count: int
) -> dict[str, Any]:
    """Post `count` new events, then wait until the event log says each was processed."""
    tag = stack.tag("e2e")
    file = stack.post_file(port, tag=tag, count=count)
    started = time.perf_counter()
    poster: Proc | None = stack.start_http(
        port, file, mode="once", concurrency=options.e2e_concurrency, duration=0, warmup=0
    )
    posted: dict[str, Any] = {}
    expected, done, progress_at = count, -1, started
    statuses: dict[str, int] = {}
    connection = sqlite3.connect(database, timeout=30)
    try:
        while done < expected:
            if poster is not None and not poster.running():
                posted = stack.finish_http(poster, file, timeout=10)
                poster = None
                expected = posted["accepted"]  # what Temporal took is what must complete
            statuses = _statuses(connection, tag)
            now = time.perf_counter()
            finished = sum(statuses.get(s, 0) for s in ("processed", "ignored", "failed"))
            if finished > done:
                done, progress_at = finished, now
            elif now - progress_at > STALLED_SECONDS:
                raise BenchError(f"e2e stalled at {done} of {expected} events: {statuses}")
            time.sleep(0.05)
        finished_at = time.perf_counter()
    finally:
        connection.close()
        if poster is not None:
            poster.stop()
            file.unlink(missing_ok=True)
    processed = statuses.get("processed", 0) + statuses.get("ignored", 0)
    return {
        "count": count,
        "processed": processed,
        "statuses": statuses,
        "seconds": round(finished_at - started, 2),
        "rate": processed / (finished_at - started),
        "post_rate": posted.get("rate"),
        "posted": {k: posted.get(k) for k in ("accepted", "duplicate", "errors")},
    }


def _statuses(connection: sqlite3.Connection, tag: str) -> dict[str, int]:
    """How many of the events whose ids start with `tag` are in each status."""
    rows = connection.execute(
        "SELECT status, count(*) FROM event WHERE event_id > ? AND event_id < ? GROUP BY status",
        (f"{tag}-", f"{tag}-~"),
    ).fetchall()
    return {status: int(n) for status, n in rows}


def noop_events(stack: Stack, options: Options, count: int) -> dict[str, Any]:
    """Start `count` no-op workflows and wait until all completed (bench/load.py's figures)."""
    return stack.sdk(
        "noop",
        queue="bench-noop",
        tag=stack.tag("noop"),
        count=count,
        concurrency=options.e2e_concurrency,
    )
