"""The benchmark's child processes: started in their own process groups with their output in a
log file, told to die with the benchmark (even on SIGKILL), and all stopped on the way out."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

from app.dev.supervisor import die_with_parent

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class BenchError(Exception):
    """The benchmark cannot go on; the message says why."""


class Proc:
    """One child process; `Proc.everything` lists those not yet stopped, newest last."""

    everything: list[Proc] = []  # noqa: RUF012  (one registry per benchmark process)

    def __init__(self, name: str, argv: list[str], *, env: dict[str, str], log: Path) -> None:
        self.name = name
        self.argv = argv
        self.env = env
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None

    def start(self, *, stdout: int | None = None) -> Proc:
        """Start it; its stdout goes to the log unless `stdout` (e.g. PIPE) says otherwise."""
        self._log_file = self.log.open("ab")
        self.process = subprocess.Popen(
            self.argv,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file if stdout is None else stdout,
            stderr=self._log_file,
            process_group=0,  # a Ctrl-C reaches the benchmark only; it stops us itself
            preexec_fn=die_with_parent(),
        )
        Proc.everything.append(self)
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def check(self) -> None:
        """Raise `BenchError` if it died."""
        if self.process is not None and self.process.poll() is not None:
            tail = self.log.read_text("utf-8", errors="replace")[-2000:]
            raise BenchError(f"{self.name} exited ({self.process.returncode}); log tail:\n{tail}")

    def cpu_seconds(self) -> float:
        """User plus system CPU time so far (Linux), or 0 when it cannot be read."""
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return 0.0
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS

    def stop(self, grace: float = 15.0) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
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
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def http_ok(port: int, path: str = "/healthz") -> bool:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2.0)
    try:
        connection.request("GET", path)
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def wait_until(what: str, ready: Callable[[], bool], *, proc: Proc, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        proc.check()
        if ready():
            return
        if time.monotonic() > deadline:
            raise BenchError(f"{what} was not ready within {timeout:.0f} s (log: {proc.log})")
        time.sleep(0.1)
