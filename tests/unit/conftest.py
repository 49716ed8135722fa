"""Shared fixtures of the unit tests: the packaged sample deliveries, and a migrated database
for the command line."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from app.cli import main
from tests.helpers import read_sample


@pytest.fixture
def sample() -> Callable[[str], bytes]:
    """Read a packaged sample's exact bytes by its number or name (`tests.helpers.read_sample`)."""
    return read_sample


@pytest.fixture
def cli_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A SQLite file at the newest migration, as `DATABASE_URL` for the commands; its URL."""
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'flexhook.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    # The commands' examples name loopback hosts, which destinations may reach only when listed.
    monkeypatch.setenv("FLEXHOOK_DESTINATION_ALLOW", "127.0.0.1")
    upgraded = CliRunner().invoke(main, ["db", "upgrade"])
    assert upgraded.exit_code == 0, upgraded.output
    return url
