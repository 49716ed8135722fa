"""The `metrics` phase: `GET /metrics` on the web process's metrics listener, and the database
refresh behind its gauges (`app.web.metrics.read_counts`, uncached, as every 30 s), with a small
store (1,000 events) and a large one (bench/store.py bulk-inserts them): the small store is the
large one's baseline. Both should cost the same whatever the store's size (review finding H4:
each scrape used to read the whole event log).

The scrapes run one at a time, as Prometheus sends them; most are answered from the cached
gauges, so the refresh is timed on its own, in this process, against the same database file.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

from bench import payloads, report
from bench.measure import summarize
from bench.options import Options
from bench.phases.store import SMALL_STORE_SHIPMENTS, fill
from bench.procs import BenchError
from bench.stack import Stack
from bench.store import EVENTS_PER_SHIPMENT

REFRESHES = 500  # timed database refreshes per store, after WARM_REFRESHES untimed ones
WARM_REFRESHES = 20


def measure(stack: Stack, options: Options) -> dict[str, Any]:
    """`metrics`: per size, what was stored, the scrape runs with their medians, and the
    refresh's p50/p99. Both stores are measured in turn, run by run and refresh by refresh,
    so both see the same neighbours on the machine."""
    small = SMALL_STORE_SHIPMENTS * EVENTS_PER_SHIPMENT
    sizes = [small] + ([options.large_store_events] if options.large_store_events > small else [])
    stack.echo(f"metrics: GET /metrics p99 and the gauges' refresh with {sizes} stored events")
    stores = {events: fill(stack, f"metrics-{events}", events) for events in sizes}
    webs = {
        events: stack.start_web(f"metrics-{events}", queue="bench-metrics", database=database)
        for events, (database, _) in stores.items()
    }
    scrapes: dict[int, list[dict[str, Any]]] = {events: [] for events in sizes}
    try:
        for run in range(options.runs):
            for events, (_, port) in webs.items():
                scrapes[events].append(_scrapes(stack, stack.metrics_ports[port]))
                stack.echo(
                    f"  run {run + 1}, {events:,} events: {report.brief(scrapes[events][-1])}"
                )
    finally:
        for web, _ in webs.values():
            web.stop()
    refreshes = time_refreshes([database for database, _ in stores.values()])
    measured: dict[str, Any] = {}
    for events, refresh in zip(sizes, refreshes, strict=True):
        p50, p99 = refresh["p50_ms"], refresh["p99_ms"]
        stack.echo(f"  {events:,} events: refresh p50 {p50:.2f} ms, p99 {p99:.2f} ms")
        info = stores[events][1]
        measured[str(events)] = {**info, "scrape": summarize(scrapes[events]), "refresh": refresh}
    return {"metrics": {"sizes": measured}}


def _scrapes(stack: Stack, metrics_port: int) -> dict[str, Any]:
    host = f"127.0.0.1:{metrics_port}"
    request = payloads.get_request("/metrics", host=host, token=stack.token)
    result = stack.http(
        metrics_port, stack.request_file(iter([request]), 1), mode="cycle", concurrency=1
    )
    if result["errors"]:
        raise BenchError(f"GET /metrics failed: {result}")
    return result


def time_refreshes(databases: list[Path], *, count: int = REFRESHES) -> list[dict[str, float]]:
    """`read_counts` on each database `count` times, in turn, each in its own read-only session
    as the metrics endpoint runs it: p50 and p99 in ms, per database."""
    from sqlmodel import Session

    from app.store import db
    from app.web.metrics import read_counts

    engines = [db.create_db_engine(f"sqlite:///{database}") for database in databases]
    seconds: list[list[float]] = [[] for _ in engines]
    try:
        for n in range(WARM_REFRESHES + count):
            for engine, timed in zip(engines, seconds, strict=True):
                began = time.perf_counter()
                with Session(engine) as session:
                    session.connection(execution_options={db.READ_ONLY: True})
                    read_counts(session)
                if n >= WARM_REFRESHES:
                    timed.append(time.perf_counter() - began)
    finally:
        for engine in engines:
            engine.dispose()
    return [
        {
            "p50_ms": statistics.median(timed) * 1000,
            "p99_ms": statistics.quantiles(timed, n=100)[98] * 1000,
        }
        for timed in seconds
    ]
