"""The suite-wide log watch can fail: it finds a registered secret or payload in a log record."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import log_registry
from tests.log_registry import LogRegistry

SECRET = "whsec-Zq8vN3pL1xT7"
PAYLOAD = json.dumps({"type": "/shipment#created", "id": 1, "pad": "y" * 300}).encode()


@pytest.fixture
def registry() -> Iterator[LogRegistry]:
    """A fresh registry watching every logger, beside the session's own."""
    registry = LogRegistry()
    unwatch = log_registry.watch(registry)
    try:
        yield registry
    finally:
        unwatch()


@pytest.fixture
def logger() -> Iterator[logging.Logger]:
    """A throwaway logger that writes nowhere: the watch must see it all the same."""
    logger = logging.getLogger(f"throwaway.{uuid.uuid4().hex}")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    logger.addHandler(logging.NullHandler())
    yield logger
    logger.handlers.clear()


def test_a_registered_secret_in_a_message_is_reported(
    registry: LogRegistry, logger: logging.Logger
) -> None:
    registry.register_secret(SECRET)
    logger.debug("verifying with %s", SECRET)

    (leak,) = registry.leaks()

    assert (leak.kind, leak.logger, leak.level, leak.records) == (
        "secret",
        logger.name,
        "DEBUG",
        1,
    )
    assert SECRET not in str(leak)  # the report itself is masked
    assert leak.label.startswith(SECRET[:3])


def test_a_secret_in_a_traceback_or_percent_encoded_is_reported(
    registry: LogRegistry, logger: logging.Logger
) -> None:
    registry.register_secret("p@ss w/rd!")
    try:
        raise ValueError("bad url mailto://user:p@ss w/rd!@host")
    except ValueError:
        logger.exception("sending failed")
    logger.warning("retrying mailto://user:%s@host", "p%40ss%20w%2Frd%21")

    assert sorted(leak.level for leak in registry.leaks()) == ["ERROR", "WARNING"]


def test_a_whole_payload_is_reported_and_a_part_of_it_is_not(
    registry: LogRegistry, logger: logging.Logger
) -> None:
    registry.register_payload(PAYLOAD)
    logger.info("event 1: %.80s", PAYLOAD.decode())
    assert registry.leaks() == []

    logger.info("event 1: %s", json.loads(PAYLOAD))  # the parsed dict, as Python prints it

    (leak,) = registry.leaks()
    assert leak.kind == "payload"


def test_records_without_registered_values_and_short_values_are_not_leaks(
    registry: LogRegistry, logger: logging.Logger
) -> None:
    registry.register_secret(SECRET)
    registry.register_payload(b'{"type": "x"}')  # too short to tell from an ordinary line
    logger.info('accepted {"type": "x"} signed with %s', SECRET[:5])

    assert registry.leaks() == []
    with pytest.raises(ValueError, match="characters"):
        registry.register_secret("abc")


def test_a_filter_that_drops_or_redacts_a_record_keeps_it_from_the_watch(
    registry: LogRegistry, logger: logging.Logger
) -> None:
    class Redact(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            record.msg, record.args = record.getMessage().replace(SECRET, "****"), None
            return record.levelno >= logging.INFO

    registry.register_secret(SECRET)
    logger.addFilter(Redact())
    logger.debug("dropped: %s", SECRET)
    logger.info("masked: %s", SECRET)

    assert registry.leaks() == []
    assert registry.record_count == 1


def test_the_session_is_watched() -> None:
    assert log_registry.default in log_registry._watching
    before = log_registry.default.record_count
    logging.getLogger("flexhook.test").debug("the session's watch sees DEBUG records")
    assert log_registry.default.record_count == before + 1


def test_a_session_that_logs_a_registered_secret_fails(tmp_path: Path) -> None:
    """The session hook, end to end: every test passes, a secret was logged, pytest exits 1."""
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_leaky.py").write_text(
        "import logging\n"
        "from tests.log_registry import register_secret\n"
        "def test_leaky():\n"
        f"    register_secret({SECRET!r})\n"
        f"    logging.getLogger('flexhook.leaky').debug('signed with %s', {SECRET!r})\n"
    )
    pytest_args = [
        "-p",
        "tests.conftest",
        "-p",
        "no:cacheprovider",
        "-c",
        str(tmp_path / "pytest.ini"),
    ]
    run = subprocess.run(
        [sys.executable, "-m", "pytest", *pytest_args, str(tmp_path / "test_leaky.py")],
        cwd=Path(__file__).parents[2],
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert run.returncode == pytest.ExitCode.TESTS_FAILED, run.stdout + run.stderr
    assert "1 passed" in run.stdout
    assert "secrets or payloads in the logs" in run.stdout
    assert "'flexhook.leaky' at DEBUG" in run.stdout
    assert SECRET not in run.stdout + run.stderr
