"""Shared fixtures of the unit tests: the packaged sample deliveries."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.helpers import read_sample


@pytest.fixture
def sample() -> Callable[[str], bytes]:
    """Read a packaged sample's exact bytes by its number or name (`tests.helpers.read_sample`)."""
    return read_sample
