"""The `cost` phase: what one event asks of Temporal (billable actions from the dev server's
`action` counter, history events), of the database (bench/counted_worker.py) and of the
worker's CPU, for an event that alerts nobody and one that alerts one destination (a local
json:// sink, bench/sink.py), next to its baseline, the no-op workflow carrying the same body.
bench/sizing.py scales those into the sizing table."""

from __future__ import annotations

import http.client
import itertools
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.core.ids import event_workflow_id
from bench import counted_worker, payloads, report, temporal_stats
from bench.measure import cpu, per_event
from bench.options import Options
from bench.procs import Proc, free_port, http_ok, wait_until
from bench.stack import Stack, python

# The two kinds of event, both full Flexport-format bodies of ~13 KB, each on a shipment of its
# own: a booking that alerts nobody, and a departure that alerts one destination.
COST_KINDS = {"no_alert": "01_shipment_created", "one_alert": "06_leg_departed"}
ALERT_KINDS = "departed, arrived, delivered, eta, customs, exception"
WARM_EVENTS = 10  # of each kind, not counted


@dataclass
class CostRun:
    """What the phase's measurements share: its processes, where to read counts, and the last
    settled scrape of Temporal's action counter (while nothing has run since)."""

    stack: Stack
    options: Options
    port: int  # the web process
    sink_port: int
    counts: list[Path]  # the counting workers' files
    watched: dict[str, Proc | None]  # CPU recorded for each
    groups: dict[str, list[Proc]]  # CPU per event summed per group
    actions_now: dict[str, float] | None = field(default=None)

    def settled_actions(self) -> dict[str, float]:
        """The action counter before a measurement: the last scrape if nothing ran since."""
        return self.actions_now or temporal_stats.settled_actions(self.stack.metrics_url)

    def actions_since(self, before: dict[str, float]) -> dict[str, float]:
        """Actions per type since `before`, once the counter settled (kept for the next)."""
        self.actions_now = temporal_stats.settled_actions(self.stack.metrics_url)
        return temporal_stats.difference(before, self.actions_now)


def measure(stack: Stack, options: Options) -> dict[str, Any]:
    """`cost`: per kind (no_alert, one_alert, noop) the per-event figures."""
    n = options.cost_events
    stack.echo(
        f"cost: Temporal actions, history events, database work and CPU per event: {n} "
        f"events of each kind ({', '.join(COST_KINDS.values())}) and {n} no-op workflows "
        "with the same body; alerts go to a local json:// sink"
    )
    procs: list[Proc] = []
    kinds: dict[str, dict[str, Any]] = {}
    try:
        run, noop_workers = _start(stack, options, procs)
        shipments = itertools.count(5_000_000, 100_000)  # a fresh shipment for every event
        for sample in COST_KINDS.values():
            post(run, sample, count=WARM_EVENTS, first_shipment=next(shipments))
        stack.sdk("noop", queue="bench-cost-noop", tag=stack.tag("noop"), count=WARM_EVENTS)
        run.actions_now = None  # the first measurement settles the counter itself
        for name, sample in COST_KINDS.items():
            kinds[name] = flexhook_cost(run, sample, count=n, first_shipment=next(shipments))
            stack.echo(f"  {name} ({sample}): {report.brief_cost(kinds[name])}")
        kinds["noop"] = noop_cost(run, count=n, noop_workers=noop_workers)
        stack.echo(f"  no-op one-activity workflow: {report.brief_cost(kinds['noop'])}")
    finally:
        for proc in reversed(procs):
            proc.stop()
    return {
        "cost": {
            "events": n,
            "samples": {**COST_KINDS, "noop": COST_KINDS["no_alert"]},
            "destinations": {"no_alert": 0, "one_alert": 1},
            "kinds": kinds,
        }
    }


def _start(stack: Stack, options: Options, procs: list[Proc]) -> tuple[CostRun, list[Proc]]:
    """The sink, web, counting workers and no-op workers (each added to `procs` as it starts,
    for the caller to stop): the run, and the no-op workers."""
    sink, sink_port = start_sink(stack, "sink")
    procs.append(sink)
    config = stack.work / "notify-cost.yml"
    config.write_text(
        f'urls:\n  - "json://127.0.0.1:{sink_port}/alerts":\n      tag: {ALERT_KINDS}\n'
    )
    database = stack.database("cost")
    web, port = stack.start_web("cost", queue="bench-cost", database=database)
    procs.append(web)
    counts = [stack.work / f"db-counts-{i}.json" for i in range(options.workers)]
    workers = stack.start_workers(
        "cost", queue="bench-cost", database=database, notify_config=config, counts=counts
    )
    procs += workers
    noop_workers = stack.start_noop_workers(queue="bench-cost-noop")
    procs += noop_workers
    run = CostRun(
        stack=stack,
        options=options,
        port=port,
        sink_port=sink_port,
        counts=counts,
        watched={
            "temporal": stack.temporal,
            "web": web,
            "sink": sink,
            **{p.name: p for p in workers + noop_workers},
        },
        groups={"worker": workers, "web": [web]},
    )
    return run, noop_workers


