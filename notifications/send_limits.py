"""Limits on sending, so that one destination that never answers costs little and stalls nothing
else (security review H3).

- **A hard deadline per send.** Each send runs on a thread of its own; the caller waits for it
  at most `deadline` seconds, then goes on (`Overdue`) and leaves the thread to finish by itself.
  That does not depend on the send giving the thread back: a server that answers one byte a
  second keeps `requests` reading for ever, and Python cannot stop a thread. The threads left
  running are counted; past `max_overdue` of them no new send starts (`Overdue` at once) until
  some end, so a hostile destination cannot grow the process without bound.
- **A breaker per destination.** After `threshold` sends in a row to one destination run past
  the deadline, that destination is skipped (`Skipped`, at once) for `cooldown` seconds; then
  one send tries it again (the others are still skipped while it runs), and one more timeout
  skips it for another `cooldown`.
  Any answer (sent or refused) closes the breaker. Only timeouts count: a destination that
  refuses quickly costs no thread, and its alerts keep their retries.

The breaker's state is per process. What it protects, the threads and send slots of one
worker, is per process too, and each process needs its own evidence (the hang may be on its own
network path); a second replica pays at most `threshold` deadlines before it skips too. The
operators hear of the destination once, across replicas, through its `destination-failing`
incident in the database (`activities.delivery`).
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_THRESHOLD = 3
DEFAULT_COOLDOWN = 300.0
# Threads left running past their deadline, in one process, before no new send starts.
DEFAULT_MAX_OVERDUE = 64


class Overdue(Exception):
    """The send did not finish within the deadline (its thread may still be running), or too
    many earlier sends are still running past theirs for a new one to start."""


class Crowded(Overdue):
    """Not started: too many earlier sends are still running past their deadline. Unlike a
    send that ran past its own deadline, this one is known not to have gone out."""


class Skipped(Exception):
    """The destination's breaker is open: it was not tried. The message says why and until
    when."""


def _seconds(value: float) -> str:
    return f"{value:.0f} s" if value >= 1 else f"{value:.1f} s"


@dataclass
class _Record:
    timeouts: int = 0  # in a row
    open_until: float | None = None
    probing: bool = False  # the one send that tries it again after the cooldown is running


class DestinationBreaker:
    """Counts each destination's timeouts in a row and says which ones to skip, and why."""

    def __init__(
        self,
        *,
        threshold: int = DEFAULT_THRESHOLD,
        cooldown: float = DEFAULT_COOLDOWN,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`threshold` 0 turns the breaker off."""
        self.threshold = threshold
        self.cooldown = cooldown
        self._clock = clock
        self._lock = threading.Lock()
        self._records: dict[str, _Record] = {}

    def skip_reason(self, key: str) -> str | None:
        """Why `key` is skipped now, or None when it may be tried."""
        with self._lock:
            return self._reason(self._records.get(key))

    def admit(self, key: str) -> str | None:
        """Like `skip_reason`, and when `key` may be tried after its cooldown, this send is the
        one that tries it: the others are skipped until it ends."""
        with self._lock:
            record = self._records.get(key)
            reason = self._reason(record)
            if reason is None and record is not None and record.open_until is not None:
                record.probing = True
            return reason

    def _reason(self, record: _Record | None) -> str | None:
        if record is None or record.open_until is None:
            return None
        left = record.open_until - self._clock()
        if left <= 0 and not record.probing:
            return None
        when = "now, by another send" if left <= 0 else f"in {_seconds(left)}"
        return (
            f"skipped: the last {record.timeouts} sends to this destination did not finish in "
            f"time; it is tried again {when}"
        )

    def answered(self, key: str, *, tried: bool = True) -> None:
        """The destination answered (sent or refused): its breaker closes. `tried` False: the
        send admitted to try it never started; the next one may."""
        with self._lock:
            if tried:
                self._records.pop(key, None)
            elif key in self._records:
                self._records[key].probing = False

    def timed_out(self, key: str) -> bool:
        """One more timeout of `key`; True when its breaker (re)opens now."""
        if self.threshold <= 0:
            return False
        with self._lock:
            record = self._records.setdefault(key, _Record())
            record.timeouts += 1
            record.probing = False
            if record.timeouts < self.threshold:
                return False
            record.open_until = self._clock() + self.cooldown
            timeouts = record.timeouts
        log.warning(
            "destination %s: %d sends in a row did not finish in time; skipped for %s",
            key,
            timeouts,
            _seconds(self.cooldown),
        )
        return True


class SendLimits:
    """The deadline, the count of overdue sends and the breaker of one process's sends."""

    def __init__(
        self,
        *,
        deadline: float,
        breaker: DestinationBreaker | None = None,
        max_overdue: int = DEFAULT_MAX_OVERDUE,
    ) -> None:
        self.deadline = deadline
        self.breaker = breaker or DestinationBreaker()
        self.max_overdue = max_overdue
        self._lock = threading.Lock()
        self._overdue = 0

    @property
    def overdue(self) -> int:
        """Sends still running past their deadline, in this process."""
        with self._lock:
            return self._overdue

    def skip_reason(self, key: str) -> str | None:
        return self.breaker.skip_reason(key)

    def run(self, key: str, send: Callable[[], T]) -> T:
        """`send()`'s result (or its exception) if it finishes within the deadline; `Skipped`
        when `key`'s breaker is open; `Overdue` when it does not finish in time, or when too
        many sends are overdue already to start one more."""
        with self._lock:
            if self._overdue >= self.max_overdue:
                raise Crowded(
                    f"not sent: {self._overdue} earlier sends are still running past their "
                    "deadline in this worker"
                )
        reason = self.breaker.admit(key)
        if reason is not None:
            raise Skipped(reason)
        attempt = _Attempt(send)
        thread = threading.Thread(
            target=contextvars.copy_context().run,
            args=(attempt.run, self._finished),
            name=f"send-{key}",
            daemon=True,  # a hung send never keeps the process from exiting
        )
        try:
            thread.start()
        except BaseException:
            self.breaker.answered(key, tried=False)
            raise
        thread.join(self.deadline)
        with self._lock:
            overdue = attempt.abandon()
            if overdue:
                self._overdue += 1
        if overdue:
            self.breaker.timed_out(key)
            raise Overdue(f"the send did not finish within {_seconds(self.deadline)}")
        self.breaker.answered(key)
        return attempt.outcome()

    def _finished(self) -> None:
        """An abandoned send's thread ended at last."""
        with self._lock:
            self._overdue -= 1


class _Attempt(Generic[T]):
    """One send on its thread: its outcome, and whether its caller stopped waiting. Each attempt
    is either waited for or counted overdue (and uncounted when it ends at last), never both:
    `abandon` and the end of `run` decide under one lock which happened first."""

    def __init__(self, send: Callable[[], T]) -> None:
        self._send = send
        self._done = False
        self._abandoned = False
        self._result: T | None = None
        self._error: BaseException | None = None
        self._lock = threading.Lock()

    def run(self, finished_late: Callable[[], None]) -> None:
        try:
            self._result = self._send()
        except BaseException as exc:
            self._error = exc
        with self._lock:
            self._done = True
            late = self._abandoned
        if late:
            finished_late()

    def abandon(self) -> bool:
        """Stop waiting if the send is still running; True if it was."""
        with self._lock:
            self._abandoned = not self._done
            return self._abandoned

    def outcome(self) -> T:
        if self._error is not None:
            raise self._error
        return self._result  # type: ignore[return-value]  # set: the send returned
