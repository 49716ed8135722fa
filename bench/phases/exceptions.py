"""The `exceptions` phase: what one exception costs Temporal over its life, beside the events
that open and close it (the baseline, measured in the same run).

Three lives, `EXCEPTION_LIVES` of each, every one on a shipment of its own, through the real web
process and workers (alerts to a local json:// sink, tagged for every kind and `escalation`):

- `cleared`: a customs hold, acknowledged over the API, then released by Flexport;
- `escalated`: a departure delay nobody acknowledges, escalated at its SLA (2 s here), then
  cleared by the departure;
- `by_hand`: a customs hold acknowledged, then resolved over the API with a note.

For each life the figures are the `action` counter's difference over the whole batch (events and
exceptions together), and, read from the closed workflows' histories, the part of the event
workflows (`FlexportEvent`, the baseline) and of the exception watches (`ExceptionWatch`), so
the watch's actions per exception read against the events' own. `temporal_stats.billable`
counts a history's actions by Temporal Cloud's rules; that its total matches the counter is
the check that the split is right.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from app.core.signature import sign
from bench import payloads, temporal_stats
from bench.options import Options
from bench.phases.cost import start_sink
from bench.procs import BenchError, Proc
from bench.stack import Stack

EXCEPTION_LIVES = 10  # of each life
QUEUE = "bench-exceptions"
SLA = "critical=2s,high=2s,normal=2s"
HOLD = "/shipment#customs_agriculture_hold"
DELAY = "/shipment#vessel_delay_port_congestion"
SINK_TAGS = "customs, exception, escalation"  # the problem alerts and the escalations


def measure(stack: Stack, options: Options) -> dict[str, Any]:
    """`exceptions`: per life, actions per exception (watch), per life's events (baseline) and
    the counter's total."""
    stack.echo(
        f"exceptions: Temporal actions over an exception's life, {EXCEPTION_LIVES} of each life "
        "(cleared by Flexport, escalated then cleared, resolved by hand)"
    )
    procs: list[Proc] = []
    lives: dict[str, dict[str, Any]] = {}
    try:
        port = _start(stack, procs)
        shipments = itertools.count(7_000_000, 1000)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            life = Life(stack, http)
            for name, run_one in (
                ("cleared", life.cleared),
                ("escalated", life.escalated),
                ("by_hand", life.by_hand),
            ):
                lives[name] = life.measure(name, run_one, shipments=shipments)
                stack.echo(f"  {name}: {brief(lives[name])}")
    finally:
        for proc in reversed(procs):
            proc.stop()
    return {"exceptions": {"lives": EXCEPTION_LIVES, "sla": SLA, "by_life": lives}}


def brief(result: dict[str, Any]) -> str:
    return (
        f"{result['watch_actions_per_exception']:.2f} actions per exception (watch) beside "
        f"{result['event_actions_per_life']:.2f} for its {result['events_per_life']} events "
        f"(ratio {result['ratio']:.2f}); counter {result['counter_per_life']:.2f} per life, "
        f"histories {result['histories_per_life']:.2f}"
    )


def _start(stack: Stack, procs: list[Proc]) -> int:
    """The sink, the web process and the workers, with short SLAs: the web's port."""
    sink, sink_port = start_sink(stack, "sink-exceptions")
    procs.append(sink)
    config = stack.work / "notify-exceptions.yml"
    config.write_text(
        f'urls:\n  - "json://127.0.0.1:{sink_port}/alerts":\n      tag: {SINK_TAGS}\n'
    )
    clocks = {"FLEXHOOK_EXCEPTION_ACK_SLA": SLA, "FLEXHOOK_EXCEPTION_RESOLVE_SLA": "critical=1h"}
    database = stack.database("exceptions")
    web, port = stack.start_web("exceptions", queue=QUEUE, database=database, env=clocks)
    procs.append(web)
    procs += stack.start_workers(
        "exceptions", queue=QUEUE, database=database, notify_config=config, env=clocks
    )
    return port


