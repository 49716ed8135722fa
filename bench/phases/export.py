"""The `export` phase: `GET /api/events.csv` and `GET /api/shipments.csv` downloaded whole over
HTTP from a web process, with a small store (1,000 events, the baseline) and a large one
(`--large-store-events`, bench/store.py bulk-inserts them): rows, seconds, and the serving
process's memory. The export streams, so the web process's peak RSS during a download should be
the same whatever the rows (review: "memory must stay flat at 1M rows").

The peak is the kernel's high-water mark of the process's RSS (`VmHWM`), reset before each
download by writing 5 to `/proc/<pid>/clear_refs`; where that is refused, RSS sampled every
5 ms meanwhile stands in (`peak_source` says which).
"""

from __future__ import annotations

import statistics
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from bench.options import Options
from bench.phases.store import SMALL_STORE_SHIPMENTS, fill
from bench.procs import BenchError
from bench.stack import Stack
from bench.store import EVENTS_PER_SHIPMENT

FILES = ("events", "shipments")
MIB = 2**20


def measure(stack: Stack, options: Options) -> dict[str, Any]:
    """`export`: per size, what was stored and each file's download (medians of the runs)."""
    small = SMALL_STORE_SHIPMENTS * EVENTS_PER_SHIPMENT
    sizes = [small] + ([options.large_store_events] if options.large_store_events > small else [])
    stack.echo(f"export: GET /api/events.csv and /api/shipments.csv with {sizes} stored events")
    stores = {events: fill(stack, f"export-{events}", events) for events in sizes}
    webs = {
        events: stack.start_web(f"export-{events}", queue="bench-export", database=database)
        for events, (database, _) in stores.items()
    }
    for _, port in webs.values():  # the first request of a process pays for its imports
        for name in FILES:
            download(0, port, f"/api/{name}.csv?limit=1", token=stack.token)
    runs: dict[int, dict[str, list[dict[str, Any]]]] = {e: {f: [] for f in FILES} for e in sizes}
    try:
        for run in range(options.runs):
            for events, (web, port) in webs.items():
                for name in FILES:
                    result = download(web.pid, port, f"/api/{name}.csv", token=stack.token)
                    runs[events][name].append(result)
                    stack.echo(f"  run {run + 1}, {events:,} events: {name}.csv {brief(result)}")
    finally:
        for web, _ in webs.values():
            web.stop()
    measured = {
        str(events): {
            **stores[events][1],
            "files": {name: _median(runs[events][name]) for name in FILES},
        }
        for events in sizes
    }
    if len(sizes) == 2:
        small_one = measured[str(sizes[0])]["files"]
        large_one = measured[str(sizes[1])]["files"]
        for name in FILES:
            peak = large_one[name]["peak_rss_mib"] / small_one[name]["peak_rss_mib"]
            took = large_one[name]["seconds"] / small_one[name]["seconds"]
            stack.echo(
                f"  {name}.csv, large / small: peak RSS x{peak:.2f}, rows "
                f"x{large_one[name]['rows'] / max(1, small_one[name]['rows']):,.0f}, "
                f"time x{took:,.0f}"
            )
    return {"export": {"sizes": measured}}


def brief(result: dict[str, Any]) -> str:
    return (
        f"{result['rows']:,.0f} rows, {result['bytes'] / MIB:.1f} MiB in {result['seconds']:.2f} s "
        f"({result['rows_per_s']:,.0f} rows/s); RSS {result['rss_before_mib']:.1f} MiB before, "
        f"peak {result['peak_rss_mib']:.1f} MiB ({result['peak_source']})"
    )


def _median(results: list[dict[str, Any]]) -> dict[str, Any]:
    numbers = {
        k: statistics.median(r[k] for r in results)
        for k, v in results[0].items()
        if isinstance(v, int | float)
    }
    return numbers | {"peak_source": results[0]["peak_source"], "runs": len(results)}


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise BenchError(f"/proc/{pid}/status has no {field}")


class _Sampler(threading.Thread):
    """The highest VmRSS seen every 5 ms until stopped."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak_kib, self.done = pid, 0, threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.005):
            self.peak_kib = max(self.peak_kib, _status_kib(self.pid, "VmRSS"))


def _reset_peak(pid: int) -> bool:
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def download(pid: int, port: int, path: str, *, token: str) -> dict[str, Any]:
    """One whole download of `path`, read as it comes: rows, bytes, seconds, and the web
    process `pid`'s RSS before and at its peak meanwhile (pid 0: not measured)."""
    if not pid:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=600) as client:
            client.get(path, headers={"authorization": f"Bearer {token}"}).raise_for_status()
        return {}
    before = _status_kib(pid, "VmRSS")
    reset = _reset_peak(pid)
    sampler = _Sampler(pid)
    sampler.start()
    lines = size = 0
    # Made before the clock starts: a client's SSL context alone costs tens of milliseconds.
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=600, verify=False)
    began = time.perf_counter()
    try:
        with client.stream("GET", path, headers={"authorization": f"Bearer {token}"}) as answer:
            if answer.status_code != 200:
                raise BenchError(f"GET {path}: {answer.status_code}")
            for chunk in answer.iter_raw():
                lines += chunk.count(b"\n")  # a chunk may end between CR and LF
                size += len(chunk)
    finally:
        seconds = time.perf_counter() - began
        client.close()
        sampler.done.set()
        sampler.join()
    peak = _status_kib(pid, "VmHWM") if reset else sampler.peak_kib
    rows = lines - 1  # the header
    return {
        "rows": rows,
        "bytes": size,
        "seconds": round(seconds, 3),
        "rows_per_s": round(rows / seconds) if seconds else 0,
        "rss_before_mib": round(before / 1024, 1),
        "peak_rss_mib": round(max(peak, before) / 1024, 1),
        "growth_mib": round((max(peak, before) - before) / 1024, 1),
        "peak_source": "VmHWM" if reset else "sampled VmRSS",
    }