def start_sink(stack: Stack, log: str) -> tuple[Proc, int]:
    """The local json:// alert sink (bench/sink.py) on a free port, once it answers."""
    port = free_port()
    sink = Proc(
        "sink",
        python("-m", "bench.sink", "--port", str(port)),
        env=dict(os.environ),
        log=stack.log(log),
    ).start()
    wait_until("the alert sink", lambda: http_ok(port, "/count"), proc=sink)
    return sink, port


def sink_count(port: int) -> int:
    """The alerts the sink has received so far."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", "/count")
        return int(json.loads(connection.getresponse().read())["received"])
    finally:
        connection.close()


def post(
    run: CostRun, sample: str, *, count: int, first_shipment: int
) -> tuple[temporal_stats.Batch, dict[str, Any], dict[str, int]]:
    """Post `count` events of `sample` (each on its own shipment) over the web process and
    wait until Temporal says their workflows closed: the workflows, the post, their states."""
    stack = run.stack
    tag = stack.tag("cost")
    host = f"127.0.0.1:{run.port}"
    deliveries = payloads.one_kind(sample, tag, secret=stack.secret, first_shipment=first_shipment)
    file = stack.request_file((payloads.post_request(d, host=host) for d in deliveries), count)
    workflows = temporal_stats.Batch(event_workflow_id(f"{tag}-"))
    posted = stack.http(
        run.port, file, mode="once", concurrency=run.options.e2e_concurrency, warmup=0
    )
    statuses = stack.temporal_call(
        lambda client: temporal_stats.wait_closed(client, workflows, expected=posted["accepted"])
    )
    return workflows, posted, statuses


def flexhook_cost(run: CostRun, sample: str, *, count: int, first_shipment: int) -> dict[str, Any]:
    """What `count` events of `sample` cost, per event: Temporal's actions (the counter's
    difference) and history, the alerts the sink received, database work, CPU."""
    actions_before = run.settled_actions()
    db_before = counted_worker.total(run.counts)
    sink_before = sink_count(run.sink_port)
    result: dict[str, Any] = {"sample": sample}
    with cpu(run.watched, result):
        started = time.perf_counter()
        workflows, posted, statuses = post(run, sample, count=count, first_shipment=first_shipment)
        seconds = time.perf_counter() - started
    result["posted"] = {k: posted.get(k) for k in ("accepted", "duplicate", "errors")}
    completed = statuses.get("completed", 0)
    if completed < count:
        run.stack.echo(f"    note: {completed} of {count} workflows completed: {statuses}")
    actions = run.actions_since(actions_before)
    db = counted_worker.difference(db_before, counted_worker.total(run.counts))
    sent = sink_count(run.sink_port) - sink_before
    result.update(figures(run.stack, workflows, statuses, seconds, actions))
    result["alerts_sent"] = sent
    if completed:
        result["alerts_per_event"] = sent / completed
        result["db_per_event"] = {k: v / completed for k, v in db.items()}
    per_event(result, events=completed, groups=run.groups)
    return result


def noop_cost(run: CostRun, *, count: int, noop_workers: list[Proc]) -> dict[str, Any]:
    """`count` no-op one-activity workflows carrying the no-alert sample's body."""
    stack = run.stack
    tag = stack.tag("noop")
    workflows = temporal_stats.Batch(f"noop-{tag}-")
    before = run.settled_actions()
    result: dict[str, Any] = {"sample": COST_KINDS["no_alert"]}
    with cpu(run.watched, result):
        started = time.perf_counter()
        stack.sdk(
            "noop",
            queue="bench-cost-noop",
            tag=tag,
            count=count,
            concurrency=run.options.e2e_concurrency,
            sample=COST_KINDS["no_alert"],
        )
        statuses = stack.temporal_call(
            lambda client: temporal_stats.wait_closed(client, workflows, expected=count)
        )
        seconds = time.perf_counter() - started
    actions = run.actions_since(before)
    result.update(figures(stack, workflows, statuses, seconds, actions))
    per_event(result, events=statuses.get("completed", 0), groups={"worker": noop_workers})
    return result


def figures(
    stack: Stack,
    workflows: temporal_stats.Batch,
    statuses: dict[str, int],
    seconds: float,
    actions: dict[str, float],
) -> dict[str, Any]:
    """The figures every kind reports: states, rate, actions per event and by type, history."""
    completed = statuses.get("completed", 0)
    history = stack.temporal_call(
        lambda client: temporal_stats.histories(client, workflows, sample=1)
    )
    total = sum(actions.values())
    return {
        "statuses": statuses,
        "completed": completed,
        "seconds": round(seconds, 2),
        "rate": completed / seconds if seconds else None,
        "actions": actions,
        "actions_per_event": total / completed if completed else None,
        "actions_by_type": {k: v / completed for k, v in actions.items()} if completed else {},
        "history": history,
    }
