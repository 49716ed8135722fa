"""What every phase records around a measurement: CPU per process, CPU per event, medians."""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Iterator
from typing import Any

from bench.procs import Proc, machine_busy_seconds, own_seconds


@contextlib.contextmanager
def cpu(procs: dict[str, Proc | None], into: dict[str, Any]) -> Iterator[None]:
    """Record each process's CPU use over the block in % of one core, and under `others`
    what the rest of the machine used (anything but this benchmark's processes)."""
    live = {name: proc for name, proc in procs.items() if proc is not None and proc.running()}
    everyone = list(Proc.everything)
    before = {name: proc.cpu_seconds() for name, proc in live.items()}
    before_all = {id(p): p.cpu_seconds() for p in everyone}
    machine_before, own_before = machine_busy_seconds(), own_seconds()
    started = time.perf_counter()
    yield
    elapsed = time.perf_counter() - started
    ours = (
        own_seconds()
        - own_before
        + sum(p.cpu_seconds() - before_all[id(p)] for p in everyone if p.running())
    )
    used = {name: proc.cpu_seconds() - before[name] for name, proc in live.items()}
    into["cpu_s"] = {name: round(seconds, 3) for name, seconds in used.items()}
    into["cpu_pct"] = {name: round(100 * seconds / elapsed) for name, seconds in used.items()}
    into["cpu_pct"]["others"] = max(
        0, round(100 * (machine_busy_seconds() - machine_before - ours) / elapsed)
    )


def per_event(result: dict[str, Any], *, events: int, groups: dict[str, list[Proc]]) -> None:
    """Add CPU milliseconds per event to a measurement: Temporal's, and each group's (the worker
    processes summed, say)."""
    used: dict[str, float] = result.get("cpu_s", {})
    if not events:
        return
    ms = {"temporal": 1000 * used["temporal"] / events} if "temporal" in used else {}
    ms.update(
        {
            group: 1000 * sum(used.get(p.name, 0.0) for p in procs) / events
            for group, procs in groups.items()
        }
    )
    result["cpu_ms_per_event"] = {name: round(value, 2) for name, value in ms.items()}


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The runs, and the median of each figure across them."""
    summary: dict[str, Any] = {"runs": runs}
    for key in ("rate", "p50_ms", "p99_ms"):
        values = [run[key] for run in runs if run.get(key) is not None]
        summary[key] = statistics.median(values) if values else None
    groups = {name for run in runs for name in run.get("cpu_ms_per_event", {})}
    if groups:
        summary["cpu_ms_per_event"] = {
            name: statistics.median(
                run["cpu_ms_per_event"][name] for run in runs if name in run["cpu_ms_per_event"]
            )
            for name in sorted(groups)
        }
    return summary
