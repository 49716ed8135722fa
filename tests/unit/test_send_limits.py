"""`notifications.send_limits`: each send's hard deadline, the count of sends left running past
it, and the breaker that skips a destination whose sends keep timing out. Sends here are plain
functions that wait on events the test controls; the breaker's clock is the test's."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from notifications.send_limits import Crowded, DestinationBreaker, Overdue, SendLimits, Skipped

SHORT = 0.05  # the deadline of these tests: a send that waits on `hang` always misses it


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def hang() -> Iterator[threading.Event]:
    """Sends that wait on this hang until the test ends."""
    release = threading.Event()
    yield release
    release.set()


def limits(clock: Clock, *, threshold: int = 3, max_overdue: int = 64) -> SendLimits:
    breaker = DestinationBreaker(threshold=threshold, cooldown=300, clock=clock)
    return SendLimits(deadline=SHORT, breaker=breaker, max_overdue=max_overdue)


def test_a_send_that_finishes_gives_its_result_and_its_exception() -> None:
    sending = limits(Clock())

    assert sending.run("url-a", lambda: "sent") == "sent"

    def refuse() -> None:
        raise ValueError("refused")

    with pytest.raises(ValueError, match="refused"):
        sending.run("url-a", refuse)
    assert sending.overdue == 0


def test_a_hung_send_is_left_behind_at_the_deadline_and_counted_until_it_ends(
    hang: threading.Event,
) -> None:
    sending = limits(Clock())
    finished = threading.Event()

    def hung() -> None:
        hang.wait()
        finished.set()

    with pytest.raises(Overdue, match="did not finish within"):
        sending.run("url-tarpit", hung)
    assert sending.overdue == 1

    hang.set()
    assert finished.wait(5)
    for _ in range(100):
        if sending.overdue == 0:
            break
        finished.wait(0.01)
    assert sending.overdue == 0


def test_no_send_starts_while_too_many_are_overdue(hang: threading.Event) -> None:
    sending = limits(Clock(), threshold=0, max_overdue=2)  # the breaker off: only the cap
    for _ in range(2):
        with pytest.raises(Overdue):
            sending.run("url-tarpit", hang.wait)
    started = threading.Event()

    with pytest.raises(Crowded, match="2 earlier sends are still running"):  # never started
        sending.run("url-healthy", started.set)
    assert not started.is_set()


def test_the_breaker_skips_a_destination_after_timeouts_in_a_row_for_its_cooldown(
    hang: threading.Event,
) -> None:
    clock = Clock()
    sending = limits(clock, threshold=3)
    for _ in range(3):
        with pytest.raises(Overdue):
            sending.run("url-tarpit", hang.wait)
    tried = threading.Event()

    with pytest.raises(Skipped, match="the last 3 sends to this destination did not finish"):
        sending.run("url-tarpit", tried.set)
    assert not tried.is_set()
    assert sending.skip_reason("url-tarpit") is not None
    # Other destinations go on.
    assert sending.run("url-healthy", lambda: "sent") == "sent"

    clock.now += 301  # the cooldown is over: tried again, and one more timeout skips it again
    assert sending.skip_reason("url-tarpit") is None
    with pytest.raises(Overdue):
        sending.run("url-tarpit", hang.wait)
    assert sending.skip_reason("url-tarpit") is not None


def test_an_answer_closes_the_breaker_and_resets_the_count(hang: threading.Event) -> None:
    clock = Clock()
    sending = limits(clock, threshold=2)
    with pytest.raises(Overdue):
        sending.run("url-flaky", hang.wait)

    def refused() -> None:
        raise ConnectionRefusedError

    with pytest.raises(ConnectionRefusedError):  # an answer, though not a delivery
        sending.run("url-flaky", refused)
    with pytest.raises(Overdue):
        sending.run("url-flaky", hang.wait)

    assert sending.skip_reason("url-flaky") is None  # one timeout in a row, not two


def test_a_breaker_with_threshold_zero_never_skips(hang: threading.Event) -> None:
    sending = limits(Clock(), threshold=0)
    for _ in range(5):
        with pytest.raises(Overdue):
            sending.run("url-tarpit", hang.wait)
    assert sending.skip_reason("url-tarpit") is None


def test_after_the_cooldown_one_send_tries_the_destination_and_the_others_are_skipped(
    hang: threading.Event,
) -> None:
    clock = Clock()
    sending = limits(clock, threshold=1)
    with pytest.raises(Overdue):
        sending.run("url-tarpit", hang.wait)
    clock.now += 301
    trying = threading.Event()

    def probe() -> None:
        trying.set()
        hang.wait()

    outcome: list[BaseException] = []

    def try_it() -> None:
        try:
            sending.run("url-tarpit", probe)
        except Overdue as exc:
            outcome.append(exc)

    prober = threading.Thread(target=try_it)
    prober.start()
    assert trying.wait(5)
    tried = threading.Event()

    with pytest.raises(Skipped, match="tried again now, by another send"):
        sending.run("url-tarpit", tried.set)
    prober.join()

    assert not tried.is_set()
    assert len(outcome) == 1  # the probe ran, and ran past the deadline
    with pytest.raises(Skipped, match="tried again in 300 s"):  # the probe timed out: closed again
        sending.run("url-tarpit", tried.set)
