"""The `routing` phase: what routing one alert to N destinations costs, in this process.

For each N: a fresh SQLite database with N // 2 recipients, an Apprise configuration file with
the other URLs tagged `departed` (json:// to a closed local port: nothing is ever sent), and the
worker's activities built as production builds them (`app.bootstrap.worker_activities`). Then,
for one `departed` alert: `plan` (the ledger rows and the deliveries) and, for every delivery,
the destination lookup each send does (`NotificationActivities.destination`). Routing in O(N)
keeps the cost per destination flat as N grows; routing in O(N²) makes it grow like N.

`python -m bench.phases.routing` runs it alone and prints the results as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from activities.delivery import NotificationActivities
from app import temporal_client
from app.bootstrap import worker_activities
from app.core.alert import Alert
from app.settings import Settings, load_settings
from app.store import db
from app.store.recipients import add_recipient
from bench.procs import BenchError

if TYPE_CHECKING:
    from bench.options import Options
    from bench.stack import Stack

SIZES = (1, 10, 100, 1000)
# Per N: at least REPETITIONS and MIN_SECONDS of them (a steadier median where one is quick),
# at most MAX_REPETITIONS, and fewer than REPETITIONS once they have taken BUDGET_SECONDS.
REPETITIONS = 5
MIN_SECONDS = 1.0
MAX_REPETITIONS = 200
BUDGET_SECONDS = 30.0
KIND = "departed"


def measure(stack: Stack, options: Options) -> dict[str, Any]:
    """The `routing` results of a benchmark run (see `route_sizes`)."""
    stack.echo(
        f"routing: plan and destination lookups for one alert to N = {options.routing_sizes}"
    )
    return {"routing": route_sizes(stack.work / "routing", options.routing_sizes, echo=stack.echo)}


def route_sizes(
    work: Path,
    sizes: Sequence[int],
    *,
    repetitions: int = REPETITIONS,
    echo: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Per N: the medians (ms) of planning and of the N lookups, their sum, the sum per
    destination (µs) and that over the same figure at the smallest N (the baseline)."""
    work.mkdir(parents=True, exist_ok=True)
    found: dict[str, dict[str, Any]] = {}
    for n in sorted(sizes):  # the baseline first
        found[str(n)] = _route(work, n, repetitions=repetitions)
        baseline = found[str(min(sizes))]["per_destination_us"]
        found[str(n)]["vs_baseline"] = found[str(n)]["per_destination_us"] / baseline
        echo(f"  {brief(found[str(n)])}")
    return {"baseline": min(sizes), "sizes": found}


def brief(size: dict[str, Any]) -> str:
    """One line for one N."""
    return (
        f"N={size['destinations']:,}: plan {size['plan_ms']:.1f} ms, lookups "
        f"{size['lookups_ms']:.1f} ms, {size['per_destination_us']:,.0f} µs per destination "
        f"({size['vs_baseline']:.2f} of the baseline's), median of {size['repetitions']}"
    )


def _route(work: Path, n: int, *, repetitions: int) -> dict[str, Any]:
    """Route one alert to `n` destinations, half configured, half recipients: the medians."""
    configured, recipients = n - n // 2, n // 2
    database, config = work / f"routing-{n}.db", work / f"notify-{n}.yml"
    database.unlink(missing_ok=True)
    config.write_text(
        "urls:\n"
        + "".join(
            f'  - "json://127.0.0.1:9/hook-{i}":\n      tag: {KIND}\n' for i in range(configured)
        )
    )
    settings = load_settings(
        _env_file=None,
        database_url=f"sqlite:///{database}",
        notify_config=config,
        data_dir=work,
        flexport_api_token=None,  # no reconciliation activities
    )
    engine = db.create_db_engine(settings.resolved_database_url)
    try:
        db.upgrade(engine)
        _add_recipients(engine, recipients)
        runs = asyncio.run(_repeat(settings, engine, n, repetitions=repetitions))
    finally:
        engine.dispose()
    total = statistics.median(run["total_ms"] for run in runs)
    return {
        "destinations": n,
        "configured": configured,
        "recipients": recipients,
        "repetitions": len(runs),
        "plan_ms": statistics.median(run["plan_ms"] for run in runs),
        "lookups_ms": statistics.median(run["lookups_ms"] for run in runs),
        "total_ms": total,
        "per_destination_us": 1000 * total / n,
        "runs": runs,
    }


