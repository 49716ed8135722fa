"""One benchmark run: every measurement against one Temporal dev server, then a table.

The Temporal dev server runs as `flexhook dev` runs it (the `temporal` binary, SQLite file,
WAL, search attributes). flexhook's web process and workers are started with `flexhook web` and
`flexhook worker`, the bare ceiling app with the same uvicorn call; HTTP load comes from
bench/http_load.py and SDK load from bench/load.py, each in its own process. Every figure is
the median of `runs`.

The `cost` phase counts what one event asks of Temporal (billable actions from the dev server's
`action` counter, history events), of the database (bench/counted_worker.py) and of the worker's
CPU, for an event that alerts nobody and one that alerts one destination (a local json:// sink,
bench/sink.py), next to the no-op workflow; bench/report.py scales those into the sizing table.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import itertools
import json
import os
import platform
import secrets
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from importlib import metadata, util
from pathlib import Path
from typing import Any, TypeVar

from temporalio.client import Client

from app.core.ids import event_workflow_id
from bench import counted_worker, payloads, profile, report, store, temporal_stats
from bench.procs import (
    BenchError,
    Proc,
    free_port,
    http_ok,
    machine_busy_seconds,
    own_seconds,
    port_open,
    wait_until,
)

T = TypeVar("T")
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PHASES = ("ceiling", "start", "e2e", "cost", "store", "spool")
SMALL_STORE_SHIPMENTS = 40  # 1,000 events
PROFILE_RATE = 200  # py-spy samples per second
WORKER_PROFILE_RATE = 500  # the worker holds the GIL a third of the time: more samples
# The cost phase's two kinds of event, both full Flexport-format bodies of ~13 KB, each on a
# shipment of its own: a booking that alerts nobody, and a departure that alerts one destination.
COST_KINDS = {"no_alert": "01_shipment_created", "one_alert": "06_leg_departed"}
ALERT_KINDS = "departed, arrived, delivered, eta, customs, exception"


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
    phases: tuple[str, ...] = PHASES
    work_dir: Path | None = None
    keep: bool = False
    profile: bool = False  # one more run of some cases with py-spy on the web process
    output: Path = HERE / "results" / "latest.json"


QUICK: dict[str, Any] = {
    "runs": 1,
    "duration": 3.0,
    "e2e_events": 200,
    "cost_events": 60,
    "large_store_events": 50_000,
}


@dataclass(frozen=True)
class CostBatch:
    """What the cost phase's measurements share: its processes and where to read counts."""

    port: int  # the web process
    sink_port: int
    counts: list[Path]  # the counting workers' files
    watched: dict[str, Proc | None]  # CPU recorded for each
    groups: dict[str, list[Proc]]  # CPU per event summed per group


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


