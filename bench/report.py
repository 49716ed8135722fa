"""Ratios against the same run's baselines, the Markdown tables of a run's results, and the
sizing table derived from its per-event costs."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

TARGETS = {
    "ack_vs_sdk": 0.95,  # at least
    "e2e_vs_noop": 1.3,  # at least: flexhook's events/s over the no-op one-activity workflow's
    "spool_vs_ceiling": 0.5,  # at least
    "store_growth": 1.2,  # at most: p99 with the large store / with the small one
    "actions_no_alert": 2.0,  # at most: the start and one local activity
    "actions_per_destination": 1.0,  # at most, on top of actions_no_alert: one send each
    "worker_ms_per_event": 30.0,  # at most: half the 60 ms measured before the local activity
}


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


def brief(result: dict[str, Any]) -> str:
    text = f"{result.get('rate', 0):,.0f}/s"
    if result.get("p50_ms") is not None:
        text += f", p50 {result['p50_ms']:.2f} ms, p99 {result['p99_ms']:.2f} ms"
    if result.get("errors"):
        text += f", errors {result['errors']}"
    if result.get("duplicate"):
        text += f", {result['duplicate']} duplicates"
    if result.get("loader_cpu_pct") is not None:
        text += f", cpu loader {result['loader_cpu_pct']}%"
    if result.get("cpu_pct"):
        text += ", cpu " + " ".join(f"{k} {v}%" for k, v in result["cpu_pct"].items())
    return text


def _types(by_type: dict[str, float]) -> str:
    return " + ".join(
        f"{name.removeprefix('grpc_').removeprefix('command_')} {n:.2f}"
        for name, n in sorted(by_type.items(), key=lambda kv: -kv[1])
    )


def brief_cost(result: dict[str, Any]) -> str:
    """One line for a cost measurement: actions, history, alerts, database, CPU."""
    parts = []
    if result.get("actions_per_event") is not None:
        parts.append(
            f"{result['actions_per_event']:.2f} actions/event ({_types(result['actions_by_type'])})"
        )
    history = result.get("history") or {}
    if history.get("mean") is not None:
        parts.append(f"history {history['mean']:.1f} events")
    if result.get("alerts_per_event") is not None:
        parts.append(f"{result['alerts_per_event']:.2f} alerts sent/event")
    db = result.get("db_per_event")
    if db:
        parts.append(f"db {_writes(db):.1f} writes, {db.get('COMMIT', 0):.1f} commits/event")
    ms = result.get("cpu_ms_per_event") or {}
    if "worker" in ms:
        parts.append(f"worker {ms['worker']:.1f} ms/event")
    if result.get("rate"):
        parts.append(f"{result['rate']:.1f}/s")
    if set(result.get("statuses", {})) - {"completed"}:
        parts.append(f"statuses {result['statuses']}")
    return ", ".join(parts)


def _writes(db: dict[str, float]) -> float:
    return sum(db.get(verb, 0.0) for verb in ("INSERT", "UPDATE", "DELETE"))


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else a / b


def derive(results: dict[str, Any]) -> dict[str, Any]:
    derived: dict[str, Any] = {"targets": TARGETS}
    for name, top, bottom in (
        ("ack_vs_sdk", "ack", "sdk_start"),
        ("spool_vs_ceiling", "spool", "ceiling"),
    ):
        if top in results and bottom in results:
            derived[name] = {
                c: _ratio(results[top][c]["rate"], results[bottom].get(c, {}).get("rate"))
                for c in results[top]
            }
    if "e2e" in results:
        e2e = results["e2e"]
        derived["e2e_vs_noop"] = _ratio(e2e["flexhook"]["rate"], e2e["noop"]["rate"])
        ours = e2e["flexhook"].get("cpu_ms_per_event", {})
        noop = e2e["noop"].get("cpu_ms_per_event", {})
        derived["worker_ms_per_event"] = ours.get("worker")
        derived["cpu_vs_noop"] = {
            name: _ratio(ours.get(name), noop.get(name)) for name in ("worker", "temporal")
        }
    kinds = results.get("cost", {}).get("kinds", {})
    if kinds:
        noop = kinds.get("noop", {})
        derived["cost_vs_noop"] = {
            name: {
                "actions": _ratio(kind.get("actions_per_event"), noop.get("actions_per_event")),
                "history": _ratio(
                    (kind.get("history") or {}).get("mean"), (noop.get("history") or {}).get("mean")
                ),
            }
            for name, kind in kinds.items()
        }
    sizes = list(results.get("store", {}).get("sizes", {}).values())
    if len(sizes) == 2:
        small, large = sizes
        derived["store_growth"] = {
            "ack_p99": _ratio(large["ack"]["p99_ms"], small["ack"]["p99_ms"]),
            "get_p99": _ratio(large["get"]["p99_ms"], small["get"]["p99_ms"]),
        }
    return derived


def other_load(results: Any) -> list[int]:
    """Every `cpu_pct.others` in the results: what the rest of the machine used meanwhile."""
    found: list[int] = []
    if isinstance(results, dict):
        if isinstance(results.get("cpu_pct"), dict) and "others" in results["cpu_pct"]:
            found.append(results["cpu_pct"]["others"])
        for value in results.values():
            found += other_load(value)
    elif isinstance(results, list):
        for value in results:
            found += other_load(value)
    return found


def _cell(summary: dict[str, Any] | None) -> str:
    if not summary or summary.get("rate") is None:
        return "-"
    return f"{summary['rate']:,.0f} ({summary['p50_ms']:.1f} / {summary['p99_ms']:.1f})"


def _verdict(value: float | None, target: float, *, at_most: bool = False, unit: str = "") -> str:
    if value is None:
        return "-"
    met = value <= target if at_most else value >= target
    digits = 3 if round(value, 2) == target and value != target else 2  # 0.947 is not 0.95
    return f"**{value:.{digits}f}{unit}** {'PASS' if met else 'MISS'}"


def _num(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _camel(event_type: str) -> str:
    return "".join(word.capitalize() for word in event_type.split("_"))


def markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    o = results["options"]
    d = results.get("derived") or derive(results)
    lines = [
        f"Machine: {m['cpus']} x {m['cpu_model']}, {m['memory_gib']} GiB, {m['os']}, "
        f"Python {m['python']}; {m['temporal']}; temporalio {m['temporalio']}; uvicorn "
        f"{m['uvicorn']} ({m['uvicorn_http']}, {m['uvicorn_loop']}); load from bench/http_load.py.",
        f"Medians of {o['runs']} run(s) of {o['duration']:g} s after {o['warmup']:g} s of "
        f"warm-up, all against one Temporal dev server (SQLite file, WAL); whole run "
        f"{results.get('seconds', 0):.0f} s"
        + (
            " (" + ", ".join(f"{k} {v:.0f} s" for k, v in results["phase_seconds"].items()) + ")."
            if results.get("phase_seconds")
            else "."
        ),
    ]
    others = sorted(other_load(results))
    if others:
        lines.append(
            f"Other processes on the machine used a median of {others[len(others) // 2]}% of one "
            f"core during the measurements (from {others[0]}% to {others[-1]}%)."
        )
    lines.append("")
    conc = [str(c) for c in o["concurrencies"]]
    rows = [
        ("Ceiling: bare Starlette, HMAC only", results.get("ceiling")),
        ("Raw SDK `start_workflow` (same request)", results.get("sdk_start")),
        ("flexhook `POST /webhooks/flexport` ack", results.get("ack")),
        ("flexhook ack, Temporal stopped (spool)", results.get("spool")),
    ]
    lines.append(
        "| requests/s (p50 / p99 ms) | " + " | ".join(f"c={c}" for c in conc) + " | target |"
    )
    lines.append("|---" * (len(conc) + 2) + "|")
    for label, data in rows:
        if data:
            lines.append(f"| {label} | " + " | ".join(_cell(data.get(c)) for c in conc) + " | |")
    for label, key in (
        ("ack / raw SDK start", "ack_vs_sdk"),
        ("spool / ceiling", "spool_vs_ceiling"),
    ):
        if key in d:
            target = TARGETS[key]
            lines.append(
                f"| {label} | "
                + " | ".join(_verdict(d[key].get(c), target) for c in conc)
                + f" | ≥ {target} |"
            )
    if "e2e" in results:
        lines += ["", *_e2e_table(results, d)]
    if results.get("cost", {}).get("kinds"):
        lines += ["", *_cost_table(results, d)]
    if results.get("worker_profile"):
        lines += ["", *_profile_section(results["worker_profile"])]
    sizes = list(results.get("store", {}).get("sizes", {}).values())
    if sizes:
        c = results["store"]["concurrency"]
        header = " | ".join(f"{s['events']:,} events" for s in sizes)
        lines += [
            "",
            f"| p99 ms at c={c} (median rate/s) | {header} | large / small | target |",
            "|---" * (len(sizes) + 3) + "|",
        ]
        growth = d.get("store_growth", {})
        for label, key in (("ack", "ack"), ("`GET /api/shipments/{id}`", "get")):
            cells = " | ".join(f"{s[key]['p99_ms']:.1f} ({s[key]['rate']:,.0f}/s)" for s in sizes)
            lines.append(
                f"| {label} | {cells} | "
                f"{_verdict(growth.get(key + '_p99'), TARGETS['store_growth'], at_most=True)} "
                f"| ≤ {TARGETS['store_growth']} |"
            )
    table = sizing(results)
    if table:
        lines += ["", table]
    return "\n".join(lines)


def _e2e_table(results: dict[str, Any], d: dict[str, Any]) -> list[str]:
    e2e = results["e2e"]
    o = results["options"]
    ours, noop = e2e["flexhook"], e2e["noop"]
    ms, noop_ms = ours.get("cpu_ms_per_event", {}), noop.get("cpu_ms_per_event", {})
    ratio = d.get("cpu_vs_noop", {})
    worker_target = TARGETS["worker_ms_per_event"]
    return [
        f"| end to end: {e2e['events']:,} events, posted at c={o['e2e_concurrency']}, "
        f"{e2e['workers']} worker process | events/s | worker CPU ms/event "
        "| Temporal CPU ms/event | target |",
        "|---|---|---|---|---|",
        f"| flexhook: posted → record updated | {ours['rate']:.1f} | {_num(ms.get('worker'), 1)} "
        f"| {_num(ms.get('temporal'), 1)} | |",
        f"| no-op one-activity workflow, same payload | {noop['rate']:.1f} "
        f"| {_num(noop_ms.get('worker'), 1)} | {_num(noop_ms.get('temporal'), 1)} | |",
        f"| flexhook / no-op | {_verdict(d.get('e2e_vs_noop'), TARGETS['e2e_vs_noop'])} "
        f"| {_num(ratio.get('worker'))} | {_num(ratio.get('temporal'))} "
        f"| events/s ≥ {TARGETS['e2e_vs_noop']} |",
        f"| worker CPU per event | | "
        f"{_verdict(d.get('worker_ms_per_event'), worker_target, at_most=True, unit=' ms')} | "
        f"| ≤ {worker_target:g} ms (half of 60) |",
    ]


_COST_LABELS = {
    "noop": "no-op one-activity workflow, same body as the no-alert event",
    "no_alert": "flexhook, an event that alerts nobody",
    "one_alert": "flexhook, an event that alerts one destination (json:// sink)",
}


def _cost_target(name: str, kind: dict[str, Any], destinations: int) -> str:
    if name == "noop":
        return ""
    target = TARGETS["actions_no_alert"] + destinations * TARGETS["actions_per_destination"]
    return f"actions ≤ {target:g}: {_verdict(kind.get('actions_per_event'), target, at_most=True)}"


def _cost_table(results: dict[str, Any], d: dict[str, Any]) -> list[str]:
    cost = results["cost"]
    kinds = cost["kinds"]
    vs = d.get("cost_vs_noop", {})
    lines = [
        f"| per event, {cost['events']} of each, same run | Temporal actions (/ no-op) "
        "| history events (/ no-op) | alerts sent | DB writes / commits | worker CPU ms "
        "| target |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in ("noop", "no_alert", "one_alert"):
        kind = kinds.get(name)
        if not kind:
            continue
        history = (kind.get("history") or {}).get("mean")
        db = kind.get("db_per_event")
        db_cell = f"{_writes(db):.1f} / {db.get('COMMIT', 0):.1f}" if db else "-"
        lines.append(
            f"| {_COST_LABELS[name]} (`{kind['sample']}`) "
            f"| {_num(kind.get('actions_per_event'))} ({_num(vs.get(name, {}).get('actions'))}) "
            f"| {_num(history, 1)} ({_num(vs.get(name, {}).get('history'))}) "
            f"| {_num(kind.get('alerts_per_event'))} "
            f"| {db_cell} "
            f"| {_num((kind.get('cpu_ms_per_event') or {}).get('worker'), 1)} "
            f"| {_cost_target(name, kind, cost['destinations'].get(name, 0))} |"
        )
    lines.append("")
    lines.append("Actions by type, per event (the dev server's `action` counter):")
    for name in ("noop", "no_alert", "one_alert"):
        if kinds.get(name, {}).get("actions_by_type"):
            lines.append(f"- {name}: {_types(kinds[name]['actions_by_type'])}")
    lines.append("")
    lines.append("One history of each:")
    for name in ("noop", "no_alert", "one_alert"):
        sample = (kinds.get(name, {}).get("history") or {}).get("sample") or []
        if sample:
            lines.append(f"- {name} ({len(sample[0])}): " + ", ".join(_camel(e) for e in sample[0]))
    return lines


def _profile_section(found: dict[str, Any]) -> list[str]:
    gil = found.get("gil") or {}
    cpu, held = found.get("worker_cpu_pct"), gil.get("sampled_pct")
    outside = (
        f" Python held the GIL {held:.0f}% of the time while the worker used {cpu}% of a core: "
        f"about {max(0.0, 1 - held / cpu):.0%} of its CPU ran outside Python (Temporal's Rust "
        "core: gRPC and protobuf; SQLite's C code; the kernel)."
        if cpu and held is not None
        else ""
    )
    lines = [
        f"Worker profile (py-spy --gil: a sample is a thread running Python; {found.get('seconds')}"
        f" s over {found.get('events')} events, not counted above).{outside}",
        "",
        "```",
    ]
    lines += (gil.get("summary") or "(no profile)").splitlines()
    lines.append("```")
    if gil.get("path"):
        lines.append(f"Raw profiles: {gil['path']} and {(found.get('threads') or {}).get('path')}")
    return lines


def sizing_inputs(results: dict[str, Any], s: Sizing = SIZING) -> dict[str, float] | None:
    """The run's per-event costs the sizing table scales, or None without the cost phase."""
    kinds = results.get("cost", {}).get("kinds", {})
    no_alert, one_alert = kinds.get("no_alert"), kinds.get("one_alert")
    if not no_alert or not one_alert or no_alert.get("actions_per_event") is None:
        return None
    a = s.alert_share

    def db(kind: dict[str, Any], what: str) -> float:
        per = kind.get("db_per_event") or {}
        return _writes(per) if what == "writes" else float(per.get("COMMIT", 0.0))

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
    a, peak_x, u, floor = s.alert_share, s.peak_factor, s.utilization, s.min_replicas
    dev_rate = m.get("dev_server_events_per_s")
    acks_core = m.get("acks_per_web_core")
    lines = [
        "| events/day | events/s: mean → peak | Temporal actions/s at peak | actions/month "
        "| Temporal Cloud list price/month | history events/s at peak "
        "| flexhook DB commits/s (writes/s) at peak | web replicas | worker replicas "
        "| what decides |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for per_day in s.events_per_day:
        mean = per_day / 86_400
        peak = mean * peak_x
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
        lines.append(
            f"| {per_day:,} | {mean:,.2f} → {peak:,.1f} | {aps:,.1f} | {month / 1e6:,.2f} M "
            f"| ${price:,.0f} | {peak * m['H']:,.0f} "
            f"| {peak * m['C']:,.1f} ({peak * m['W']:,.1f}) "
            f"| {web if web is not None else '-'} | {worker} "
            f"| {'; '.join(decides) or 'nothing near a limit: replicas only'} |"
        )
    lines += [
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
    return "\n".join(lines)


def main() -> None:
    """`python -m bench.report [results.json] [--sizing]`: the tables again from saved results."""
    import argparse
    import json
    from pathlib import Path

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("results", nargs="?", type=Path, default=Path("bench/results/latest.json"))
    parser.add_argument("--sizing", action="store_true", help="only the sizing table")
    args = parser.parse_args()
    results = json.loads(args.results.read_text())
    results["derived"] = derive(results)
    print(
        (sizing(results) or "no cost phase in these results") if args.sizing else markdown(results)
    )


if __name__ == "__main__":
    main()
