"""The sizing table: a run's measured per-event costs (cost and end-to-end phases, the ack at
c=8) scaled from 10k to 100M events a day, under the assumptions `Sizing` holds as data."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Sizing:
    """The assumptions of the sizing table; everything else in it is measured by the run."""

    events_per_day: tuple[int, ...] = (10_000, 100_000, 1_000_000, 10_000_000, 100_000_000)
    alert_share: float = 0.3  # events that alert one destination (the bundled samples: 6 of 21)
    peak_factor: float = 3.0  # the busiest minute over the day's mean
    utilization: float = 0.6  # of a core, at peak, per web or worker process
    min_replicas: int = 2  # for availability
    price_per_million_actions: float = 50.0  # Temporal Cloud list price, first tier (USD)
    days_per_month: float = 30.4
    cloud_aps_limit: int = 500  # Temporal Cloud's default per namespace (docs: cloud/limits)
    postgres_commits_per_s: int = 5000  # one modest PostgreSQL primary, small transactions
    dev_history_shards: int = 1  # `temporal server start-dev` (temporalio/cli's devserver)
    self_hosted_history_shards: int = 4  # the server's docker config template default


SIZING = Sizing()


def writes(db: dict[str, float]) -> float:
    """Write statements (INSERT, UPDATE, DELETE) among counted database statements."""
    return sum(db.get(verb, 0.0) for verb in ("INSERT", "UPDATE", "DELETE"))


def sizing_inputs(results: dict[str, Any], s: Sizing = SIZING) -> dict[str, float] | None:
    """The run's per-event costs the sizing table scales, or None without the cost phase."""
    kinds = results.get("cost", {}).get("kinds", {})
    no_alert, one_alert = kinds.get("no_alert"), kinds.get("one_alert")
    if not no_alert or not one_alert or no_alert.get("actions_per_event") is None:
        return None
    a = s.alert_share

    def db(kind: dict[str, Any], what: str) -> float:
        per = kind.get("db_per_event") or {}
        return writes(per) if what == "writes" else float(per.get("COMMIT", 0.0))

    def worker(kind: dict[str, Any]) -> float:
        return float((kind.get("cpu_ms_per_event") or {}).get("worker", 0.0))

    # The worker's CPU per event: the end-to-end figure (the sample mix, nobody alerted) plus,
    # for the share that alerts, what one send added in the cost phase.
    e2e = results.get("e2e", {}).get("flexhook", {})
    e2e_ms = (e2e.get("cpu_ms_per_event") or {}).get("worker")
    m = {
        "A0": float(no_alert["actions_per_event"]),
        "A1": float(one_alert.get("actions_per_event") or 0.0),
        "H0": float((no_alert.get("history") or {}).get("mean") or 0.0),
        "H1": float((one_alert.get("history") or {}).get("mean") or 0.0),
        "C0": db(no_alert, "commits"),
        "C1": db(one_alert, "commits"),
        "W0": db(no_alert, "writes"),
        "W1": db(one_alert, "writes"),
        "worker_base_ms": float(e2e_ms if e2e_ms is not None else worker(no_alert)),
        "send_ms": max(0.0, worker(one_alert) - worker(no_alert)),
    }
    for x in "AHCW":
        m[x] = (1 - a) * m[x + "0"] + a * m[x + "1"]
    m["worker_ms"] = m["worker_base_ms"] + a * m["send_ms"]
    # acks/s one web core takes: the ack rate at c=8 over the web process's share of a core.
    acks = sorted(
        run["rate"] / (run["cpu_pct"]["web"] / 100)
        for run in results.get("ack", {}).get("8", {}).get("runs", [])
        if run.get("cpu_pct", {}).get("web")
    )
    if acks:
        m["acks_per_web_core"] = acks[len(acks) // 2]
    elif (e2e.get("cpu_ms_per_event") or {}).get("web"):
        m["acks_per_web_core"] = 1000 / e2e["cpu_ms_per_event"]["web"]
    if e2e.get("rate"):
        m["dev_server_events_per_s"] = float(e2e["rate"])
    return m


def sizing(results: dict[str, Any], s: Sizing = SIZING) -> str | None:
    """The sizing table from 10k to 100M events a day, every figure with its formula."""
    m = sizing_inputs(results, s)
    if m is None:
        return None
    lines = [
        "| events/day | events/s: mean → peak | Temporal actions/s at peak | actions/month "
        "| Temporal Cloud list price/month | history events/s at peak "
        "| flexhook DB commits/s (writes/s) at peak | web replicas | worker replicas "
        "| what decides |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    lines += [_row(per_day, m, s) for per_day in s.events_per_day]
    lines += _notes(m, s)
    return "\n".join(lines)


def _row(per_day: int, m: dict[str, float], s: Sizing) -> str:
    """One row of the sizing table: `per_day` events a day."""
    floor, u = s.min_replicas, s.utilization
    acks_core, dev_rate = m.get("acks_per_web_core"), m.get("dev_server_events_per_s")
    mean = per_day / 86_400
    peak = mean * s.peak_factor
    aps = peak * m["A"]
    month = per_day * s.days_per_month * m["A"]
    price = month / 1e6 * s.price_per_million_actions
    web = max(floor, math.ceil(peak / (acks_core * u))) if acks_core else None
    worker = max(floor, math.ceil(peak * m["worker_ms"] / 1000 / u))
    decides = []
    if aps > s.cloud_aps_limit:
        decides.append(f"Temporal Cloud: over the {s.cloud_aps_limit} APS namespace default")
    if peak * m["C"] > s.postgres_commits_per_s:
        decides.append(
            f"flexhook's PostgreSQL: over ~{s.postgres_commits_per_s:,} commits/s, one primary"
        )
    if dev_rate and peak > dev_rate:
        decides.append(
            f"self-hosted Temporal: past one dev server ({s.dev_history_shards} history "
            f"shard, {dev_rate:.0f} events/s here)"
        )
    return (
        f"| {per_day:,} | {mean:,.2f} → {peak:,.1f} | {aps:,.1f} | {month / 1e6:,.2f} M "
        f"| ${price:,.0f} | {peak * m['H']:,.0f} "
        f"| {peak * m['C']:,.1f} ({peak * m['W']:,.1f}) "
        f"| {web if web is not None else '-'} | {worker} "
        f"| {'; '.join(decides) or 'nothing near a limit: replicas only'} |"
    )


def _notes(m: dict[str, float], s: Sizing) -> list[str]:
    """What the table measured, what it assumed, and its formulas."""
    a, peak_x, u, floor = s.alert_share, s.peak_factor, s.utilization, s.min_replicas
    dev_rate = m.get("dev_server_events_per_s")
    acks_core = m.get("acks_per_web_core")
    return [
        "",
        "Measured in this run (cost phase, end-to-end phase, ack at c=8): "
        f"A0 = {m['A0']:.2f} and A1 = {m['A1']:.2f} Temporal actions per event that alerts "
        f"nobody / one destination; H0 = {m['H0']:.1f}, H1 = {m['H1']:.1f} history events; "
        f"C0 = {m['C0']:.1f}, C1 = {m['C1']:.1f} database commits and W0 = {m['W0']:.1f}, "
        f"W1 = {m['W1']:.1f} write statements (INSERT, UPDATE, DELETE); worker CPU "
        f"{m['worker_base_ms']:.1f} ms per event end to end, +{m['send_ms']:.1f} ms when an "
        "event alerts one destination (its send activity and second workflow task, the ledger's "
        "commits, Apprise); "
        + (f"{acks_core:,.0f} acks/s per web core." if acks_core else "no ack measurement.")
        + (f" One dev server took {dev_rate:.1f} events/s end to end." if dev_rate else ""),
        "",
        f"Assumed: a = {100 * a:.0f}% of events alert one destination (the bundled samples: 6 "
        f"of 21); peak = {peak_x:g} · the day's mean; web and worker processes at most "
        f"{100 * u:.0f}% of a core at peak, at least {floor} of each; "
        f"${s.price_per_million_actions:g} per million actions (Temporal Cloud's list price at "
        "its first volume tier; higher tiers cost less; plan, support and storage not included); "
        f"Temporal Cloud's default namespace limit of {s.cloud_aps_limit} actions/s "
        "(docs.temporal.io/cloud/limits; on-demand capacity raises it from the last 7 days' use, "
        f"provisioned capacity buys it ahead); one PostgreSQL primary taking "
        f"~{s.postgres_commits_per_s:,} small write transactions/s (an assumption: measure it on "
        "the target database).",
        "",
        "Formulas:",
        f"- events/s = events/day / 86,400; peak = {peak_x:g} · events/s",
        f"- actions/event A = (1 - a)·A0 + a·A1 = {1 - a:.2f} · {m['A0']:.2f} + {a:.2f} · "
        f"{m['A1']:.2f} = {m['A']:.2f}",
        f"- actions/s = peak · A; actions/month = events/day · {s.days_per_month:g} · A; list "
        f"price = actions/month / 10^6 · ${s.price_per_million_actions:g}",
        f"- history events/s = peak · H, H = (1 - a)·H0 + a·H1 = {m['H']:.1f}",
        f"- DB commits/s = peak · C, C = (1 - a)·C0 + a·C1 = {m['C']:.2f}; writes/s = peak · W, "
        f"W = {m['W']:.2f}",
        f"- web replicas = max({floor}, ⌈peak / (acks/s per web core · {u:g})⌉)"
        + (f" = max({floor}, ⌈peak / {acks_core * u:,.0f}⌉)" if acks_core else ""),
        f"- worker replicas = max({floor}, ⌈peak · worker CPU s/event / {u:g}⌉); worker CPU = "
        f"{m['worker_base_ms']:.1f} + a · {m['send_ms']:.1f} = {m['worker_ms']:.1f} ms/event "
        f"(a worker process uses one core: {1000 / m['worker_ms']:.0f} events/s per core)",
        f"- self-hosted Temporal: the dev server runs {s.dev_history_shards} history shard, the "
        f"server's docker config template {s.self_hosted_history_shards}; numHistoryShards "
        "cannot change once a cluster is created, so it is chosen for the largest row the cluster "
        "must carry (each shard is owned by one history host at a time).",
    ]