class Bench:
    def __init__(self, options: Options, work: Path, echo: Callable[[str], None]) -> None:
        self.o = options
        self.work = work
        self.echo = echo
        self.secret = secrets.token_urlsafe(24)
        self.token = secrets.token_urlsafe(24)
        self.run_id = f"b{int(time.time()):x}"
        self.temporal_port = free_port()
        self.temporal_address = f"127.0.0.1:{self.temporal_port}"
        self.temporal: Proc | None = None
        self.metrics_url = ""
        # The last settled scrape of the action counter, while nothing has run since.
        self.actions_now: dict[str, float] | None = None
        self.files = itertools.count()
        self.tags = itertools.count()
        # Expected rates, to size the files of unique requests (a little over is cheap).
        self.rate_hint: dict[str, float] = {}
        self.results: dict[str, Any] = {}

    # -- plumbing ---------------------------------------------------------------------------------

    def log(self, name: str) -> Path:
        return self.work / "logs" / f"{name}.log"

    def tag(self, what: str) -> str:
        return f"{self.run_id}-{what}-{next(self.tags)}"

    def python(self, *args: str) -> list[str]:
        return [sys.executable, *args]

    def flexhook_env(self, *, name: str, queue: str, database: Path) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("FLEXHOOK_", "FLEXPORT_", "TEMPORAL_")) and k != "DATABASE_URL"
        }
        env.update(
            FLEXPORT_WEBHOOK_SECRET=self.secret,
            FLEXHOOK_API_TOKEN=self.token,
            TEMPORAL_ADDRESS=self.temporal_address,
            FLEXHOOK_TASK_QUEUE=queue,
            DATABASE_URL=f"sqlite:///{database}",
            FLEXHOOK_DATA_DIR=str(self.work / f"data-{name}"),
            PYTHONUNBUFFERED="1",
        )
        return env

    def prepare_database(self, database: Path) -> None:
        """Create the schema the way the app does (migrations when it has them)."""
        from app.store import db

        engine = db.create_db_engine(f"sqlite:///{database}")
        try:
            upgrade = getattr(db, "upgrade", None) or db.init_schema  # type: ignore[attr-defined]
            upgrade(engine)
        finally:
            engine.dispose()

    def start_temporal(self) -> Proc:
        from app.dev.temporal_dev import dev_server_argv, temporal_binary

        argv = dev_server_argv(
            temporal_binary(),
            host="127.0.0.1",
            port=self.temporal_port,
            ui_port=free_port(),
            db_file=self.work / "temporal.db",
        )
        # Its Prometheus endpoint: the `action` counter (billable actions) for the cost phase.
        metrics_port = free_port()
        argv += ["--metrics-port", str(metrics_port)]
        self.metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
        proc = Proc("temporal", argv, env=dict(os.environ), log=self.log("temporal")).start()
        wait_until("Temporal", lambda: port_open(self.temporal_port), proc=proc)
        wait_until("Temporal's metrics", lambda: port_open(metrics_port), proc=proc)
        # The port opens before the namespace answers; wait for a real call.
        wait_until("Temporal's namespace", lambda: self.pollers("_ready") >= 0, proc=proc)
        self.temporal = proc
        return proc

    def pollers(self, queue: str) -> int:
        """Pollers of a workflow task queue, or -1 when Temporal does not answer."""

        async def describe() -> int:
            from temporalio.api.enums.v1 import TaskQueueType
            from temporalio.api.taskqueue.v1 import TaskQueue
            from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
            from temporalio.client import Client

            client = await Client.connect(self.temporal_address)
            response = await client.workflow_service.describe_task_queue(
                DescribeTaskQueueRequest(
                    namespace="default",
                    task_queue=TaskQueue(name=queue),
                    task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
                )
            )
            return len(response.pollers)

        try:
            return asyncio.run(describe())
        except Exception:
            return -1

    def start_web(self, name: str, *, queue: str, database: Path) -> tuple[Proc, int]:
        port = free_port()
        proc = Proc(
            f"web-{name}",
            self.python("-m", "app.cli", "web", "--host", "127.0.0.1", "--port", str(port)),
            env=self.flexhook_env(name=name, queue=queue, database=database),
            log=self.log(f"web-{name}"),
        ).start()
        wait_until(f"flexhook web ({name})", lambda: http_ok(port), proc=proc)
        return proc, port

    def start_workers(
        self,
        name: str,
        *,
        queue: str,
        database: Path,
        notify_config: Path | None = None,
        counts: list[Path] | None = None,
    ) -> list[Proc]:
        """`flexhook worker` processes; with `counts`, each under bench/counted_worker.py, which
        writes its database statement counts to its file."""
        env = self.flexhook_env(name=name, queue=queue, database=database)
        if notify_config is not None:
            env["FLEXHOOK_NOTIFY_CONFIG"] = str(notify_config)
        procs = [
            Proc(
                f"worker-{name}-{i}",
                self.python("-m", "bench.counted_worker", "--counts", str(counts[i]))
                if counts
                else self.python("-m", "app.cli", "worker"),
                env=env,
                log=self.log(f"worker-{name}-{i}"),
            ).start()
            for i in range(self.o.workers)
        ]
        for proc in procs:
            wait_until(f"{proc.name} polling", lambda: self.pollers(queue) >= 1, proc=proc)
        return procs

    def start_noop_workers(self, *, queue: str) -> list[Proc]:
        procs = [
            Proc(
                f"worker-noop-{i}",
                self.python(
                    "-m", "bench.noop", "--address", self.temporal_address, "--task-queue", queue
                ),
                env=dict(os.environ),
                log=self.log(f"worker-noop-{i}"),
            ).start()
            for i in range(self.o.workers)
        ]
        for proc in procs:
            wait_until(f"{proc.name} polling", lambda: self.pollers(queue) >= 1, proc=proc)
        return procs

    @contextlib.contextmanager
    def cpu(self, procs: dict[str, Proc | None], into: dict[str, Any]) -> Iterator[None]:
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

    @staticmethod
    def py_spy() -> str | None:
        """py-spy: on PATH, beside this Python (the virtualenv's bin/), or PY_SPY."""
        beside = Path(sys.executable).parent / "py-spy"
        return (
            os.environ.get("PY_SPY")
            or shutil.which("py-spy")
            or (str(beside) if beside.exists() else None)
        )

    @contextlib.contextmanager
    def profiled(
        self,
        name: str,
        proc: Proc,
        *,
        seconds: float | None = None,
        rate: int = PROFILE_RATE,
        areas: tuple[tuple[str, str], ...] = (),
    ) -> Iterator[dict[str, Any]]:
        """Sample `proc` with py-spy over the block (`seconds`, default warm-up + duration): every
        busy thread (lock waits included) into <results>/profile-<name>.txt, the thread holding
        the GIL into ...-gil.txt. Yields a dict that gets the paths and summaries."""
        spy = self.py_spy()
        if not spy:
            raise BenchError("--profile needs py-spy on PATH (or PY_SPY=/path/to/py-spy)")
        seconds = self.o.warmup + self.o.duration + 1 if seconds is None else seconds
        outs = {
            "threads": self.o.output.parent / f"profile-{name}.txt",
            "gil": self.o.output.parent / f"profile-{name}-gil.txt",
        }
        outs["gil"].parent.mkdir(parents=True, exist_ok=True)
        samplers = [
            Proc(
                "py-spy",
                [
                    *(spy, "record", "--pid", str(proc.pid), "--rate", str(rate)),
                    *("--format", "raw", "--nonblocking", "--output", str(out)),
                    *("--duration", str(round(seconds))),
                    *(["--gil"] if kind == "gil" else []),
                ],
                env=dict(os.environ),
                log=self.log("py-spy"),
            ).start()
            for kind, out in outs.items()
        ]
        time.sleep(0.5)
        found: dict[str, Any] = {"seconds": round(seconds)}
        yield found
        for sampler in samplers:
            if not sampler.wait(timeout=60 + seconds):
                raise BenchError(f"py-spy did not finish within 60 s; see {self.log('py-spy')}")
            sampler.stop()
        for kind, out in outs.items():
            self.echo(f"  profile of {proc.name} ({kind}): {out}")
            text = profile.summary(out, seconds=seconds, rate=rate, areas=areas)
            self.echo(text)
            samples = profile.load(out)[-1]
            found[kind] = {
                "path": str(out),
                "summary": text,
                "samples": samples,
                "sampled_pct": round(100 * samples / (seconds * rate), 1),
            }

    # -- load generators --------------------------------------------------------------------------

    def request_file(self, requests: Iterator[bytes], count: int) -> Path:
        path = self.work / "requests" / f"r{next(self.files)}.bin"
        path.parent.mkdir(exist_ok=True)
        payloads.write_requests(path, requests, count)
        return path

    def post_file(self, port: int, *, tag: str, count: int) -> Path:
        host = f"127.0.0.1:{port}"
        deliveries = payloads.deliveries(tag, secret=self.secret)
        return self.request_file((payloads.post_request(d, host=host) for d in deliveries), count)

    def get_file(self, port: int) -> Path:
        host = f"127.0.0.1:{port}"
        gets = [
            payloads.get_request(
                f"/api/shipments/{store.shipment_id(k)}", host=host, token=self.token
            )
            for k in range(SMALL_STORE_SHIPMENTS)
        ]
        return self.request_file(iter(gets), len(gets))

    def start_http(
        self,
        port: int,
        requests: Path,
        *,
        mode: str,
        concurrency: int,
        duration: float,
        warmup: float,
    ) -> Proc:
        argv = self.python(
            *("-m", "bench.http_load", "--port", str(port), "--requests", str(requests)),
            *("--mode", mode, "--concurrency", str(concurrency)),
            *("--duration", str(duration), "--warmup", str(warmup)),
        )
        return Proc("http-load", argv, env=dict(os.environ), log=self.log("http-load")).start(
            capture_stdout=True
        )

    def finish_http(self, proc: Proc, requests: Path, *, timeout: float) -> dict[str, Any]:
        try:
            out = proc.output(timeout=timeout)
        finally:
            proc.stop()
            requests.unlink(missing_ok=True)
        lines = out.decode("utf-8", errors="replace").strip().splitlines()
        if not lines:
            raise BenchError(f"bench.http_load printed nothing; see {self.log('http-load')}")
        result: dict[str, Any] = json.loads(lines[-1])
        return result

    def http(
        self,
        port: int,
        requests: Path,
        *,
        mode: str,
        concurrency: int,
        duration: float | None = None,
        warmup: float | None = None,
    ) -> dict[str, Any]:
        """Run the HTTP load generator: `warmup` seconds unrecorded, then `duration` recorded."""
        duration = self.o.duration if duration is None else duration
        warmup = self.o.warmup if warmup is None else warmup
        proc = self.start_http(
            port, requests, mode=mode, concurrency=concurrency, duration=duration, warmup=warmup
        )
        return self.finish_http(proc, requests, timeout=warmup + duration + 120)

    def posts(
        self, key: str, port: int, concurrency: int, *, warm_only: bool = False
    ) -> dict[str, Any]:
        """Post unique signed events: warm-up, then the measured duration (or a warm-up only)."""
        hint = self.rate_hint.get(key, 500.0)
        seconds = self.o.warmup if warm_only else self.o.warmup + self.o.duration
        file = self.post_file(port, tag=self.tag(key), count=int(hint * seconds * 1.5) + 200)
        if warm_only:
            return self.http(
                port, file, mode="unique", concurrency=concurrency, duration=self.o.warmup, warmup=0
            )
        result = self.http(port, file, mode="unique", concurrency=concurrency)
        self.rate_hint[key] = max(hint if result["wrapped"] else 0.0, result["rate"]) * 1.3
        if result["wrapped"]:
            self.echo(f"    note: {key} ran out of unique events (some were duplicates)")
        return result

    def sdk(self, mode: str, *, queue: str, **params: Any) -> dict[str, Any]:
        argv = self.python(
            *("-m", "bench.load", mode, "--address", self.temporal_address),
            *("--task-queue", queue, "--secret", self.secret),
        )
        for name, value in params.items():
            argv += [f"--{name.replace('_', '-')}", str(value)]
        proc = Proc(f"load-{mode}", argv, env=dict(os.environ), log=self.log("load")).start(
            capture_stdout=True
        )
        try:
            out = proc.output(timeout=self.o.duration + self.o.warmup + 900)
        finally:
            proc.stop()
        lines = out.decode("utf-8").strip().splitlines()
        if not lines:
            raise BenchError(f"bench.load {mode} printed nothing; see {self.log('load')}")
        result: dict[str, Any] = json.loads(lines[-1])
        return result

    def database(self, name: str) -> Path:
        path = self.work / f"{name}.db"
        self.prepare_database(path)
        return path

    # -- phases -----------------------------------------------------------------------------------

    def phase_ceiling(self) -> None:
        self.echo("ceiling: bare Starlette endpoint that only verifies the HMAC")
        port = free_port()
        env = {**os.environ, "FLEXPORT_WEBHOOK_SECRET": self.secret}
        proc = Proc(
            "ceiling",
            self.python("-m", "bench.ceiling", "--port", str(port)),
            env=env,
            log=self.log("ceiling"),
        ).start()
        runs: dict[int, list[dict[str, Any]]] = {c: [] for c in self.o.concurrencies}
        try:
            wait_until("the ceiling app", lambda: http_ok(port), proc=proc)
            for run in range(self.o.runs):
                for c in self.o.concurrencies:
                    # It only verifies: the same signed deliveries can repeat.
                    file = self.post_file(port, tag=self.tag("ceil"), count=2000)
                    result: dict[str, Any] = {}
                    with self.cpu({"ceiling": proc}, result):
                        result.update(self.http(port, file, mode="cycle", concurrency=c))
                    runs[c].append(result)
                    self.echo(f"  run {run + 1} c={c}: {report.brief(result)}")
        finally:
            proc.stop()
        self.results["ceiling"] = {str(c): summarize(r) for c, r in runs.items()}

    def phase_start(self) -> None:
        self.echo("start: raw SDK start_workflow and flexhook's ack, interleaved")
        web, port = self.start_web("ack", queue="bench-ack", database=self.database("ack"))
        sdk_runs: dict[int, list[dict[str, Any]]] = {c: [] for c in self.o.concurrencies}
        ack_runs: dict[int, list[dict[str, Any]]] = {c: [] for c in self.o.concurrencies}
        try:
            self.posts("ack-8", port, 8, warm_only=True)  # the first requests connect to Temporal
            for run in range(self.o.runs):
                for c in self.o.concurrencies:
                    sdk: dict[str, Any] = {}
                    with self.cpu({"temporal": self.temporal}, sdk):
                        sdk.update(
                            self.sdk(
                                "start",
                                queue="bench-sdk",
                                tag=self.tag("sdk"),
                                concurrency=c,
                                duration=self.o.duration,
                                warmup=self.o.warmup,
                            )
                        )
                    sdk_runs[c].append(sdk)
                    self.echo(f"  run {run + 1} c={c} raw SDK: {report.brief(sdk)}")
                    ack: dict[str, Any] = {}
                    with self.cpu({"temporal": self.temporal, "web": web}, ack):
                        ack.update(self.posts(f"ack-{c}", port, c))
                    ack_runs[c].append(ack)
                    self.echo(f"  run {run + 1} c={c} flexhook ack: {report.brief(ack)}")
            if self.o.profile:
                with self.profiled("ack", web):
                    self.posts("ack-8", port, 8)
        finally:
            web.stop()
        self.results["sdk_start"] = {str(c): summarize(r) for c, r in sdk_runs.items()}
        self.results["ack"] = {str(c): summarize(r) for c, r in ack_runs.items()}

    def phase_e2e(self) -> None:
        self.echo(
            f"e2e: {self.o.e2e_events} events posted -> records updated, and as many no-op "
            f"one-activity workflows ({self.o.workers} worker process(es) each)"
        )
        database = self.database("e2e")
        web, port = self.start_web("e2e", queue="bench-e2e", database=database)
        procs: list[Proc] = [web]
        flexhook_runs: list[dict[str, Any]] = []
        noop_runs: list[dict[str, Any]] = []
        worker_profile: dict[str, Any] | None = None
        try:
            workers = self.start_workers("e2e", queue="bench-e2e", database=database)
            noop_workers = self.start_noop_workers(queue="bench-noop")
            procs += workers + noop_workers
            watched = {"temporal": self.temporal, **{p.name: p for p in procs}}
            warm = max(50, self.o.e2e_events // 10)
            self.e2e_flexhook(port, database, warm)
            self.e2e_noop(warm)
            for run in range(self.o.runs):
                result: dict[str, Any] = {}
                with self.cpu(watched, result):
                    result.update(self.e2e_flexhook(port, database, self.o.e2e_events))
                per_event(
                    result, events=result["processed"], groups={"worker": workers, "web": [web]}
                )
                flexhook_runs.append(result)
                self.echo(f"  run {run + 1} flexhook events: {report.brief(result)}")
                result = {}
                with self.cpu(watched, result):
                    result.update(self.e2e_noop(self.o.e2e_events))
                per_event(result, events=result["completed"], groups={"worker": noop_workers})
                noop_runs.append(result)
                self.echo(f"  run {run + 1} no-op workflows: {report.brief(result)}")
            if self.o.worker_profile:
                rate = statistics.median(r["rate"] for r in flexhook_runs)
                worker_profile = self.profile_worker(port, database, workers[0], rate)
        finally:
            for proc in reversed(procs):
                proc.stop()
        self.results["e2e"] = {
            "events": self.o.e2e_events,
            "workers": self.o.workers,
            "flexhook": summarize(flexhook_runs),
            "noop": summarize(noop_runs),
        }
        if worker_profile is not None:
            self.results["worker_profile"] = worker_profile

    def profile_worker(
        self, port: int, database: Path, worker: Proc, rate: float
    ) -> dict[str, Any] | None:
        """One more e2e run (not counted) with py-spy on the worker: where its CPU goes."""
        if not self.py_spy():
            self.echo("  no worker profile: py-spy is not installed (pip install py-spy)")
            return None
        seconds = max(4.0, self.o.duration)
        count = max(100, int(rate * (seconds + 3)))  # load outlasts the sampling
        self.echo(f"  profiling {worker.name} with py-spy over {count} more events ({seconds:g} s)")
        cpu: dict[str, Any] = {}
        with (
            self.profiled(
                "worker",
                worker,
                seconds=seconds,
                rate=WORKER_PROFILE_RATE,
                areas=profile.WORKER_AREAS,
            ) as found,
            self.cpu({worker.name: worker}, cpu),
        ):
            run = self.e2e_flexhook(port, database, count)
        found["worker_cpu_pct"] = cpu["cpu_pct"].get(worker.name)
        found["events"] = run["processed"]
        return found

    def e2e_flexhook(self, port: int, database: Path, count: int) -> dict[str, Any]:
        """Post `count` new events, then wait until the log says each was processed."""
        tag = self.tag("e2e")
        file = self.post_file(port, tag=tag, count=count)
        started = time.perf_counter()
        poster: Proc | None = self.start_http(
            port, file, mode="once", concurrency=self.o.e2e_concurrency, duration=0, warmup=0
        )
        posted: dict[str, Any] = {}
        expected, done, progress_at = count, -1, started
        statuses: dict[str, int] = {}
        connection = sqlite3.connect(database, timeout=30)
        try:
            while done < expected:
                if poster is not None and not poster.running():
                    posted = self.finish_http(poster, file, timeout=10)
                    poster = None
                    expected = posted["accepted"]  # what Temporal took is what must complete
                rows = connection.execute(
                    "SELECT status, count(*) FROM event WHERE event_id > ? AND event_id < ? "
                    "GROUP BY status",
                    (f"{tag}-", f"{tag}-~"),
                ).fetchall()
                statuses = {status: int(n) for status, n in rows}
                now = time.perf_counter()
                finished = sum(statuses.get(s, 0) for s in ("processed", "ignored", "failed"))
                if finished > done:
                    done, progress_at = finished, now
                elif now - progress_at > 120:
                    raise BenchError(f"e2e stalled at {done} of {expected} events: {statuses}")
                time.sleep(0.05)
            finished_at = time.perf_counter()
        finally:
            connection.close()
            if poster is not None:
                poster.stop()
                file.unlink(missing_ok=True)
        processed = statuses.get("processed", 0) + statuses.get("ignored", 0)
        return {
            "count": count,
            "processed": processed,
            "statuses": statuses,
            "seconds": round(finished_at - started, 2),
            "rate": processed / (finished_at - started),
            "post_rate": posted.get("rate"),
            "posted": {k: posted.get(k) for k in ("accepted", "duplicate", "errors")},
        }

    def e2e_noop(self, count: int) -> dict[str, Any]:
        return self.sdk(
            "noop",
            queue="bench-noop",
            tag=self.tag("noop"),
            count=count,
            concurrency=self.o.e2e_concurrency,
        )

    # -- cost: what one event asks of Temporal, the database and the worker ------------------------

    def temporal_call(self, call: Callable[[Client], Awaitable[T]]) -> T:
        async def go() -> T:
            return await call(await Client.connect(self.temporal_address))

        return asyncio.run(go())

    def phase_cost(self) -> None:
        n = self.o.cost_events
        self.echo(
            f"cost: Temporal actions, history events, database work and CPU per event: {n} "
            f"events of each kind ({', '.join(COST_KINDS.values())}) and {n} no-op workflows "
            "with the same body; alerts go to a local json:// sink"
        )
        sink_port = free_port()
        sink = Proc(
            "sink",
            self.python("-m", "bench.sink", "--port", str(sink_port)),
            env=dict(os.environ),
            log=self.log("sink"),
        ).start()
        procs: list[Proc] = [sink]
        kinds: dict[str, dict[str, Any]] = {}
        try:
            wait_until("the alert sink", lambda: http_ok(sink_port, "/count"), proc=sink)
            config = self.work / "notify-cost.yml"
            config.write_text(
                f'urls:\n  - "json://127.0.0.1:{sink_port}/alerts":\n      tag: {ALERT_KINDS}\n'
            )
            database = self.database("cost")
            web, port = self.start_web("cost", queue="bench-cost", database=database)
            procs.append(web)
            counts = [self.work / f"db-counts-{i}.json" for i in range(self.o.workers)]
            workers = self.start_workers(
                "cost", queue="bench-cost", database=database, notify_config=config, counts=counts
            )
            noop_workers = self.start_noop_workers(queue="bench-cost-noop")
            procs += workers + noop_workers
            batch = CostBatch(
                port=port,
                sink_port=sink_port,
                counts=counts,
                watched={
                    "temporal": self.temporal,
                    "web": web,
                    "sink": sink,
                    **{p.name: p for p in workers + noop_workers},
                },
                groups={"worker": workers, "web": [web]},
            )
            shipments = itertools.count(5_000_000, 100_000)  # a fresh shipment for every event
            for sample in COST_KINDS.values():  # warm-up, not counted
                self.cost_post(batch, sample, count=10, first_shipment=next(shipments))
            self.sdk("noop", queue="bench-cost-noop", tag=self.tag("noop"), count=10)
            self.actions_now = None  # the first measurement settles the counter itself
            for name, sample in COST_KINDS.items():
                kinds[name] = self.cost_flexhook(
                    batch, sample, count=n, first_shipment=next(shipments)
                )
                self.echo(f"  {name} ({sample}): {report.brief_cost(kinds[name])}")
            kinds["noop"] = self.cost_noop(batch, count=n, noop_workers=noop_workers)
            self.echo(f"  no-op one-activity workflow: {report.brief_cost(kinds['noop'])}")
        finally:
            for proc in reversed(procs):
                proc.stop()
        self.results["cost"] = {
            "events": n,
            "samples": {**COST_KINDS, "noop": COST_KINDS["no_alert"]},
            "destinations": {"no_alert": 0, "one_alert": 1},
            "kinds": kinds,
        }

    def sink_count(self, port: int) -> int:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            connection.request("GET", "/count")
            return int(json.loads(connection.getresponse().read())["received"])
        finally:
            connection.close()

    def cost_post(
        self, batch: CostBatch, sample: str, *, count: int, first_shipment: int
    ) -> tuple[temporal_stats.Batch, dict[str, Any], dict[str, int]]:
        """Post `count` events of `sample` (each on its own shipment) over the web process and
        wait until Temporal says their workflows closed: the workflows, the post, their states."""
        tag = self.tag("cost")
        host = f"127.0.0.1:{batch.port}"
        deliveries = payloads.one_kind(
            sample, tag, secret=self.secret, first_shipment=first_shipment
        )
        file = self.request_file((payloads.post_request(d, host=host) for d in deliveries), count)
        workflows = temporal_stats.Batch(event_workflow_id(f"{tag}-"))
        posted = self.http(
            batch.port, file, mode="once", concurrency=self.o.e2e_concurrency, warmup=0
        )
        statuses = self.temporal_call(
            lambda client: temporal_stats.wait_closed(
                client, workflows, expected=posted["accepted"]
            )
        )
        return workflows, posted, statuses

    def cost_flexhook(
        self, batch: CostBatch, sample: str, *, count: int, first_shipment: int
    ) -> dict[str, Any]:
        """What `count` events of `sample` cost, per event: Temporal's actions (the counter's
        difference) and history, the alerts the sink received, database work, CPU."""
        actions_before = self.actions_now or temporal_stats.settled_actions(self.metrics_url)
        db_before = counted_worker.total(batch.counts)
        sink_before = self.sink_count(batch.sink_port)
        result: dict[str, Any] = {"sample": sample}
        with self.cpu(batch.watched, result):
            started = time.perf_counter()
            workflows, posted, statuses = self.cost_post(
                batch, sample, count=count, first_shipment=first_shipment
            )
            seconds = time.perf_counter() - started
        result["posted"] = {k: posted.get(k) for k in ("accepted", "duplicate", "errors")}
        completed = statuses.get("completed", 0)
        if completed < count:
            self.echo(f"    note: {completed} of {count} workflows completed: {statuses}")
        self.actions_now = temporal_stats.settled_actions(self.metrics_url)
        actions = temporal_stats.difference(actions_before, self.actions_now)
        db = counted_worker.difference(db_before, counted_worker.total(batch.counts))
        sent = self.sink_count(batch.sink_port) - sink_before
        result.update(self.cost_figures(workflows, statuses, seconds, actions))
        result["alerts_sent"] = sent
        if completed:
            result["alerts_per_event"] = sent / completed
            result["db_per_event"] = {k: v / completed for k, v in db.items()}
        per_event(result, events=completed, groups=batch.groups)
        return result

    def cost_noop(
        self, batch: CostBatch, *, count: int, noop_workers: list[Proc]
    ) -> dict[str, Any]:
        """`count` no-op one-activity workflows carrying the no-alert sample's body."""
        tag = self.tag("noop")
        workflows = temporal_stats.Batch(f"noop-{tag}-")
        before = self.actions_now or temporal_stats.settled_actions(self.metrics_url)
        result: dict[str, Any] = {"sample": COST_KINDS["no_alert"]}
        with self.cpu(batch.watched, result):
            started = time.perf_counter()
            self.sdk(
                "noop",
                queue="bench-cost-noop",
                tag=tag,
                count=count,
                concurrency=self.o.e2e_concurrency,
                sample=COST_KINDS["no_alert"],
            )
            statuses = self.temporal_call(
                lambda client: temporal_stats.wait_closed(client, workflows, expected=count)
            )
            seconds = time.perf_counter() - started
        self.actions_now = temporal_stats.settled_actions(self.metrics_url)
        actions = temporal_stats.difference(before, self.actions_now)
        result.update(self.cost_figures(workflows, statuses, seconds, actions))
        per_event(result, events=statuses.get("completed", 0), groups={"worker": noop_workers})
        return result

    def cost_figures(
        self,
        workflows: temporal_stats.Batch,
        statuses: dict[str, int],
        seconds: float,
        actions: dict[str, float],
    ) -> dict[str, Any]:
        completed = statuses.get("completed", 0)
        history = self.temporal_call(
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

    def phase_store(self) -> None:
        small = SMALL_STORE_SHIPMENTS * store.EVENTS_PER_SHIPMENT
        sizes = [small] + ([self.o.large_store_events] if self.o.large_store_events > small else [])
        self.echo(f"store: ack p99 and GET /api/shipments/{{id}} p99 with {sizes} stored events")
        c = self.o.store_concurrency
        # One database and web process per size, measured in turn, so both see the same
        # Temporal (whose history grows) and the same neighbours on the machine.
        stores: dict[int, dict[str, Any]] = {}
        webs: list[Proc] = []
        try:
            for events in sizes:
                database = self.database(f"store-{events}")
                began = time.perf_counter()
                # The same first shipments in every store: those are the ones read back.
                store.seed(
                    database,
                    first_shipment=0,
                    shipments=SMALL_STORE_SHIPMENTS,
                    window=SMALL_STORE_SHIPMENTS,
                )
                rest = events // store.EVENTS_PER_SHIPMENT - SMALL_STORE_SHIPMENTS
                if rest > 0:
                    store.seed(database, first_shipment=SMALL_STORE_SHIPMENTS, shipments=rest)
                seeded = time.perf_counter() - began
                stored = store.count_events(database)
                self.echo(f"  {stored:,} events stored ({seeded:.1f} s to write them)")
                web, port = self.start_web(
                    f"store-{events}", queue="bench-store", database=database
                )
                webs.append(web)
                self.posts(f"store-ack-{events}", port, c, warm_only=True)
                stores[events] = {
                    "web": web,
                    "port": port,
                    "info": {
                        "events": stored,
                        "seed_seconds": round(seeded, 1),
                        "database_bytes": database.stat().st_size,
                    },
                    "ack": [],
                    "get": [],
                }
            for run in range(self.o.runs):
                for events, s in stores.items():
                    web, port = s["web"], s["port"]
                    ack: dict[str, Any] = {}
                    with self.cpu({"temporal": self.temporal, "web": web}, ack):
                        ack.update(self.posts(f"store-ack-{events}", port, c))
                    s["ack"].append(ack)
                    get: dict[str, Any] = {}
                    with self.cpu({"web": web}, get):
                        get.update(
                            self.http(port, self.get_file(port), mode="cycle", concurrency=c)
                        )
                    if get["errors"]:
                        raise BenchError(f"GET /api/shipments/{{id}} failed: {get}")
                    s["get"].append(get)
                    self.echo(f"  run {run + 1}, {events:,} events: ack {report.brief(ack)}")
                    self.echo(f"  run {run + 1}, {events:,} events: GET {report.brief(get)}")
            if self.o.profile:
                largest = stores[sizes[-1]]
                with self.profiled("get", largest["web"]):
                    self.http(
                        largest["port"], self.get_file(largest["port"]), mode="cycle", concurrency=c
                    )
        finally:
            for web in webs:
                web.stop()
        self.results["store"] = {
            "concurrency": c,
            "sizes": {
                str(events): {
                    **s["info"],
                    "ack": summarize(s["ack"]),
                    "get": summarize(s["get"]),
                }
                for events, s in stores.items()
            },
        }

    def phase_spool(self) -> None:
        self.echo("spool: flexhook's ack with Temporal stopped (events go to the database spool)")
        web, port = self.start_web("spool", queue="bench-spool", database=self.database("spool"))
        runs: dict[int, list[dict[str, Any]]] = {c: [] for c in self.o.concurrencies}
        try:
            self.posts("spool-ack", port, 8, warm_only=True)  # connected while Temporal is up
            assert self.temporal is not None
            self.temporal.stop()
            self.temporal = None
            tripped = self.wait_for_spooling(port)
            self.echo(f"  Temporal stopped; the first ack after that took {tripped:.1f} s")
            self.results["spool_first_ack_seconds"] = round(tripped, 2)
            self.rate_hint.update({f"spool-{c}": 2000.0 for c in self.o.concurrencies})
            for run in range(self.o.runs):
                for c in self.o.concurrencies:
                    result: dict[str, Any] = {}
                    with self.cpu({"web": web}, result):
                        result.update(self.posts(f"spool-{c}", port, c))
                    result["spool_depth"] = self.spool_depth(port)
                    runs[c].append(result)
                    self.echo(
                        f"  run {run + 1} c={c}: {report.brief(result)}, "
                        f"spool depth {result['spool_depth']}"
                    )
            if self.o.profile:
                with self.profiled("spool", web):
                    self.posts("spool-8", port, 8)
        finally:
            web.stop()
        self.results["spool"] = {str(c): summarize(r) for c, r in runs.items()}

    def spool_depth(self, port: int) -> int | None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            connection.request(
                "GET", "/api/spool", headers={"Authorization": f"Bearer {self.token}"}
            )
            response = connection.getresponse()
            depth = json.loads(response.read()).get("depth") if response.status == 200 else None
            return depth if isinstance(depth, int) else None
        except (OSError, ValueError):
            return None
        finally:
            connection.close()

    def wait_for_spooling(self, port: int) -> float:
        """Post one event at a time until the web process spools at once (its breaker is open);
        return how long the first post took (the wait for Temporal's start to fail)."""
        deliveries = payloads.deliveries(self.tag("trip"), secret=self.secret)
        first: float | None = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            delivery = next(deliveries)
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            began = time.perf_counter()
            try:
                connection.request(
                    "POST",
                    payloads.WEBHOOK_PATH,
                    body=delivery.body,
                    headers={
                        "Content-Type": "application/json",
                        "X-Hub-Signature-256": delivery.signature,
                    },
                )
                answer = json.loads(connection.getresponse().read() or b"{}")
            finally:
                connection.close()
            took = time.perf_counter() - began
            first = took if first is None else first
            if answer.get("status") == "queued" and took < 0.5:
                return first
        raise BenchError("flexhook did not start spooling within 60 s of Temporal stopping")

    # -- the whole run ----------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        started = time.perf_counter()
        self.results["machine"] = machine()
        self.results["options"] = {
            k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(self.o).items()
        }
        self.results["started_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        self.echo(f"work dir {self.work}; logs in {self.work / 'logs'}")
        self.start_temporal()
        took: dict[str, float] = {}
        for phase in PHASES:
            if phase in self.o.phases:
                began = time.perf_counter()
                if self.temporal is None and phase != "ceiling":
                    self.start_temporal()
                getattr(self, f"phase_{phase}")()
                took[phase] = round(time.perf_counter() - began, 1)
                self.echo(f"  ({phase}: {took[phase]:.0f} s)")
        self.results["phase_seconds"] = took
        self.results["seconds"] = round(time.perf_counter() - started, 1)
        return self.results


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


def machine() -> dict[str, Any]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = 0
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = int(line.split()[1]) * 1024
    os_name = platform.platform()
    with contextlib.suppress(OSError):
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                os_name = line.split("=", 1)[1].strip('"') + f" (Linux {platform.release()})"
    from app.dev.temporal_dev import temporal_binary

    temporal = subprocess.run(
        [temporal_binary(), "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu,
        "memory_gib": round(memory / 2**30, 1),
        "os": os_name,
        "python": platform.python_version(),
        "temporal": temporal,
        "temporalio": metadata.version("temporalio"),
        "uvicorn": metadata.version("uvicorn"),
        "uvicorn_http": "httptools" if util.find_spec("httptools") else "h11",
        "uvicorn_loop": "uvloop" if util.find_spec("uvloop") else "asyncio",
    }


def run(options: Options, echo: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the benchmark, write the JSON and Markdown results, and return the results."""
    work = options.work_dir or Path(tempfile.mkdtemp(prefix="flexhook-bench-"))
    (work / "logs").mkdir(parents=True, exist_ok=True)
    os.chdir(ROOT)  # children import app, bench and workflows from the checkout
    bench = Bench(options, work, echo)
    try:
        results = bench.run()
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
