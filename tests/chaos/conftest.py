"""Fixtures of the chaos tests: a real SMTP server and stacks of real processes that are always
killed at the end, whatever happened."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.chaos.stack import ChaosStack, StackFactory
from tests.integration.harness import Inbox


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "chaos: kills and restarts real processes (Temporal, worker, web)"
    )


@pytest.fixture
def inbox(smtp: tuple[Inbox, int]) -> Inbox:
    return smtp[0]


@pytest.fixture
async def make_stack(smtp: tuple[Inbox, int], tmp_path: Path) -> AsyncIterator[StackFactory]:
    """Start stacks (Temporal dev server, worker, web) as processes mailing the `smtp` server. Every
    process any of them started is killed at teardown, even when the test failed half-way."""
    stacks: list[ChaosStack] = []

    async def make(*, with_worker: bool = True) -> ChaosStack:
        root = tmp_path / f"stack-{len(stacks) + 1}"
        root.mkdir()
        stack = ChaosStack(root, smtp_port=smtp[1])
        stacks.append(stack)
        await stack.start(with_worker=with_worker)
        return stack

    try:
        yield make
    finally:
        for stack in stacks:
            await stack.close()