class Life:
    """Drives exceptions through their lives over HTTP, as Flexport and a person would."""

    def __init__(self, stack: Stack, http: httpx.Client) -> None:
        self.stack = stack
        self.http = http
        self.ids = itertools.count(1)
        self.templates = {t.name: t for t in payloads.templates()}
        self.lived = 0  # exceptions driven so far: their watches all close

    def post(self, sample: str, shipment: str, *, event_type: str | None = None) -> None:
        """One signed Flexport event of `sample` (retyped to `event_type`) about `shipment`."""
        event_id = f"{self.stack.tag('exc')}-{next(self.ids)}"
        payload = json.loads(self.templates[sample].render(event_id, shipment))
        if event_type is not None:
            payload["type"] = event_type
        body = json.dumps(payload, separators=(",", ":")).encode()
        answer = self.http.post(
            payloads.WEBHOOK_PATH,
            content=body,
            headers={
                "content-type": "application/json",
                "x-hub-signature-256": sign(body, self.stack.secret),
            },
        )
        if answer.status_code != 200:
            raise BenchError(f"event {event_id}: {answer.status_code} {answer.text[:200]}")
        self.wait(lambda: self._event_done(event_id), f"event {event_id} processed")

    def _event_done(self, event_id: str) -> bool:
        answer = self.api("GET", f"/api/events/{event_id}")
        return answer.status_code == 200 and answer.json().get("status") != "processing"

    def api(self, method: str, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        headers = {"authorization": f"Bearer {self.stack.token}"}
        return self.http.request(method, path, json=body, headers=headers)

    def exception_of(self, shipment: str) -> dict[str, Any]:
        """The shipment's one exception, once the event has opened it."""
        found: list[dict[str, Any]] = []

        def opened() -> bool:
            answer = self.api("GET", f"/api/exceptions?shipment_id={shipment}")
            found[:] = answer.json().get("exceptions", []) if answer.status_code == 200 else []
            return len(found) == 1

        self.wait(opened, f"the exception of shipment {shipment}")
        return found[0]

    def act(self, exception_id: int, action: str, **body: Any) -> None:
        answer = self.api("POST", f"/api/exceptions/{exception_id}/{action}", body)
        if answer.status_code != 200:
            raise BenchError(f"{action} {exception_id}: {answer.status_code} {answer.text[:200]}")

    def timeline_has(self, exception_id: int, what: str) -> bool:
        answer = self.api("GET", f"/api/exceptions/{exception_id}")
        return any(entry["what"] == what for entry in answer.json().get("timeline", []))

    def wait(self, ready: Callable[[], bool], what: str, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            if time.monotonic() > deadline:
                raise BenchError(f"timed out waiting for {what}")
            time.sleep(0.1)

    # -- the lives: each returns how many events it posted --------------------------------------

    def cleared(self, shipment: str) -> int:
        self.post("01_shipment_created", shipment, event_type=HOLD)
        exception = self.exception_of(shipment)
        self.act(exception["id"], "acknowledge", note="broker called")
        self.post("11_customs_released", shipment)
        return 2

    def escalated(self, shipment: str) -> int:
        self.post("01_shipment_created", shipment, event_type=DELAY)
        exception = self.exception_of(shipment)
        self.wait(lambda: self.timeline_has(exception["id"], "escalated"), "the escalation")
        self.post("06_leg_departed", shipment)
        return 2

    def by_hand(self, shipment: str) -> int:
        self.post("01_shipment_created", shipment, event_type=HOLD)
        exception = self.exception_of(shipment)
        self.act(exception["id"], "acknowledge")
        self.act(exception["id"], "resolve", note="paid the exam fee; released at the terminal")
        return 1

    def measure(
        self, name: str, run_one: Callable[[str], int], *, shipments: itertools.count[int]
    ) -> dict[str, Any]:
        """`EXCEPTION_LIVES` lives of one kind: the counter's difference and the split."""
        stack = self.stack
        before = temporal_stats.settled_actions(stack.metrics_url)
        started = datetime.now(UTC) - timedelta(seconds=1)
        clock = time.monotonic()
        first = next(shipments)
        events = sum(run_one(str(first + index)) for index in range(EXCEPTION_LIVES))
        self.lived += EXCEPTION_LIVES
        watches = f"TaskQueue = '{QUEUE}' AND WorkflowType = 'ExceptionWatch'"
        statuses = stack.temporal_call(
            lambda client: temporal_stats.wait_closed_where(client, watches, expected=self.lived)
        )
        counter = temporal_stats.difference(
            before, temporal_stats.settled_actions(stack.metrics_url)
        )
        since = stack.temporal_call(
            lambda client: temporal_stats.billable_since(client, QUEUE, started_after=started)
        )
        watch = since.get("ExceptionWatch", {"actions": 0.0, "workflows": 0})
        event = since.get("FlexportEvent", {"actions": 0.0, "workflows": 0})
        watch_per = watch["actions"] / EXCEPTION_LIVES
        event_per = event["actions"] / EXCEPTION_LIVES
        return {
            "events_per_life": events // EXCEPTION_LIVES,
            "watch_statuses": statuses,
            "watch_actions_per_exception": watch_per,
            "event_actions_per_life": event_per,
            "ratio": watch_per / event_per if event_per else None,
            "counter_per_life": sum(counter.values()) / EXCEPTION_LIVES,
            "counter_by_type": counter,
            "histories_per_life": (watch["actions"] + event["actions"]) / EXCEPTION_LIVES,
            "by_workflow_type": since,
            "seconds": round(time.monotonic() - clock, 2),
        }
