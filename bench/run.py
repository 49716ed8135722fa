"""One benchmark run: the chosen phases against one Temporal dev server, then the tables.

The Temporal dev server runs as `flexhook dev` runs it (the `temporal` binary, SQLite file,
WAL, search attributes); bench/stack.py starts it and every other process. Each phase is a
module of bench/phases/ with a function `measure(stack, options)` that returns its part of the
results, and measures its own baseline in the same run; every figure is the median of
`options.runs`. bench/report.py turns the results into ratios and tables.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from importlib import metadata, util
from pathlib import Path
from typing import Any

from bench import report
from bench.options import Options
from bench.phases import (
    ceiling,
    cost,
    e2e,
    exceptions,
    export,
    metrics,
    reads,
    routing,
    sharing,
    spool,
    start,
    store,
    untold,
)
from bench.procs import Proc
from bench.stack import Stack

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Phase:
    """A phase's measurement, and whether it needs the Temporal dev server up."""

    measure: Callable[[Stack, Options], dict[str, Any]]
    temporal: bool = True


# Every phase, in the order a run takes them (the spool phase stops Temporal; the run starts
# it again for a later phase that needs it).
PHASES: dict[str, Phase] = {
    "ceiling": Phase(ceiling.measure),
    "start": Phase(start.measure),
    "e2e": Phase(e2e.measure),
    "cost": Phase(cost.measure),
    "store": Phase(store.measure),
    "metrics": Phase(metrics.measure, temporal=False),  # the web process alone
    "export": Phase(export.measure, temporal=False),  # the web process alone; not by default
    "sharing": Phase(sharing.measure, temporal=False),  # the web process alone; not by default
    "exceptions": Phase(exceptions.measure),  # an exception's actions over its life; not by default
    "reads": Phase(reads.measure, temporal=False),  # both databases, web alone; not by default
    "untold": Phase(untold.measure, temporal=False),  # in this process; not by default
    "spool": Phase(spool.measure),
    "routing": Phase(routing.measure, temporal=False),  # in this process
}


def run(options: Options, echo: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the benchmark, write the JSON and Markdown results, and return the results."""
    work = options.work_dir or Path(tempfile.mkdtemp(prefix="flexhook-bench-"))
    (work / "logs").mkdir(parents=True, exist_ok=True)
    os.chdir(ROOT)  # children import app, bench and workflows from the checkout
    stack = Stack(
        work,
        echo=echo,
        workers=options.workers,
        warmup=options.warmup,
        duration=options.duration,
        profiles=options.output.parent,
    )
    try:
        results = measure(stack, options)
    finally:
        Proc.stop_all()
        if not options.keep and options.work_dir is None:
            shutil.rmtree(work, ignore_errors=True)
    results["derived"] = report.derive(results)
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(json.dumps(results, indent=2) + "\n")
    table = report.markdown(results)
    options.output.with_suffix(".md").write_text(table + "\n")
    echo("")
    echo(table)
    echo(f"\nresults: {options.output} and {options.output.with_suffix('.md')}")
    return results


def measure(stack: Stack, options: Options) -> dict[str, Any]:
    """The chosen phases in the table's order, over `stack`: the results without ratios."""
    started = time.perf_counter()
    results: dict[str, Any] = {
        "machine": machine(),
        "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(options).items()},
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    stack.echo(f"work dir {stack.work}; logs in {stack.work / 'logs'}")
    took: dict[str, float] = {}
    for name, phase in PHASES.items():
        if name not in options.phases:
            continue
        began = time.perf_counter()
        if phase.temporal and stack.temporal is None:
            stack.start_temporal()
        results.update(phase.measure(stack, options))
        took[name] = round(time.perf_counter() - began, 1)
        stack.echo(f"  ({name}: {took[name]:.0f} s)")
    results["phase_seconds"] = took
    results["seconds"] = round(time.perf_counter() - started, 1)
    return results


def machine() -> dict[str, Any]:
    """The machine, its OS and the versions of what the figures depend on."""
    from app.dev.temporal_dev import temporal_binary

    temporal = subprocess.run(
        [temporal_binary(), "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return {
        "cpus": os.cpu_count(),
        "cpu_model": _proc_field("/proc/cpuinfo", "model name", ":") or "unknown",
        "memory_gib": round(_memory_bytes() / 2**30, 1),
        "os": _os_name(),
        "python": platform.python_version(),
        "temporal": temporal,
        "temporalio": metadata.version("temporalio"),
        "uvicorn": metadata.version("uvicorn"),
        "uvicorn_http": "httptools" if util.find_spec("httptools") else "h11",
        "uvicorn_loop": "uvloop" if util.find_spec("uvloop") else "asyncio",
    }


def _proc_field(path: str, key: str, separator: str) -> str | None:
    """The value of the first `key<separator>value` line of a file, or None."""
    with contextlib.suppress(OSError):
        for line in Path(path).read_text().splitlines():
            if line.startswith(key):
                return line.split(separator, 1)[1].strip()
    return None


def _memory_bytes() -> int:
    fields = (_proc_field("/proc/meminfo", "MemTotal:", ":") or "").split()  # ["24000000", "kB"]
    return int(fields[0]) * 1024 if fields and fields[0].isdigit() else 0


def _os_name() -> str:
    pretty = _proc_field("/etc/os-release", "PRETTY_NAME=", "=")
    if pretty is None:
        return platform.platform()
    return pretty.strip('"') + f" (Linux {platform.release()})"
