"""Child processes that a chaos test can kill, stop and start again, and always cleans up."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

from app.dev.supervisor import die_with_parent


class Process:
    """One child process in a group of its own, its output appended to `log_path`.

    It may be started again after it died or was stopped (a new pid each time). Start it from
    the main thread: the death signal is tied to the thread that forks.
    """

    def __init__(self, name: str, argv: list[str], *, env: dict[str, str], cwd: Path) -> None:
        self.name = name
        self.argv = argv
        self.env = env
        self.cwd = cwd
        self.log_path = cwd / f"{name}.log"
        self.starts = 0
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self._process is not None, f"{self.name} was never started"
        return self._process.pid

    def start(self) -> None:
        assert not self.running(), f"{self.name} is already running (pid {self.pid})"
        self.starts += 1
        with self.log_path.open("ab") as log:
            log.write(f"\n===== start #{self.starts} of {self.name} =====\n".encode())
            log.flush()
            self._process = subprocess.Popen(
                self.argv,
                env=self.env,
                cwd=self.cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                process_group=0,
                preexec_fn=die_with_parent(signal.SIGKILL),
            )

    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def returncode(self) -> int | None:
        return None if self._process is None else self._process.poll()

    def kill(self) -> None:
        """SIGKILL the process and its group, at once, and reap it."""
        if self._process is None:
            return
        if self._process.poll() is None:
            self._signal(signal.SIGKILL)
        self._process.wait(timeout=30)

    def terminate(self, *, grace: float) -> bool:
        """SIGTERM, then wait up to `grace` seconds; SIGKILL if it is still there. True when
        it exited by itself."""
        if self._process is None or self._process.poll() is not None:
            return True
        self._signal(signal.SIGTERM)
        try:
            self._process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self.kill()
            return False
        return True

    def _signal(self, signum: int) -> None:
        assert self._process is not None
        # The group is this child's own (process_group=0): nothing else is in it.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._process.pid, signum)

    def log_text(self) -> str:
        try:
            return self.log_path.read_text("utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def tail(self, lines: int = 25) -> str:
        text = "\n".join(self.log_text().splitlines()[-lines:])
        state = "running" if self.running() else f"exit status {self.returncode()}"
        return f"--- {self.name} ({state}), last lines of {self.log_path}:\n{text}"

    async def wait_for_output(self, needle: str, *, after: int, timeout: float) -> None:
        """Wait until `needle` appears in the log beyond byte offset `after`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.log_path.open("rb") as log:
                log.seek(after)
                if needle.encode() in log.read():
                    return
            if not self.running():
                raise AssertionError(f"{self.name} exited before saying {needle!r}\n{self.tail()}")
            await asyncio.sleep(0.1)
        raise AssertionError(
            f"{self.name} did not say {needle!r} within {timeout} s\n{self.tail()}"
        )

    def log_size(self) -> int:
        try:
            return self.log_path.stat().st_size
        except FileNotFoundError:
            return 0
