"""The `untold` phase: what telling exception watches through marks costs a person's action
(issue 19's outbox, `app.store.untold_watches`), in this process on a SQLite store.

Each timed action is one API action's store work: `store.exceptions.act` (a note) committed.
The baseline times it with the mark switched off; the measured run adds the mark in the
action's transaction and, as the web process does after telling the watch, the forget in a
transaction of its own. The two alternate in rounds so that both see the same machine.
"""

from __future__ import annotations

import itertools
import json
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.core.events import parse_event
from app.core.exception_families import exception_effect
from app.store import db, exceptions, untold_watches
from bench import payloads
from bench.options import Options
from bench.stack import Stack

ROUNDS = 10
ACTIONS = 50  # per round and side
HOLD = "/shipment#customs_agriculture_hold"
T0 = datetime(2026, 12, 1, tzinfo=UTC)


def measure(stack: Stack, options: Options) -> dict[str, Any]:
    """`untold`: the action's store time, p50 and p99 in ms, without and with the mark."""
    stack.echo(f"untold: a person's action with and without its watch's mark, {ROUNDS} rounds")
    engine = db.create_db_engine(f"sqlite:///{stack.database('untold')}")
    try:
        exception_id = _held(engine)
        clock = itertools.count()
        times: dict[str, list[float]] = {"without": [], "with": []}
        real_mark = untold_watches.mark
        for _ in range(ROUNDS):
            untold_watches.mark = _no_mark
            try:
                times["without"] += _actions(engine, exception_id, clock, forget=False)
            finally:
                untold_watches.mark = real_mark
            times["with"] += _actions(engine, exception_id, clock, forget=True)
    finally:
        engine.dispose()
    figures = {side: _summary(samples) for side, samples in times.items()}
    ratio = figures["with"]["p50_ms"] / figures["without"]["p50_ms"]
    table = [
        "### A person's action with its watch's mark (`untold` phase, SQLite, store only)",
        "",
        "| run | p50 ms | p99 ms |",
        "| --- | --- | --- |",
        *(
            f"| {side} the mark | {f['p50_ms']:.2f} | {f['p99_ms']:.2f} |"
            for side, f in figures.items()
        ),
        f"| ratio (p50) | {ratio:.2f} | |",
    ]
    return {"untold": {**figures, "ratio_p50": round(ratio, 2), "table": table}}


def _no_mark(*_: Any, **__: Any) -> None:
    return None


def _held(engine: Engine) -> int:
    """A customs hold (sample 01, retyped) and its exception's id."""
    payload = json.loads(payloads.template("01_shipment_created").render("bench-hold", "9000001"))
    payload["type"] = HOLD
    flexport = parse_event(json.dumps(payload).encode("utf-8"))
    effect = exception_effect(flexport.type, flexport.classification, flexport.facts())
    with Session(engine) as session:
        [opened] = exceptions.record_event(
            session,
            shipment_id="9000001",
            event_id="bench-hold",
            occurred_at=T0,
            effect=effect,
            severities={},
            now=T0,
        )
        session.commit()
    return opened.exception_id


def _actions(
    engine: Engine, exception_id: int, clock: itertools.count[int], *, forget: bool
) -> list[float]:
    took: list[float] = []
    for _ in range(ACTIONS):
        began = time.perf_counter()
        at = T0 + timedelta(seconds=next(clock))
        with Session(engine) as session:
            outcome = exceptions.act(
                session, exception_id=exception_id, action="note", by="bench", at=at, note="bench"
            )
            session.commit()
        if forget:  # what the web process does once the watch is told
            with Session(engine) as session:
                untold_watches.forget(session, [(exception_id, outcome.version)])
                session.commit()
        took.append(time.perf_counter() - began)
    return took


def _summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 3),
        "p99_ms": round(ordered[int(len(ordered) * 0.99) - 1] * 1000, 3),
    }
