"""The `sharing` phase: issue 18's reads of one shipment, each timed alone over HTTP, with a small
store (1,000 events, the baseline) and a large one (`--large-store-events`, bench/store.py
bulk-inserts them): the public tracking page `/track/<token>`,
`GET /api/shipments/{id}/eta-history`, `GET /api/shipments/{id}/shares` and the dashboard's
shipment page (signed in with FLEXHOOK_API_TOKEN, as a person would). Each read is about one
shipment, so its time should not grow with the store (the ratios near 1).

The shipment read is one every store holds, with its milestones, containers and ETA observations
(bench/store.py). The bulk store's shipments are all delivered long ago, so their links would have
expired (`after_delivery`); the phase puts the chosen one back under way before linking to it.
Requests are sequential, one client kept alive per surface: `REQUESTS` timed ones after `WARMUP`
untimed, per run; the figures are the medians over the runs of each run's p50 and p99.
"""

from __future__ import annotations

import sqlite3
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlmodel import Session

from app.core.shares import ShareLifetime
from app.store import db
from app.store.shares import create_share
from bench.options import Options
from bench.phases.store import SMALL_STORE_SHIPMENTS, fill
from bench.procs import BenchError
from bench.stack import Stack
from bench.store import EVENTS_PER_SHIPMENT, shipment_id

SHIPMENT = shipment_id(SMALL_STORE_SHIPMENTS // 2)
SHARES = 3  # links to the shipment, so its list has rows to show
WARMUP = 5
REQUESTS = 100  # p99: the second slowest, not the slowest alone
SURFACES = ("tracking page", "eta-history", "shares", "dashboard shipment")


def measure(stack: Stack, options: Options) -> dict[str, Any]:
    """`sharing`: per size, what was stored and each surface's p50 and p99 (ms)."""
    small = SMALL_STORE_SHIPMENTS * EVENTS_PER_SHIPMENT
    sizes = [small] + ([options.large_store_events] if options.large_store_events > small else [])
    stack.echo(f"sharing: tracking page, ETA history, shares, dashboard with {sizes} stored events")
    stores = {events: fill(stack, f"sharing-{events}", events) for events in sizes}
    tokens = {events: share_shipment(database) for events, (database, _) in stores.items()}
    webs = {
        events: stack.start_web(f"sharing-{events}", queue="bench-sharing", database=database)
        for events, (database, _) in stores.items()
    }
    runs: dict[int, dict[str, list[dict[str, float]]]] = {
        e: {s: [] for s in SURFACES} for e in sizes
    }
    try:
        for run in range(options.runs):
            for events, (_, port) in webs.items():
                for surface, timings in time_surfaces(port, tokens[events], stack.token).items():
                    runs[events][surface].append(timings)
                    stack.echo(
                        f"  run {run + 1}, {events:,} events: {surface} "
                        f"p50 {timings['p50_ms']:.2f} ms, p99 {timings['p99_ms']:.2f} ms"
                    )
    finally:
        for web, _ in webs.values():
            web.stop()
    measured = {
        str(events): {
            **stores[events][1],
            "surfaces": {s: _median(runs[events][s]) for s in SURFACES},
        }
        for events in sizes
    }
    lines = table(measured)
    for line in lines:
        stack.echo(line)
    return {
        "sharing": {"shipment": SHIPMENT, "requests": REQUESTS, "sizes": measured, "table": lines}
    }


def share_shipment(database: Path) -> str:
    """Put the shipment back under way, make `SHARES` links to it; the last one's token."""
    connection = sqlite3.connect(database, isolation_level=None)
    try:
        changed = connection.execute(
            "UPDATE shipment SET status = 'departed', delivered_at = NULL, actual_arrival = NULL "
            "WHERE id = ?",
            (SHIPMENT,),
        ).rowcount
    finally:
        connection.close()
    if changed != 1:
        raise BenchError(f"the store has no shipment {SHIPMENT}")
    engine = db.create_db_engine(f"sqlite:///{database}")
    try:
        with Session(engine) as session:
            for _ in range(SHARES):
                _, token = create_share(
                    session,
                    shipment_id=SHIPMENT,
                    created_by="bench",
                    lifetime=ShareLifetime(),
                    now=datetime.now(UTC),
                )
            session.commit()
    finally:
        engine.dispose()
    return token


def time_surfaces(port: int, share_token: str, api_token: str) -> dict[str, dict[str, float]]:
    """Each surface's p50 and p99 (ms) over `REQUESTS` sequential requests after `WARMUP`."""
    base = f"http://127.0.0.1:{port}"
    bearer = {"authorization": f"Bearer {api_token}"}
    timings: dict[str, dict[str, float]] = {}
    with httpx.Client(base_url=base, timeout=60) as client:
        timings["tracking page"] = _timed(client, f"/track/{share_token}")
    with httpx.Client(base_url=base, timeout=60, headers=bearer) as client:
        timings["eta-history"] = _timed(client, f"/api/shipments/{SHIPMENT}/eta-history")
        timings["shares"] = _timed(client, f"/api/shipments/{SHIPMENT}/shares")
    with httpx.Client(base_url=base, timeout=60) as client:
        signed_in = client.post("/dashboard/sign-in", data={"token": api_token})
        if signed_in.status_code != 303:
            raise BenchError(f"dashboard sign-in: {signed_in.status_code}")
        timings["dashboard shipment"] = _timed(client, f"/dashboard/shipments/{SHIPMENT}")
    return timings


def _timed(client: httpx.Client, path: str) -> dict[str, float]:
    """`WARMUP` untimed GETs of `path`, then `REQUESTS` timed: p50 and p99 in ms."""
    seconds: list[float] = []
    for i in range(WARMUP + REQUESTS):
        began = time.perf_counter()
        answer = client.get(path)
        took = time.perf_counter() - began
        if answer.status_code != 200:
            raise BenchError(f"GET {path}: {answer.status_code}")
        if i >= WARMUP:
            seconds.append(took)
    ordered = sorted(seconds)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p99_ms": round(p99 * 1000, 2),
        "bytes": float(len(answer.content)),
    }


def _median(results: list[dict[str, float]]) -> dict[str, float]:
    return {k: statistics.median(r[k] for r in results) for k in results[0]}


def table(sizes: dict[str, dict[str, Any]]) -> list[str]:
    """Markdown: surface, p50 / p99 per size, and the largest store's over the smallest's: one
    shipment's reads, so the ratios should stay near 1."""
    stored = list(sizes.values())
    header = " | ".join(f"{s['events']:,} events p50 / p99 ms" for s in stored)
    lines = [f"| surface | {header} | p50 ratio | p99 ratio |", "|---" * (len(stored) + 3) + "|"]
    for surface in SURFACES:
        cells = [s["surfaces"][surface] for s in stored]
        shown = " | ".join(f"{c['p50_ms']:.2f} / {c['p99_ms']:.2f}" for c in cells)
        p50 = cells[-1]["p50_ms"] / cells[0]["p50_ms"]
        p99 = cells[-1]["p99_ms"] / cells[0]["p99_ms"]
        lines.append(f"| {surface} | {shown} | {p50:.2f} | {p99:.2f} |")
    return lines
