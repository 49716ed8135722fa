"""Ratios against the same run's baselines and the Markdown tables of a run's results (the
sizing table comes from bench/sizing.py)."""

from __future__ import annotations

from typing import Any

from bench import reads_table
from bench.sizing import sizing, writes

TARGETS = {
    "ack_vs_sdk": 0.95,  # at least
    "e2e_vs_noop": 1.3,  # at least: flexhook's events/s over the no-op one-activity workflow's
    "spool_vs_ceiling": 0.5,  # at least
    "store_growth": 1.2,  # at most: p99 with the large store / with the small one
    "metrics_growth": 1.2,  # at most: /metrics p99 with the large store / with the small one
    "actions_no_alert": 2.0,  # at most: the start and one local activity
    "actions_per_destination": 1.0,  # at most, on top of actions_no_alert: one send each
    "worker_ms_per_event": 30.0,  # at most: half the 60 ms measured before the local activity
}


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
        parts.append(f"db {writes(db):.1f} writes, {db.get('COMMIT', 0):.1f} commits/event")
    ms = result.get("cpu_ms_per_event") or {}
    if "worker" in ms:
        parts.append(f"worker {ms['worker']:.1f} ms/event")
    if result.get("rate"):
        parts.append(f"{result['rate']:.1f}/s")
    if set(result.get("statuses", {})) - {"completed"}:
        parts.append(f"statuses {result['statuses']}")
    return ", ".join(parts)


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
    sizes = list(results.get("metrics", {}).get("sizes", {}).values())
    if len(sizes) == 2:
        small, large = sizes
        derived["metrics_growth"] = {
            "scrape_p99": _ratio(large["scrape"]["p99_ms"], small["scrape"]["p99_ms"]),
            "refresh_p99": _ratio(large["refresh"]["p99_ms"], small["refresh"]["p99_ms"]),
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
    """Every table the results have data for, after a few lines about the machine and run."""
    d = results.get("derived") or derive(results)
    lines = [*_preamble(results), "", *_request_table(results, d)]
    if "e2e" in results:
        lines += ["", *_e2e_table(results, d)]
    if results.get("cost", {}).get("kinds"):
        lines += ["", *_cost_table(results, d)]
    if results.get("worker_profile"):
        lines += ["", *_profile_section(results["worker_profile"])]
    if results.get("store", {}).get("sizes"):
        lines += ["", *_store_table(results, d)]
    if results.get("metrics", {}).get("sizes"):
        lines += ["", *_metrics_table(results, d)]
    if results.get("export", {}).get("sizes"):
        lines += ["", *_export_table(results["export"])]
    if results.get("sharing", {}).get("table"):  # bench/phases/sharing.py writes it
        lines += ["", *results["sharing"]["table"]]
    if results.get("untold", {}).get("table"):  # bench/phases/untold.py writes it
        lines += ["", *results["untold"]["table"]]
    if results.get("reads", {}).get("databases"):  # bench/phases/reads.py
        lines += ["", *reads_table.render(results["reads"])]
    if results.get("routing", {}).get("sizes"):
        lines += ["", *_routing_table(results["routing"])]
    table = sizing(results)
    if table:
        lines += ["", table]
    return "\n".join(lines)


def _preamble(results: dict[str, Any]) -> list[str]:
    m = results["machine"]
    o = results["options"]
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
    return lines


def _request_table(results: dict[str, Any], d: dict[str, Any]) -> list[str]:
    conc = [str(c) for c in results["options"]["concurrencies"]]
    rows = [
        ("Ceiling: bare Starlette, HMAC only", results.get("ceiling")),
        ("Raw SDK `start_workflow` (same request)", results.get("sdk_start")),
        ("flexhook `POST /webhooks/flexport` ack", results.get("ack")),
        ("flexhook ack, Temporal stopped (spool)", results.get("spool")),
    ]
    lines = [
        "| requests/s (p50 / p99 ms) | " + " | ".join(f"c={c}" for c in conc) + " | target |",
        "|---" * (len(conc) + 2) + "|",
    ]
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
    return lines


def _store_table(results: dict[str, Any], d: dict[str, Any]) -> list[str]:
    sizes = list(results["store"]["sizes"].values())
    c = results["store"]["concurrency"]
    header = " | ".join(f"{s['events']:,} events" for s in sizes)
    lines = [
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
    return lines


def _metrics_table(results: dict[str, Any], d: dict[str, Any]) -> list[str]:
    """`GET /metrics` (c=1, mostly the cached gauges) and the uncached database refresh."""
    sizes = list(results["metrics"]["sizes"].values())
    header = " | ".join(f"{s['events']:,} events" for s in sizes)
    lines = [
        f"| ms (p50 / p99) | {header} | large / small (p99) | target |",
        "|---" * (len(sizes) + 3) + "|",
    ]
    growth = d.get("metrics_growth", {})
    rows = (("`GET /metrics` at c=1", "scrape"), ("the gauges' database refresh", "refresh"))
    for label, key in rows:
        cells = " | ".join(f"{s[key]['p50_ms']:.2f} / {s[key]['p99_ms']:.2f}" for s in sizes)
        verdict = _verdict(growth.get(key + "_p99"), TARGETS["metrics_growth"], at_most=True)
        lines.append(f"| {label} | {cells} | {verdict} | ≤ {TARGETS['metrics_growth']} |")
    return lines


def _export_table(export: dict[str, Any]) -> list[str]:
    """The CSV exports, downloaded whole: the web process's peak RSS should not grow with the
    rows (the last column near 1), while the time does."""
    sizes = list(export["sizes"].values())
    header = " | ".join(f"{s['events']:,} events" for s in sizes)
    lines = [
        f"| CSV export: rows, seconds, web peak RSS MiB | {header} | peak RSS large / small |",
        "|---" * (len(sizes) + 2) + "|",
    ]
    for name in ("events", "shipments"):
        cells = " | ".join(
            f"{f['rows']:,.0f} rows, {f['seconds']:.2f} s, {f['peak_rss_mib']:.1f}"
            for f in (s["files"][name] for s in sizes)
        )
        ratio = sizes[-1]["files"][name]["peak_rss_mib"] / sizes[0]["files"][name]["peak_rss_mib"]
        lines.append(f"| `GET /api/{name}.csv` | {cells} | {ratio:.2f} |")
    return lines


def _routing_table(routing: dict[str, Any]) -> list[str]:
    """Routing one alert to N destinations: O(N) keeps the last column near 1 (or under it:
    the smallest N carries the fixed costs alone); O(N²) makes it grow like N."""
    baseline = routing["baseline"]
    lines = [
        "| routing one `departed` alert to N destinations (half configured, half recipients) "
        f"| plan ms | N lookups ms | total ms | µs per destination | / N={baseline} |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for size in routing["sizes"].values():
        lines.append(
            f"| {size['destinations']:,} | {size['plan_ms']:,.1f} | {size['lookups_ms']:,.1f} "
            f"| {size['total_ms']:,.1f} | {size['per_destination_us']:,.0f} "
            f"| {size['vs_baseline']:.2f} |"
        )
    lines += [
        "",
        "Each row: the median of its repetitions (at least 5 and 1 s of them, fewer once an N "
        "has taken 30 s), in the benchmark's own process: `NotificationActivities.plan` for one "
        "alert, then `destination` for each delivery, as each send looks it up.",
    ]
    return lines


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
        db_cell = f"{writes(db):.1f} / {db.get('COMMIT', 0):.1f}" if db else "-"
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
