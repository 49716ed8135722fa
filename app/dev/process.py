"""One child process, as the dev supervisor, the chaos tests and the benchmark run them.

A `ChildProcess` starts in a process group of its own (a Ctrl-C in the terminal reaches only its
parent, which stops it in its own time), is told by the kernel to die with its parent, even when
the parent is SIGKILLed, and appends its output to a log file (or writes to the parent's terminal
when it has none). Its parent can wait until a port or a health URL answers, stop it with SIGTERM
and then SIGKILL, kill it outright, start it again, and read its exit status and the end of its log.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import http.client
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Self

from app.dev.errors import ChildDied, NotReady, describe_exit

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
KILL_REAP_SECONDS = 30.0  # a SIGKILLed child still there after this is stuck in the kernel
TAIL_LINES = 25

log = logging.getLogger("flexhook.dev")


# -- dying with the parent ------------------------------------------------------------------------


@functools.cache
def _prctl() -> Callable[..., int] | None:
    # Resolved in the parent: loading a library between fork and exec is not safe.
    if not sys.platform.startswith("linux"):
        return None
    prctl: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
    return prctl


def _die_with_parent(
    parent_pid: int, prctl: Callable[..., int] | None, signum: signal.Signals
) -> None:
    """Runs in the child between fork and exec: have Linux send it `signum` if its parent dies,
    even by SIGKILL, so no orphan keeps a port or a database file."""
    if prctl is not None:
        prctl(PR_SET_PDEATHSIG, signum)
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)


def die_with_parent(signum: signal.Signals = signal.SIGTERM) -> Callable[[], None]:
    """A `preexec_fn` for `subprocess.Popen`: the child gets `signum` when this process dies.

    Linux ties the signal to the thread that forks: start children from a thread that lives as
    long as the process (the main thread)."""
    return functools.partial(_die_with_parent, os.getpid(), _prctl(), signum)


# -- readiness probes -----------------------------------------------------------------------------


def port_open(host: str, port: int, *, timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections on `host:port`."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def http_ok(url: str, *, timeout: float = 1.0) -> bool:
    """Whether a GET of the plain-HTTP `url` answers 200."""
    # http.client rather than httpx: no proxy settings, and no request log line per poll.
    parts = urllib.parse.urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=timeout)
    try:
        connection.request("GET", path)
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def poll_until(
    ready: Callable[[], bool],
    *,
    timeout: float,
    interval: float = 0.2,
    check: Callable[[], None] | None = None,
) -> bool:
    """Call `check` (which may raise to give up), then `ready`, every `interval` seconds: True
    once `ready()` is, False when `timeout` seconds passed first."""
    deadline = time.monotonic() + timeout
    while True:
        if check is not None:
            check()  # first, so a child that died at once is reported, not announced
        if ready():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)


# -- the child ------------------------------------------------------------------------------------


class ChildProcess:
    """One child process in a process group of its own, optionally logging to `log_path`.

    It may be started again after it exited or was stopped (a new pid each time; each start
    appends a header line to the log). Signals go to its whole group, which is its own."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        log_path: Path | None = None,
        cwd: Path | None = None,
        death_signal: signal.Signals = signal.SIGTERM,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.env = None if env is None else dict(env)  # None: this process's environment
        self.log_path = log_path  # None: the output goes to this process's stdout and stderr
        self.cwd = cwd
        self.death_signal = death_signal  # what it gets when this process dies
        self.starts = 0
        self._popen: subprocess.Popen[bytes] | None = None

    def __repr__(self) -> str:
        return f"<ChildProcess {self.name} starts={self.starts} returncode={self.returncode()}>"

    @property
    def pid(self) -> int:
        assert self._popen is not None, f"{self.name} was never started"
        return self._popen.pid

    # -- life and death -------------------------------------------------------------------------

    def start(self, *, capture_stdout: bool = False) -> Self:
        """Start it (again). With `capture_stdout`, its stdout goes to a pipe that `output`
        reads, and only its stderr to the log."""
        assert not self.running(), f"{self.name} is already running (pid {self.pid})"
        self._close_pipe()  # of the run before, if it exited by itself
        self.starts += 1
        with self._open_log() as log_file:
            self._popen = subprocess.Popen(
                self.argv,
                env=self.env,
                cwd=self.cwd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE if capture_stdout else log_file,
                stderr=log_file,
                process_group=0,  # a Ctrl-C reaches the parent only; it stops us itself
                preexec_fn=die_with_parent(self.death_signal),
            )
        log.debug("started %s (pid %d)", self.name, self._popen.pid)
        return self

    def _open_log(self) -> contextlib.AbstractContextManager[IO[bytes] | None]:
        # The child keeps its own copy of the descriptor; the parent's closes after the start.
        if self.log_path is None:
            return contextlib.nullcontext()
        log_file = self.log_path.open("ab")
        log_file.write(f"\n===== start #{self.starts} of {self.name} =====\n".encode())
        log_file.flush()
        return log_file

    def returncode(self) -> int | None:
        """None while it runs (or before its first start), else its exit status: negative when
        a signal killed it."""
        return None if self._popen is None else self._popen.poll()

    def running(self) -> bool:
        return self._popen is not None and self._popen.poll() is None

    def send_signal(self, signum: int) -> None:
        """Send `signum` to its process group, if it is still running."""
        if self.running():
            assert self._popen is not None
            # The group is this child's own (process_group=0): nothing else is in it.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._popen.pid, signum)

    def wait(self, timeout: float | None = None) -> bool:
        """Whether it has exited (and is reaped) within `timeout` seconds (None: no limit)."""
        if self._popen is None:
            return True
        try:
            self._popen.wait(timeout=None if timeout is None else max(timeout, 0.0))
        except subprocess.TimeoutExpired:
            return False
        self._close_pipe()
        return True

    def terminate(self, *, grace: float) -> bool:
        """SIGTERM, then wait up to `grace` seconds, and SIGKILL it if it is still there.
        True when it exited by itself (or was not running)."""
        if not self.running():
            return True
        self.send_signal(signal.SIGTERM)
        if self.wait(grace):
            return True
        self.kill()
        return False

    def kill(self) -> None:
        """SIGKILL it and its group at once, and reap it."""
        if self._popen is None:
            return
        self.send_signal(signal.SIGKILL)
        self._popen.wait(timeout=KILL_REAP_SECONDS)
        self._close_pipe()

    def _close_pipe(self) -> None:
        # What `output` did not read is lost with the process; the pipe must not outlive it.
        if self._popen is not None and self._popen.stdout is not None:
            self._popen.stdout.close()

    def restart(self, *, grace: float) -> Self:
        """Stop it as `terminate` does, then start it again with the same arguments."""
        self.terminate(grace=grace)
        return self.start()

    def output(self, *, timeout: float) -> bytes:
        """All it writes to stdout until it exits (started with `capture_stdout`); raises
        `subprocess.TimeoutExpired` if it is still running after `timeout` seconds."""
        assert self._popen is not None and self._popen.stdout is not None, (
            f"{self.name} was not started with capture_stdout"
        )
        out, _ = self._popen.communicate(timeout=timeout)
        return out

    # -- readiness ------------------------------------------------------------------------------

    def raise_if_exited(self) -> None:
        """Raise `ChildDied` (with the end of its log) if it has exited."""
        code = self.returncode()
        if code is not None:
            raise ChildDied(self.name, code, tail=self.tail() if self.log_path else "")

    def wait_ready(
        self, ready: Callable[[], bool], *, what: str, timeout: float, interval: float = 0.2
    ) -> None:
        """Poll `ready` until it is true; `ChildDied` if this process exits first, `NotReady`
        after `timeout` seconds."""
        if not poll_until(ready, timeout=timeout, interval=interval, check=self.raise_if_exited):
            raise NotReady(what, timeout, log_path=self.log_path)

    def wait_for_port(self, host: str, port: int, *, timeout: float, interval: float = 0.2) -> None:
        """Until something accepts connections on `host:port`; see `wait_ready`."""
        self.wait_ready(
            lambda: port_open(host, port),
            what=f"{self.name} (port {port})",
            timeout=timeout,
            interval=interval,
        )

    # -- its log --------------------------------------------------------------------------------

    def log_text(self) -> str:
        """Everything in its log file so far ('' without one)."""
        if self.log_path is None:
            return ""
        try:
            return self.log_path.read_text("utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def log_size(self) -> int:
        """The log's size in bytes: an offset for `log_contains`."""
        if self.log_path is None:
            return 0
        try:
            return self.log_path.stat().st_size
        except FileNotFoundError:
            return 0

    def log_contains(self, needle: str, *, after: int = 0) -> bool:
        """Whether `needle` appears in the log beyond byte offset `after`."""
        if self.log_path is None:
            return False
        try:
            with self.log_path.open("rb") as log_file:
                log_file.seek(after)
                return needle.encode() in log_file.read()
        except FileNotFoundError:
            return False

    def tail(self, lines: int = TAIL_LINES) -> str:
        """Its state and the last `lines` lines of its log, to explain a failure."""
        code = self.returncode()
        if code is not None:
            state = describe_exit(code)
        else:
            state = "running" if self.running() else "not started"
        text = "\n".join(self.log_text().splitlines()[-lines:])
        return f"--- {self.name} ({state}), last lines of {self.log_path}:\n{text}"
