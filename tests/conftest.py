"""Suite-wide: whatever is logged during the whole session holds no secret and no whole payload.

Every log record is kept (`tests.log_registry.watch`), and when the session ends the run fails if
any of them contains a registered webhook secret, API token, Apprise credential or posted body.
The check runs in `pytest_sessionfinish` rather than in a test ordered last, so it covers any
selection of tests (`-k`, one file, a re-run of failures) and records logged by session fixtures.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator

import pytest
from aiosmtpd.controller import Controller

from tests import log_registry
from tests.integration.harness import Inbox, free_port

# Loggers made verbose for the session, so that their DEBUG records are checked too. Apprise at
# 1 (its TRACE) is what the notifier's redaction filter guards against. `temporalio.workflow` and
# `temporalio.activity` carry what our workflows and activities log; the rest of the SDK stays at
# INFO, as its DEBUG dumps every activation into a failing test's report. Other loggers keep their
# level and their warnings are checked all the same. Not SQLAlchemy: below WARNING it logs every
# statement with its parameters, which no deployment of flexhook turns on. Not uvicorn: each
# server the tests start sets its loggers' levels from its own config.
VERBOSE: dict[str, int] = {
    "flexhook": logging.DEBUG,
    "app": logging.DEBUG,
    "activities": logging.DEBUG,
    "workflows": logging.DEBUG,
    "notifications": logging.DEBUG,
    "temporalio": logging.INFO,
    "temporalio.workflow": logging.DEBUG,
    "temporalio.activity": logging.DEBUG,
    "httpx": logging.DEBUG,
    "apprise": 1,
}

_leaks = pytest.StashKey[list[log_registry.Leak]]()
_unwatch = pytest.StashKey[Callable[[], None]]()
_levels_before = pytest.StashKey[dict[str, int]]()


def _make_verbose() -> dict[str, int]:
    before: dict[str, int] = {}
    for name, level in VERBOSE.items():
        logger = logging.getLogger(name)
        before[name] = logger.level
        logger.setLevel(level)
    return before


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_unwatch] = log_registry.watch(log_registry.default)
    config.stash[_levels_before] = _make_verbose()


def pytest_unconfigure(config: pytest.Config) -> None:
    config.stash[_unwatch]()
    for name, level in config.stash[_levels_before].items():
        logging.getLogger(name).setLevel(level)


def pytest_runtest_setup(item: pytest.Item) -> None:
    # A test or a CLI it runs may have changed levels without putting them back.
    for name, level in VERBOSE.items():
        logging.getLogger(name).setLevel(level)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    leaks = log_registry.default.leaks()
    session.config.stash[_leaks] = leaks
    if not leaks:
        return
    if session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    if session.config.pluginmanager.get_plugin("terminalreporter") is None:
        for line in _report(leaks):
            print(line, file=sys.stderr)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    leaks = terminalreporter.config.stash.get(_leaks, [])
    registry = log_registry.default
    if leaks:
        terminalreporter.section("secrets or payloads in the logs", sep="=", red=True, bold=True)
        for line in _report(leaks):
            terminalreporter.line(line, red=True)
    elif terminalreporter.verbosity >= 0:
        terminalreporter.line(
            f"log watch: {registry.record_count} log records hold no registered secret or payload"
        )


def _report(leaks: list[log_registry.Leak]) -> list[str]:
    return [
        "These log records hold a value registered with tests.log_registry (masked here);",
        "the run fails whatever the tests said:",
        *(f"  {leak}" for leak in leaks),
    ]


@pytest.fixture
def quiet_test_client() -> Iterator[None]:
    """For a test whose own HTTP client asks for URLs holding tokens (share and follow links):
    httpx logs each URL it asks for at INFO; flexhook's server logs none (uvicorn's access log
    is off), and the tokens stay watched for in every other log. Restored after the test."""
    logger = logging.getLogger("httpx")
    before = logger.level
    logger.setLevel(logging.WARNING)
    yield
    logger.setLevel(before)


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    """A real SMTP server (aiosmtpd) on a free loopback port, keeping what it receives."""
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


# Each folder is one kind of test; the marker follows the folder, so `-m unit` is the fast loop
# and `-m "not chaos"` leaves out the tests that kill processes.
_MARKER_BY_FOLDER = {"unit": "unit", "integration": "integration", "chaos": "chaos"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        folder = item.path.parent.name
        if folder in _MARKER_BY_FOLDER:
            item.add_marker(_MARKER_BY_FOLDER[folder])
