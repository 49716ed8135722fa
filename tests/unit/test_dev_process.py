"""The one child-process helper the dev supervisor, the chaos tests and the benchmark share:
real short-lived Python children, each test in a directory of its own."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.dev.errors import ChildDied, NotReady
from app.dev.process import ChildProcess, port_open

# Listens on the port given as argv[1], says so, and serves until SIGTERM (which it may ignore).
LISTENER = """
import signal, socket, sys, time
if sys.argv[2] == "stubborn":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
server = socket.create_server(("127.0.0.1", int(sys.argv[1])))
print("listening", flush=True)
while True:
    time.sleep(0.05)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def listener(tmp_path: Path, port: int, *, stubborn: bool = False) -> ChildProcess:
    return ChildProcess(
        "listener",
        [sys.executable, "-c", LISTENER, str(port), "stubborn" if stubborn else "polite"],
        log_path=tmp_path / "listener.log",
        cwd=tmp_path,
    )


def test_it_waits_for_its_port_stops_on_sigterm_and_starts_again(tmp_path: Path) -> None:
    port = free_port()
    child = listener(tmp_path, port).start()
    try:
        child.wait_for_port("127.0.0.1", port, timeout=20, interval=0.05)
        first_pid = child.pid
        assert child.running() and child.returncode() is None
        assert child.terminate(grace=10) is True
        assert child.returncode() == -signal.SIGTERM
        assert not port_open("127.0.0.1", port)

        child.restart(grace=10).wait_for_port("127.0.0.1", port, timeout=20, interval=0.05)
        assert child.pid != first_pid
        assert child.starts == 2
    finally:
        child.kill()
    log = child.log_text()
    assert "===== start #1 of listener =====" in log
    assert "===== start #2 of listener =====" in log
    assert log.count("listening") == 2
    assert "killed by SIGKILL" in child.tail()


def test_what_ignores_sigterm_is_killed_after_the_grace(tmp_path: Path) -> None:
    port = free_port()
    child = listener(tmp_path, port, stubborn=True).start()
    try:
        child.wait_for_port("127.0.0.1", port, timeout=20, interval=0.05)
        began = time.monotonic()
        assert child.terminate(grace=0.5) is False
        assert time.monotonic() - began < 10
        assert child.returncode() == -signal.SIGKILL
    finally:
        child.kill()


def test_a_child_that_dies_while_awaited_is_reported_with_its_log(tmp_path: Path) -> None:
    child = ChildProcess(
        "crasher",
        [sys.executable, "-c", "import sys; print('no database here'); sys.exit(3)"],
        log_path=tmp_path / "crasher.log",
    ).start()
    with pytest.raises(ChildDied) as died:
        child.wait_ready(lambda: False, what="the crasher", timeout=20, interval=0.05)
    assert died.value.returncode == 3
    assert str(died.value).startswith("crasher exited unexpectedly (exit code 3)")
    assert "no database here" in str(died.value)


def test_a_child_that_never_gets_ready_times_out_naming_its_log(tmp_path: Path) -> None:
    child = ChildProcess(
        "sleeper",
        [sys.executable, "-c", "import time; time.sleep(60)"],
        log_path=tmp_path / "s.log",
    ).start()
    try:
        with pytest.raises(
            NotReady, match=r"the sleeper did not come up within 0 s \(log: .*s\.log\)"
        ):
            child.wait_ready(lambda: False, what="the sleeper", timeout=0.2, interval=0.05)
    finally:
        child.kill()


def test_its_environment_is_the_one_given_and_stdout_can_be_captured(tmp_path: Path) -> None:
    child = ChildProcess(
        "printer",
        [
            sys.executable,
            "-c",
            "import os, sys; print(os.environ['ONLY']); print('x', file=sys.stderr)",
        ],
        env={"ONLY": "this"},
        log_path=tmp_path / "printer.log",
    ).start(capture_stdout=True)
    assert child.output(timeout=20) == b"this\n"
    assert child.wait(timeout=5) and child.returncode() == 0
    header = len("\n===== start #1 of printer =====\n")
    assert child.log_size() == header + len("x\n")  # stderr only: stdout went to the pipe
    assert child.log_contains("x", after=header)
    assert not child.log_contains("this")


def test_output_raises_when_it_runs_too_long(tmp_path: Path) -> None:
    child = ChildProcess(
        "slow",
        [sys.executable, "-c", "import time; time.sleep(60)"],
        log_path=tmp_path / "slow.log",
    ).start(capture_stdout=True)
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            child.output(timeout=0.2)
    finally:
        child.kill()
