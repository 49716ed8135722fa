"""What tests of every kind share: where the recorded Flexport samples are, `deliver` (one event
through the worker's own processing), and `eventually`.

The samples live in two places. `PACKAGED_SAMPLES` (`app/samples/`) is the copy shipped inside
the package, which tests read; `SHARED_SAMPLES` (`../shared/flexport/samples`, beside the
repository) is the recorded original, which only `tests/unit/test_samples_packaged.py` reads to
check that the packaged copy is byte-identical to it.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar, overload

from sqlalchemy.engine import Engine

import app
from activities.delivery import NotificationActivities
from activities.processing import EventActivities
from activities.types import ProcessEventInput
from app.core.events import parse_event
from app.core.ids import event_workflow_id
from app.core.outcome import EventOutcome
from notifications.destinations import NotifyConfig
from notifications.notifier import Notifier
from notifications.render import Renderer

T = TypeVar("T")

REPO_ROOT = Path(__file__).resolve().parents[1]
PACKAGED_SAMPLES = Path(app.__file__).resolve().parent / "samples"
SHARED_SAMPLES = REPO_ROOT.parent / "shared" / "flexport" / "samples"


def sample_paths(folder: Path = PACKAGED_SAMPLES) -> list[Path]:
    """Every `*.json` sample in `folder`, in file-name order (the order events happen in)."""
    return sorted(folder.glob("*.json"))


def sample_names() -> list[str]:
    """The packaged samples' names without `.json`, e.g. `06_leg_departed`."""
    return [path.stem for path in sample_paths()]


def sample_path(prefix: str) -> Path:
    """The packaged sample whose file name starts with `prefix` (`"06"` or `"06_leg_departed"`);
    fails unless exactly one does."""
    matches = sorted(PACKAGED_SAMPLES.glob(f"{prefix}*.json"))
    assert len(matches) == 1, f"expected one sample named {prefix}*, found {matches}"
    return matches[0]


def read_sample(prefix: str) -> bytes:
    """A packaged sample's exact bytes, as Flexport delivered them."""
    return sample_path(prefix).read_bytes()


def load_sample(prefix: str) -> dict[str, Any]:
    """A packaged sample, parsed."""
    payload: dict[str, Any] = json.loads(read_sample(prefix))
    return payload


@overload
async def eventually(
    check: Callable[[], Awaitable[T]],
    *,
    timeout: float = ...,
    interval: float = ...,
    what: str = ...,
) -> T: ...


@overload
async def eventually(
    check: Callable[[], T],
    *,
    timeout: float = ...,
    interval: float = ...,
    what: str = ...,
) -> T: ...


async def eventually(
    check: Callable[[], Any],
    *,
    timeout: float = 30.0,
    interval: float = 0.1,
    what: str = "the condition",
) -> Any:
    """Call `check` (plain or async) every `interval` seconds until it returns a true value
    without raising `AssertionError`, and return that value. After `timeout` seconds, raise its
    last `AssertionError`, or one saying how long it waited for `what`."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = check()
            value = await result if inspect.isawaitable(result) else result
            if value:
                return value
            failure = AssertionError(f"still waiting after {timeout:.0f} s for {what}")
        except AssertionError as raised:
            failure = raised
        if time.monotonic() > deadline:
            raise failure
        await asyncio.sleep(interval)


def deliver(
    engine: Engine,
    body: bytes,
    *,
    received_at: datetime | None = None,
    eta_slip_hours: float = 24.0,
) -> EventOutcome:
    """Log, apply and decide one delivery in one transaction: the worker's `process_event`
    itself, with no destination configured (so nothing is sent) and no ETA watch."""
    notifications = NotificationActivities(engine, Notifier(Renderer()), config=NotifyConfig(None))
    processing = EventActivities(engine, notifications, eta_slip_hours=eta_slip_hours)
    event = parse_event(body)
    processed = processing.process_event(
        ProcessEventInput(
            event_id=event.event_id,
            body=body.decode("utf-8"),
            workflow_id=event_workflow_id(event.event_id),
            received_at=(received_at or datetime.now(UTC)).isoformat(),
        )
    )
    return processed.outcome
