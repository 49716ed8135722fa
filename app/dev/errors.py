"""What goes wrong when running the dev stack or any of its child processes."""

from __future__ import annotations

import signal
from pathlib import Path


def describe_exit(returncode: int) -> str:
    """A child's exit status in words: `exit code 1`, `killed by SIGKILL`."""
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit code {returncode}"


class DevStackError(Exception):
    """The dev stack (or a child process) cannot start or keep running; the message says why."""


class ChildDied(DevStackError):
    """A child process exited while it was meant to run; `tail` is the end of its log, if any."""

    def __init__(self, name: str, returncode: int, *, tail: str = "") -> None:
        message = f"{name} exited unexpectedly ({describe_exit(returncode)})"
        super().__init__(f"{message}\n{tail}" if tail else message)
        self.name = name
        self.returncode = returncode


class NotReady(DevStackError):
    """A child process did not become ready in time."""

    def __init__(self, what: str, timeout: float, *, log_path: Path | None = None) -> None:
        where = f" (log: {log_path})" if log_path is not None else ""
        super().__init__(f"{what} did not come up within {timeout:.0f} s{where}")
        self.what = what
        self.timeout = timeout
