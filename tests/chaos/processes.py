"""Child processes that a chaos test can kill, stop and start again, and always cleans up.

They are `app.dev.process.ChildProcess`es with what chaos needs on top: the log in the test's
directory, SIGKILL (not SIGTERM) when the test process dies, and an async wait for a log line.
"""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

from app.dev.process import ChildProcess


class Process(ChildProcess):
    """One child process in a group of its own, its output appended to `<cwd>/<name>.log`.

    Start it from the main thread: the death signal is tied to the thread that forks.
    """

    def __init__(self, name: str, argv: list[str], *, env: dict[str, str], cwd: Path) -> None:
        super().__init__(
            name,
            argv,
            env=env,
            cwd=cwd,
            log_path=cwd / f"{name}.log",
            death_signal=signal.SIGKILL,
        )

    async def wait_for_output(self, needle: str, *, after: int, timeout: float) -> None:
        """Wait until `needle` appears in the log beyond byte offset `after`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.log_contains(needle, after=after):
                return
            if not self.running():
                raise AssertionError(f"{self.name} exited before saying {needle!r}\n{self.tail()}")
            await asyncio.sleep(0.1)
        raise AssertionError(
            f"{self.name} did not say {needle!r} within {timeout} s\n{self.tail()}"
        )
