"""What Temporal itself says about a batch of workflows: billable actions from the dev server's
`action` counter, completions from visibility, and the length of their histories.

The dev server's Prometheus endpoint (`--metrics-port`) serves `action{action_type, namespace,
operation, service_name}`, which tracks Temporal Cloud's billable actions (local activities
included). Scraped before and after a batch, the difference summed over the labels of one
namespace, divided by the workflows completed, is the actions per workflow. Visibility calls
(count, list) and history fetches are not actions, so measuring does not disturb it.
"""

from __future__ import annotations

import asyncio
import re
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client

_SAMPLE = re.compile(r"^action\{(?P<labels>[^}]*)\}\s+(?P<value>\S+)$")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def scrape_actions(metrics_url: str, *, namespace: str = "default") -> dict[str, float]:
    """The `action` counter of `namespace` by action type (its other labels summed over)."""
    with urllib.request.urlopen(metrics_url, timeout=10) as response:
        text = response.read().decode("utf-8", errors="replace")
    found: dict[str, float] = {}
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if not match:
            continue
        labels = dict(_LABEL.findall(match["labels"]))
        if labels.get("namespace") != namespace:
            continue  # the dev server's own system workflows run in `temporal_system`
        kind = labels.get("action_type", "?")
        found[kind] = found.get(kind, 0.0) + float(match["value"])
    return found


# The server flushes its metrics about once a second: an action shows up to ~1 s late.
FLUSH_SECONDS = 1.2


def settled_actions(metrics_url: str, *, namespace: str = "default") -> dict[str, float]:
    """`scrape_actions` once the counter has caught up: a flush interval after the work, two
    scrapes half a flush interval apart that agree."""
    time.sleep(FLUSH_SECONDS)
    last = scrape_actions(metrics_url, namespace=namespace)
    for _ in range(20):
        time.sleep(FLUSH_SECONDS / 2)
        now = scrape_actions(metrics_url, namespace=namespace)
        if now == last:
            return now
        last = now
    return last


def difference(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """Per action type, what was added between two scrapes."""
    return {k: v - before.get(k, 0.0) for k, v in sorted(after.items()) if v != before.get(k)}


@dataclass(frozen=True)
class Batch:
    """The workflows whose id starts with `prefix`."""

    prefix: str

    def query(self, condition: str) -> str:
        return f"WorkflowId STARTS_WITH '{self.prefix}' AND {condition}"


async def wait_closed(
    client: Client, batch: Batch, *, expected: int, timeout: float = 300.0
) -> dict[str, int]:
    """Wait until `expected` workflows of `batch` are closed; their count by status."""
    deadline = time.monotonic() + timeout
    closed = 0
    while time.monotonic() < deadline:
        closed = (await client.count_workflows(batch.query("ExecutionStatus != 'Running'"))).count
        if closed >= expected:
            break
        await asyncio.sleep(0.25)
    statuses: dict[str, int] = {}
    for status in ("Completed", "Failed", "Terminated", "TimedOut", "Canceled"):
        n = (await client.count_workflows(batch.query(f"ExecutionStatus = '{status}'"))).count
        if n:
            statuses[status.lower()] = n
    return statuses


def _event_name(value: int) -> str:
    return EventType.Name(value).removeprefix("EVENT_TYPE_")  # type: ignore[arg-type]


async def histories(client: Client, batch: Batch, *, sample: int = 1) -> dict[str, Any]:
    """History lengths (visibility's `HistoryLength`) of every completed workflow of `batch`, and
    the event types of `sample` of them fetched whole."""
    lengths: list[int] = []
    ids: list[str] = []
    async for execution in client.list_workflows(batch.query("ExecutionStatus = 'Completed'")):
        lengths.append(execution.history_length)
        if len(ids) < sample:
            ids.append(execution.id)
    sequences = []
    for workflow_id in ids:
        history = await client.get_workflow_handle(workflow_id).fetch_history()
        sequences.append([_event_name(event.event_type) for event in history.events])
    return {
        "workflows": len(lengths),
        "mean": sum(lengths) / len(lengths) if lengths else None,
        "min": min(lengths, default=None),
        "max": max(lengths, default=None),
        "sample": sequences,
    }


async def wait_closed_where(
    client: Client, query: str, *, expected: int, timeout: float = 300.0
) -> dict[str, int]:
    """Wait until `expected` workflows matching the visibility `query` are closed; their count
    by status."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        closed = await client.count_workflows(f"{query} AND ExecutionStatus != 'Running'")
        if closed.count >= expected:
            break
        await asyncio.sleep(0.25)
    statuses: dict[str, int] = {}
    for status in ("Completed", "Failed", "Terminated", "TimedOut", "Canceled", "Running"):
        n = (await client.count_workflows(f"{query} AND ExecutionStatus = '{status}'")).count
        if n:
            statuses[status.lower()] = n
    return statuses


def billable(events: Sequence[HistoryEvent]) -> float:
    """A history's billable actions by Temporal Cloud's rules: the start (a continued run's
    too), each signal, timer, search-attribute upsert and activity attempt, and the local
    activities of one workflow task counted once (each retry of one once more). A signal-with-
    start that started the run is one action for both: its signal is the history's second
    event, before any workflow task."""
    actions = 0.0
    local_tasks: set[int] = set()
    for index, event in enumerate(events):
        kind = event.event_type
        if kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED and index == 1:
            continue  # came with the start (signal-with-start)
        if kind in _ONE_ACTION:
            actions += 1
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            actions += max(1, event.activity_task_started_event_attributes.attempt)
        elif kind == EventType.EVENT_TYPE_MARKER_RECORDED:
            task = event.marker_recorded_event_attributes.workflow_task_completed_event_id
            if task not in local_tasks:
                local_tasks.add(task)
                actions += 1
    return actions


_ONE_ACTION = frozenset(
    {
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED,
        EventType.EVENT_TYPE_TIMER_STARTED,
        EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES,
        EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED,
        EventType.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED,
    }
)


async def billable_since(
    client: Client, task_queue: str, *, started_after: datetime
) -> dict[str, dict[str, float]]:
    """Per workflow type, the runs on `task_queue` started after `started_after` (closed or
    not) and their billable actions read from their histories (`billable`)."""
    query = f"TaskQueue = '{task_queue}' AND StartTime > '{started_after.isoformat()}'"
    found: dict[str, dict[str, float]] = {}
    async for execution in client.list_workflows(query):
        handle = client.get_workflow_handle(execution.id, run_id=execution.run_id)
        history = await handle.fetch_history()
        entry = found.setdefault(execution.workflow_type, {"actions": 0.0, "workflows": 0})
        entry["actions"] += billable(history.events)
        entry["workflows"] += 1
    return found
