"""Reconciliation's edges without servers: the CLI's refusals, the page activity's failures as
Temporal sees them, and the schedule the worker keeps."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from temporalio.client import ScheduleActionStartWorkflow, ScheduleOverlapPolicy
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.reconcile import NOT_CONFIGURED, ReconcileActivities
from activities.types import ReconcilePageInput, ReconcilePageResult
from app import bootstrap
from app.cli import main
from app.flexport_api.client import FlexportClient
from app.settings import load_settings
from app.store import db
from app.store.reconcile_runs import Tally
from workflows.types import ReconcileInput
from workflows.worker import ReconcileSchedule, apply_reconcile_schedule, reconcile_schedule

PREFIXES = ("FLEXHOOK_", "FLEXPORT_", "TEMPORAL_", "DATABASE_URL")
WINDOW = ReconcilePageInput(since="2026-03-01T00:00:00+00:00", until="2026-03-04T00:00:00+00:00")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.upper().startswith(PREFIXES):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'flexhook.db'}")


# -- the command line ---------------------------------------------------------------------------


def test_reconcile_without_a_token_says_which_variable(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["reconcile"])

    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "Error: FLEXPORT_API_TOKEN is not set: reconcile lists Flexport's events with it"
    ]


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (
            ["--since", "2026-03-02", "--until", "2026-03-01"],
            "must not be after --until (default: now)",
        ),
        (["--since", "last tuesday"], "is not an ISO 8601 time"),
    ],
)
def test_reconcile_refuses_a_window_it_cannot_read(
    monkeypatch: pytest.MonkeyPatch, args: list[str], complaint: str
) -> None:
    monkeypatch.setenv("FLEXPORT_API_TOKEN", "a-token-for-the-test")

    result = CliRunner().invoke(main, ["reconcile", *args])

    assert result.exit_code == 2
    assert complaint in result.output
    assert "Traceback" not in result.output


# -- the page activity --------------------------------------------------------------------------


class CountingReconciler:
    def __init__(self) -> None:
        self.pages: list[int] = []

    async def reconcile_page(
        self, events: Sequence[dict[str, Any]], *, dry_run: bool = False
    ) -> Tally:
        self.pages.append(len(events))
        return Tally(listed=len(events), known=1, missing=len(events) - 1, started=1)


def flexport(handler: Callable[[httpx.Request], httpx.Response]) -> FlexportClient:
    return FlexportClient(
        token="a-token-for-the-test",
        base_url="https://api.flexport.test",
        max_retries=0,
        transport=httpx.MockTransport(handler),
    )


def activities(client: FlexportClient | None, tmp_path: Path) -> ReconcileActivities:
    engine = db.create_db_engine(f"sqlite:///{tmp_path / 'flexhook.db'}")
    return ReconcileActivities(engine=engine, flexport=client, reconciler=CountingReconciler())


def envelope(events: list[dict[str, Any]], next_url: str | None) -> httpx.Response:
    collection = {"_object": "/api/collections/paginated", "next": next_url, "data": events}
    return httpx.Response(200, json={"_object": "/api/response", "data": collection})


async def test_a_page_lists_compares_and_says_where_the_next_one_is(tmp_path: Path) -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return envelope([{"id": 1}, {"id": 2}], "https://api.flexport.test/events?page=2")

    result = await ActivityEnvironment().run(
        activities(flexport(answer), tmp_path).reconcile_page, WINDOW
    )

    assert result == ReconcilePageResult(
        next_url="https://api.flexport.test/events?page=2",
        listed=2,
        known=1,
        missing=1,
        started=1,
        errors=[],
    )
    assert seen[0].url.params["f.occurred_at.gte"] == WINDOW.since
    assert seen[0].url.params["f.occurred_at.lte"] == WINDOW.until


async def test_a_refused_token_fails_the_page_for_good(tmp_path: Path) -> None:
    client = flexport(lambda request: httpx.Response(401, json={}))

    with pytest.raises(ApplicationError) as failure:
        await ActivityEnvironment().run(activities(client, tmp_path).reconcile_page, WINDOW)

    assert failure.value.type == "FlexportAuthError"
    assert failure.value.non_retryable
    assert "FLEXPORT_API_TOKEN" in str(failure.value)


async def test_a_throttled_page_is_retried_after_the_wait_flexport_asks_for(
    tmp_path: Path,
) -> None:
    client = flexport(lambda request: httpx.Response(429, headers={"Retry-After": "120"}))

    with pytest.raises(ApplicationError) as failure:
        await ActivityEnvironment().run(activities(client, tmp_path).reconcile_page, WINDOW)

    assert failure.value.type == "FlexportUnavailable"
    assert not failure.value.non_retryable
    assert failure.value.next_retry_delay == timedelta(seconds=120)


async def test_a_worker_without_a_token_fails_the_page_saying_so(tmp_path: Path) -> None:
    with pytest.raises(ApplicationError) as failure:
        await ActivityEnvironment().run(activities(None, tmp_path).reconcile_page, WINDOW)

    assert failure.value.type == NOT_CONFIGURED
    assert failure.value.non_retryable
    assert "FLEXPORT_API_TOKEN is not set" in str(failure.value)


# -- the schedule -------------------------------------------------------------------------------


def test_the_schedule_runs_every_interval_skipping_overlaps() -> None:
    schedule = reconcile_schedule(
        task_queue="flexhook", every=timedelta(minutes=15), lookback=timedelta(hours=72)
    )

    assert [spec.every for spec in schedule.spec.intervals] == [timedelta(minutes=15)]
    assert schedule.policy.overlap == ScheduleOverlapPolicy.SKIP
    assert schedule.policy.catchup_window == timedelta(minutes=15)
    action = schedule.action
    assert isinstance(action, ScheduleActionStartWorkflow)
    assert (action.workflow, action.task_queue, action.id) == (
        "ReconcileWorkflow",
        "flexhook",
        "flexhook-reconcile",
    )
    assert action.args == [ReconcileInput(lookback_seconds=259200.0, trigger="schedule")]
    assert schedule.state.note is not None and "every 15m, lookback 72h" in schedule.state.note


@pytest.mark.parametrize(
    ("env", "every", "reason"),
    [
        ({"FLEXPORT_API_TOKEN": "t0ken-for-test"}, timedelta(minutes=15), ""),
        ({}, None, "FLEXPORT_API_TOKEN is not set"),
        (
            {"FLEXPORT_API_TOKEN": "t0ken-for-test", "FLEXHOOK_RECONCILE_EVERY": "0"},
            None,
            "FLEXHOOK_RECONCILE_EVERY is 0",
        ),
    ],
)
def test_the_schedule_is_on_only_with_a_token_and_a_period(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], every: timedelta | None, reason: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    schedule = bootstrap.reconcile_schedule(load_settings())

    assert schedule == ReconcileSchedule(
        every=every, lookback=timedelta(hours=72), off_reason=reason
    )


class Untouchable:
    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the client was used ({name}) while the schedule is off")


async def test_an_off_schedule_touches_nothing_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    off = ReconcileSchedule(
        every=None, lookback=timedelta(hours=72), off_reason="FLEXPORT_API_TOKEN is not set"
    )

    with caplog.at_level(logging.INFO, logger="flexhook.worker"):
        await apply_reconcile_schedule(Untouchable(), task_queue="flexhook", schedule=off)  # type: ignore[arg-type]

    [message] = [r.getMessage() for r in caplog.records if r.name == "flexhook.worker"]
    assert "not created (FLEXPORT_API_TOKEN is not set)" in message
    assert "nothing is deleted" in message


def test_the_workflow_input_defaults_to_the_settings_lookback() -> None:
    assert ReconcileInput().lookback_seconds == timedelta(hours=72).total_seconds()
