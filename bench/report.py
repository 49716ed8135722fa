"""Ratios against the same run's baselines, and the Markdown table of a run's results."""

from __future__ import annotations

from typing import Any

TARGETS = {
    "ack_vs_sdk": 0.95,  # at least
    "e2e_vs_noop": 0.8,  # at least
    "spool_vs_ceiling": 0.5,  # at least
    "store_growth": 1.2,  # at most: p99 with the large store / with the small one
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


def _verdict(value: float | None, target: float, *, at_most: bool = False) -> str:
    if value is None:
        return "-"
    met = value <= target if at_most else value >= target
    return f"**{value:.2f}** {'met' if met else 'missed'}"


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
        f"{results.get('seconds', 0):.0f} s.",
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
        e2e = results["e2e"]
        lines += [
            "",
            f"| end to end: {e2e['events']:,} events, posted at c={o['e2e_concurrency']}, "
            f"{e2e['workers']} worker process | events/s | target |",
            "|---|---|---|",
            f"| flexhook: posted → record updated | {e2e['flexhook']['rate']:.1f} | |",
            f"| no-op one-activity workflow, same payload | {e2e['noop']['rate']:.1f} | |",
            f"| flexhook / no-op | {_verdict(d.get('e2e_vs_noop'), TARGETS['e2e_vs_noop'])} "
            f"| ≥ {TARGETS['e2e_vs_noop']} |",
        ]
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
    return "\n".join(lines)
