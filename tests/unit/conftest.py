"""Shared fixtures of the unit tests: the packaged sample deliveries."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import app

SAMPLES_DIR = Path(app.__file__).parent / "samples"


def sample_path(prefix: str) -> Path:
    """The packaged sample whose file name starts with `prefix` (`"06"` or `"06_leg_departed"`)."""
    matches = sorted(SAMPLES_DIR.glob(f"{prefix}*.json"))
    assert len(matches) == 1, f"expected one sample named {prefix}*, found {matches}"
    return matches[0]


@pytest.fixture
def sample() -> Callable[[str], bytes]:
    """Read a packaged sample's exact bytes by its number or name."""

    def read(prefix: str) -> bytes:
        return sample_path(prefix).read_bytes()

    return read
