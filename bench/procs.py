"""The benchmark's child processes: `app.dev.process.ChildProcess`es with their output in a log
file, told to die with the benchmark (even on SIGKILL), counted for CPU time, and all stopped on
the way out."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Self

from app.dev import process
from app.dev.errors import DevStackError

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class BenchError(Exception):
    """The benchmark cannot go on; the message says why."""


class Proc(process.ChildProcess):
    """One child process; `Proc.everything` lists those not yet stopped, newest last."""

    everything: list[Proc] = []  # noqa: RUF012  (one registry per benchmark process)

    def __init__(self, name: str, argv: list[str], *, env: dict[str, str], log: Path) -> None:
        super().__init__(name, argv, env=env, log_path=log)

    def start(self, *, capture_stdout: bool = False) -> Self:
        """Start it; its stdout goes to the log unless `capture_stdout` (then `output` reads it)."""
        super().start(capture_stdout=capture_stdout)
        Proc.everything.append(self)
        return self

    def check(self) -> None:
        """Raise `BenchError` if it died."""
        try:
            self.raise_if_exited()
        except DevStackError as exc:
            raise BenchError(str(exc)) from None

    def cpu_seconds(self) -> float:
        """User plus system CPU time so far (Linux), or 0 when it cannot be read."""
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return 0.0
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS

    def stop(self, grace: float = 15.0) -> None:
        """SIGTERM, SIGKILL after `grace` seconds, and forget it."""
        self.terminate(grace=grace)
        if self in Proc.everything:
            Proc.everything.remove(self)

    @classmethod
    def stop_all(cls) -> None:
        for proc in reversed(list(cls.everything)):
            proc.stop()


def machine_busy_seconds() -> float:
    """CPU time all processes on the machine spent busy so far, summed over cores (Linux)."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return 0.0
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS


def own_seconds() -> float:
    """CPU time of this process and of the children it has reaped (the load generators)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_open(port: int) -> bool:
    return process.port_open("127.0.0.1", port)


def http_ok(port: int, path: str = "/healthz") -> bool:
    return process.http_ok(f"http://127.0.0.1:{port}{path}", timeout=2.0)


def wait_until(what: str, ready: Callable[[], bool], *, proc: Proc, timeout: float = 60.0) -> None:
    """Until `ready()`; `BenchError` if `proc` dies first or `timeout` seconds pass."""
    try:
        proc.wait_ready(ready, what=what, timeout=timeout, interval=0.1)
    except DevStackError as exc:
        raise BenchError(str(exc)) from None
