"""The benchmark's options: one frozen value shared by the CLI (`bench/__main__.py`), the run
and every phase."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
# The phases `make bench` runs (bench/run.py's table holds every phase and their order).
DEFAULT_PHASES = ("ceiling", "start", "e2e", "cost", "store", "metrics", "spool", "routing")


@dataclass(frozen=True)
class Options:
    runs: int = 3
    duration: float = 6.0
    warmup: float = 1.0
    concurrencies: tuple[int, ...] = (1, 8, 32)
    e2e_events: int = 600
    e2e_concurrency: int = 8
    workers: int = 1
    cost_events: int = 200  # per kind in the cost phase
    worker_profile: bool = True  # one more e2e run under py-spy, when it is installed
    large_store_events: int = 1_000_000
    store_concurrency: int = 8
    routing_sizes: tuple[int, ...] = (1, 10, 100, 1000)  # destinations of one alert
    reads_requests: int = 30  # timed sequential requests per surface and store in `reads`
    phases: tuple[str, ...] = DEFAULT_PHASES
    work_dir: Path | None = None
    keep: bool = False
    profile: bool = False  # one more run of some cases with py-spy on the web process
    output: Path = HERE / "results" / "latest.json"


# What `--quick` changes.
QUICK: dict[str, Any] = {
    "runs": 1,
    "duration": 3.0,
    "e2e_events": 200,
    "cost_events": 60,
    "large_store_events": 50_000,
    "routing_sizes": (1, 10, 100),
}
