"""The processes a benchmark run measures, and the load it drives into them.

One `Stack` per run: a work dir (databases, request files, logs), the Temporal dev server
started as `flexhook dev` starts it, `flexhook web` and `flexhook worker` processes, the no-op
workers, and the load generators, each in a process of its own: bench/http_load.py for HTTP,
bench/load.py for the Temporal SDK. Every process goes into `Proc.everything`, so that the run
stops all of them on the way out.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import secrets
import shutil
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from temporalio.client import Client

from bench import payloads, profile
from bench.procs import BenchError, Proc, free_port, http_ok, port_open, wait_until

T = TypeVar("T")
PROFILE_RATE = 200  # py-spy samples per second


def python(*args: str) -> list[str]:
    """The argv that runs this Python (the virtualenv's) with `args`."""
    return [sys.executable, *args]


def py_spy() -> str | None:
    """py-spy: on PATH, beside this Python (the virtualenv's bin/), or PY_SPY."""
    beside = Path(sys.executable).parent / "py-spy"
    return (
        os.environ.get("PY_SPY")
        or shutil.which("py-spy")
        or (str(beside) if beside.exists() else None)
    )


class Stack:
    """The run's processes and load generators; what the phases share."""

    def __init__(
        self,
        work: Path,
        *,
        echo: Callable[[str], None],
        workers: int,
        warmup: float,
        duration: float,
        profiles: Path,
    ) -> None:
        """`workers`: `flexhook worker` (and no-op worker) processes per start; `warmup` and
        `duration`: the seconds of HTTP load by default; `profiles`: where py-spy writes."""
        self.work = work
        self.echo = echo
        self.workers = workers
        self.warmup = warmup
        self.duration = duration
        self.profiles = profiles
        self.secret = secrets.token_urlsafe(24)
        self.token = secrets.token_urlsafe(24)
        self.run_id = f"b{int(time.time()):x}"
        self.temporal_port = free_port()
        self.temporal_address = f"127.0.0.1:{self.temporal_port}"
        self.temporal: Proc | None = None
        self.metrics_url = ""
        self.metrics_ports: dict[int, int] = {}  # a web process's port: its metrics listener's
        self._files = itertools.count()
        self._tags = itertools.count()
        # Expected rates, to size the files of unique requests (a little over is cheap).
        self._rate_hint: dict[str, float] = {}

    def log(self, name: str) -> Path:
        return self.work / "logs" / f"{name}.log"

    def tag(self, what: str) -> str:
        """A prefix no other event id of this run (or of an earlier one) starts with."""
        return f"{self.run_id}-{what}-{next(self._tags)}"

    def expect_rate(self, key: str, rate: float) -> None:
        """Size the request files of `posts(key, ...)` for about `rate` requests a second."""
        self._rate_hint[key] = rate

    # -- Temporal ---------------------------------------------------------------------------------

    def start_temporal(self) -> Proc:
        """The dev server as `flexhook dev` starts it, plus its Prometheus endpoint (the
        `action` counter: billable actions, for the cost phase); returns once it answers."""
        from app.dev.temporal_dev import dev_server_argv, temporal_binary

        argv = dev_server_argv(
            temporal_binary(),
            host="127.0.0.1",
            port=self.temporal_port,
            ui_port=free_port(),
            db_file=self.work / "temporal.db",
        )
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

    def stop_temporal(self) -> None:
        if self.temporal is None:
            raise BenchError("Temporal is not running")
        self.temporal.stop()
        self.temporal = None

    def pollers(self, queue: str) -> int:
        """Pollers of a workflow task queue, or -1 when Temporal does not answer."""

        async def describe(client: Client) -> int:
            from temporalio.api.enums.v1 import TaskQueueType
            from temporalio.api.taskqueue.v1 import TaskQueue
            from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest

            response = await client.workflow_service.describe_task_queue(
                DescribeTaskQueueRequest(
                    namespace="default",
                    task_queue=TaskQueue(name=queue),
                    task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
                )
            )
            return len(response.pollers)

        try:
            return self.temporal_call(describe)
        except Exception:
            return -1

    def temporal_call(self, call: Callable[[Client], Awaitable[T]]) -> T:
        """`call` with a fresh client, on an event loop of its own."""

        async def go() -> T:
            return await call(await Client.connect(self.temporal_address))

        return asyncio.run(go())

    # -- flexhook and the no-op workers -----------------------------------------------------------

    def database(self, name: str) -> Path:
        """A new SQLite file in the work dir with the schema the app's migrations create."""
        from app.store import db

        path = self.work / f"{name}.db"
        engine = db.create_db_engine(f"sqlite:///{path}")
        try:
            db.upgrade(engine)
        finally:
            engine.dispose()
        return path

    def _flexhook_env(self, *, name: str, queue: str, database: Path) -> dict[str, str]:
        # Nothing of the caller's flexhook, Flexport or Temporal configuration leaks in.
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

    def start_web(
        self, name: str, *, queue: str, database: Path, env: dict[str, str] | None = None
    ) -> tuple[Proc, int]:
        """`flexhook web` on a free port, once it answers its health check: (process, port).
        Its metrics listener is on another free port, `self.metrics_ports[port]`. `env` adds
        settings."""
        port, metrics_port = free_port(), free_port()
        extra = env or {}
        env = self._flexhook_env(name=name, queue=queue, database=database) | extra
        env["FLEXHOOK_METRICS_ADDRESS"] = f"127.0.0.1:{metrics_port}"
        self.metrics_ports[port] = metrics_port
        proc = Proc(
            f"web-{name}",
            python("-m", "app.cli", "web", "--host", "127.0.0.1", "--port", str(port)),
            env=env,
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
        env: dict[str, str] | None = None,
    ) -> list[Proc]:
        """`flexhook worker` processes, once each polls; with `counts`, each under
        bench/counted_worker.py, which writes its database statement counts to its file.
        `env` adds settings."""
        extra = env or {}
        env = self._flexhook_env(name=name, queue=queue, database=database) | extra
        if notify_config is not None:
            env["FLEXHOOK_NOTIFY_CONFIG"] = str(notify_config)
        procs = [
            Proc(
                f"worker-{name}-{i}",
                python("-m", "bench.counted_worker", "--counts", str(counts[i]))
                if counts
                else python("-m", "app.cli", "worker"),
                env=env,
                log=self.log(f"worker-{name}-{i}"),
            ).start()
            for i in range(self.workers)
        ]
        for proc in procs:
            wait_until(f"{proc.name} polling", lambda: self.pollers(queue) >= 1, proc=proc)
        return procs

    def start_noop_workers(self, *, queue: str) -> list[Proc]:
        """Workers of bench/noop.py's one-activity workflow, once each polls."""
        procs = [
            Proc(
                f"worker-noop-{i}",
                python(
                    "-m", "bench.noop", "--address", self.temporal_address, "--task-queue", queue
                ),
                env=dict(os.environ),
                log=self.log(f"worker-noop-{i}"),
            ).start()
            for i in range(self.workers)
        ]
        for proc in procs:
            wait_until(f"{proc.name} polling", lambda: self.pollers(queue) >= 1, proc=proc)
        return procs

    # -- load -------------------------------------------------------------------------------------

    def sdk(self, mode: str, *, queue: str, **params: Any) -> dict[str, Any]:
        """Run bench/load.py (`start` or `noop`) with `params` as its options: its JSON line."""
        argv = python(
            *("-m", "bench.load", mode, "--address", self.temporal_address),
            *("--task-queue", queue, "--secret", self.secret),
        )
        for name, value in params.items():
            argv += [f"--{name.replace('_', '-')}", str(value)]
        proc = Proc(f"load-{mode}", argv, env=dict(os.environ), log=self.log("load")).start(
            capture_stdout=True
        )
        try:
            out = proc.output(timeout=self.duration + self.warmup + 900)
        finally:
            proc.stop()
        lines = out.decode("utf-8").strip().splitlines()
        if not lines:
            raise BenchError(f"bench.load {mode} printed nothing; see {self.log('load')}")
        result: dict[str, Any] = json.loads(lines[-1])
        return result

    def request_file(self, requests: Iterator[bytes], count: int) -> Path:
        """`count` ready-made HTTP requests in a file for bench/http_load.py."""
        path = self.work / "requests" / f"r{next(self._files)}.bin"
        path.parent.mkdir(exist_ok=True)
        payloads.write_requests(path, requests, count)
        return path

    def post_file(self, port: int, *, tag: str, count: int) -> Path:
        """`count` signed webhook posts, each with its own event id starting with `tag`."""
        host = f"127.0.0.1:{port}"
        deliveries = payloads.deliveries(tag, secret=self.secret)
        return self.request_file((payloads.post_request(d, host=host) for d in deliveries), count)

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
        """Start bench/http_load.py; `finish_http` reads its result."""
        argv = python(
            *("-m", "bench.http_load", "--port", str(port), "--requests", str(requests)),
            *("--mode", mode, "--concurrency", str(concurrency)),
            *("--duration", str(duration), "--warmup", str(warmup)),
        )
        return Proc("http-load", argv, env=dict(os.environ), log=self.log("http-load")).start(
            capture_stdout=True
        )

    def finish_http(self, proc: Proc, requests: Path, *, timeout: float) -> dict[str, Any]:
        """The load generator's JSON line, once it exits; its request file is removed."""
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
        duration = self.duration if duration is None else duration
        warmup = self.warmup if warmup is None else warmup
        proc = self.start_http(
            port, requests, mode=mode, concurrency=concurrency, duration=duration, warmup=warmup
        )
        return self.finish_http(proc, requests, timeout=warmup + duration + 120)

    def posts(
        self, key: str, port: int, concurrency: int, *, warm_only: bool = False
    ) -> dict[str, Any]:
        """Post unique signed events: warm-up, then the measured duration (or a warm-up only)."""
        hint = self._rate_hint.get(key, 500.0)
        seconds = self.warmup if warm_only else self.warmup + self.duration
        file = self.post_file(port, tag=self.tag(key), count=int(hint * seconds * 1.5) + 200)
        if warm_only:
            return self.http(
                port, file, mode="unique", concurrency=concurrency, duration=self.warmup, warmup=0
            )
        result = self.http(port, file, mode="unique", concurrency=concurrency)
        # Next time: what it did, with room (and no less than before if it ran out).
        self._rate_hint[key] = max(hint if result["wrapped"] else 0.0, result["rate"]) * 1.3
        if result["wrapped"]:
            self.echo(f"    note: {key} ran out of unique events (some were duplicates)")
        return result

    # -- profiles ---------------------------------------------------------------------------------

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
        busy thread (lock waits included) into <profiles>/profile-<name>.txt, the thread holding
        the GIL into ...-gil.txt. Yields a dict that gets the paths and summaries."""
        spy = py_spy()
        if not spy:
            raise BenchError("--profile needs py-spy on PATH (or PY_SPY=/path/to/py-spy)")
        seconds = self.warmup + self.duration + 1 if seconds is None else seconds
        outs = {
            "threads": self.profiles / f"profile-{name}.txt",
            "gil": self.profiles / f"profile-{name}-gil.txt",
        }
        self.profiles.mkdir(parents=True, exist_ok=True)
        samplers = [
            self._sampler(spy, proc, out, seconds, rate, gil=kind == "gil")
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

    def _sampler(
        self, spy: str, proc: Proc, out: Path, seconds: float, rate: int, *, gil: bool
    ) -> Proc:
        argv = [
            *(spy, "record", "--pid", str(proc.pid), "--rate", str(rate)),
            *("--format", "raw", "--nonblocking", "--output", str(out)),
            *("--duration", str(round(seconds))),
            *(["--gil"] if gil else []),
        ]
        return Proc("py-spy", argv, env=dict(os.environ), log=self.log("py-spy")).start()