async def _repeat(
    settings: Settings, engine: Engine, n: int, *, repetitions: int
) -> list[dict[str, float]]:
    """The worker's activities, built on an event loop as the worker builds them (over a
    client that never connects: no alert is held, so nothing starts a workflow), then at least
    `repetitions` measurements and `MIN_SECONDS` of them; fewer once they took `BUDGET_SECONDS`."""
    client = await temporal_client.connect(
        address=settings.temporal_address, namespace=settings.temporal_namespace, lazy=True
    )
    notifications = worker_activities(settings, engine, client).notifications
    _warm(engine, notifications, f"routing-{n}-warm")
    runs: list[dict[str, float]] = []
    began = time.perf_counter()
    while len(runs) < MAX_REPETITIONS:
        elapsed = time.perf_counter() - began
        if runs and (
            elapsed > BUDGET_SECONDS or (len(runs) >= repetitions and elapsed > MIN_SECONDS)
        ):
            break
        runs.append(_once(engine, notifications, f"routing-{n}-{len(runs)}", expected=n))
    return runs


def _add_recipients(engine: Engine, count: int) -> None:
    now = datetime.now(UTC)
    with Session(engine) as session:
        for i in range(count):
            add_recipient(session, url=f"json://127.0.0.1:9/recipient-{i}", now=now)
        session.commit()


def _warm(engine: Engine, notifications: NotificationActivities, event_id: str) -> None:
    """One plan and one lookup, unrecorded: Apprise's imports, the first read of the
    configuration file (what the worker does once, or once per change of the file)."""
    with Session(engine) as session:
        deliveries = notifications.plan(session, [_alert(event_id)], now=datetime.now(UTC))
        notifications.destination(session, deliveries[0])
        session.rollback()


def _once(
    engine: Engine, notifications: NotificationActivities, event_id: str, *, expected: int
) -> dict[str, float]:
    """Plan one alert (a new one: its ledger rows are new), look up every delivery's
    destination as its send would, and roll the ledger rows back: the milliseconds of each."""
    alert = _alert(event_id)
    with Session(engine) as session:
        started = time.perf_counter()
        deliveries = notifications.plan(session, [alert], now=datetime.now(UTC))
        planned = time.perf_counter()
        found = sum(notifications.destination(session, d) is not None for d in deliveries)
        looked_up = time.perf_counter()
        session.rollback()
    if len(deliveries) != expected or found != expected:
        raise BenchError(
            f"routing: {len(deliveries)} deliveries and {found} destinations for {expected}"
        )
    return {
        "plan_ms": 1000 * (planned - started),
        "lookups_ms": 1000 * (looked_up - planned),
        "total_ms": 1000 * (looked_up - started),
    }


def _alert(event_id: str) -> Alert:
    return Alert(
        kind=KIND,
        event_id=event_id,
        event_type="/shipment_leg#departed",
        shipment_id="418563",
        headline="Departed",
        occurred_at="2026-02-26T13:20:00+00:00",
        place_name="Yantian",
        place_country="CN",
    )


def main(argv: list[str] | None = None) -> None:
    """`python -m bench.phases.routing [--sizes 1,10,100,1000]`: this phase alone, its
    results as JSON on stdout, progress on stderr."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--repetitions", type=int, default=REPETITIONS)
    args = parser.parse_args(argv)
    sizes = tuple(int(n) for n in args.sizes.split(","))
    with tempfile.TemporaryDirectory(prefix="flexhook-routing-") as work:
        found = route_sizes(Path(work), sizes, repetitions=args.repetitions, echo=_stderr)
    json.dump(found, sys.stdout, indent=2)
    print()


def _stderr(line: str) -> None:
    print(line, file=sys.stderr)


if __name__ == "__main__":
    main()
