"""The whole of flexhook as separate real processes: a Temporal dev server from the binary on an
SQLite file, `flexhook worker` and `flexhook web`, plus the waits and checks chaos tests share."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import secrets
import sqlite3
import subprocess
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client, WorkflowExecutionStatus

from activities.delivery import UNKNOWN_OUTCOME
from app.core.alert import Alert
from app.core.ids import event_workflow_id
from app.core.signature import sign
from app.dev.temporal_dev import dev_server_argv
from tests.chaos.journeys import Copy, Delivery, Records, comparable
from tests.chaos.processes import Process
from tests.integration.harness import Inbox, free_port, temporal_binary

log = logging.getLogger("tests.chaos")

ALL_KINDS = "departed, arrived, delivered, eta, customs, exception"
# How an email's subject starts, per alert kind (notifications/templates/title/).
SUBJECT_KINDS = (
    ("Departed", "departed"),
    ("Arrived", "arrived"),
    ("Delivered", "delivered"),
    ("ETA moved", "eta"),
    ("Customs", "customs"),
    ("Exception", "exception"),
)
# FLEXHOOK_START_TIMEOUT of the web process: how long a delivery may wait for Temporal.
START_TIMEOUT_SECONDS = 1.0
# The children's environment is built here, not inherited: no setting of the developer's (nor a
# Temporal profile under their HOME) leaks in.
_INHERITED = ("PATH", "LANG", "LC_ALL", "TZ", "TMPDIR")


@dataclass
class Answer:
    delivery: Delivery
    status_code: int
    body: dict[str, Any]
    seconds: float  # how long the web process took to answer

    @property
    def status(self) -> str:
        return str(self.body.get("status"))


@dataclass
class Progress:
    """What a sender has done so far; chaos steps key on it."""

    answers: list[Answer] = field(default_factory=list)

    @property
    def sent(self) -> int:
        return len(self.answers)

    def statuses(self) -> Counter[str]:
        return Counter(answer.status for answer in self.answers)


class ChaosStack:
    """Temporal, workers and the web app of one test, each a real process in `root`."""

    def __init__(self, root: Path, *, smtp_port: int) -> None:
        self.root = root
        self.temporal_port = free_port()
        self.web_port = free_port()
        self.task_queue = f"chaos-{uuid.uuid4().hex}"
        self.secret = secrets.token_urlsafe(24)
        self.api_token = secrets.token_urlsafe(24)
        self.database = root / "flexhook.db"
        notify_config = root / "notifications.yml"
        mailto = (
            f"mailto://127.0.0.1:{smtp_port}?from=flexhook@example.com&to=ops@example.com"
            "&mode=insecure"
        )
        notify_config.write_text(f'urls:\n  - "{mailto}":\n      tag: {ALL_KINDS}\n', "utf-8")
        bin_dir = Path(sys.executable).parent
        self.flexhook = str(bin_dir / "flexhook")
        base = {name: os.environ[name] for name in _INHERITED if name in os.environ}
        base["HOME"] = str(root)
        self.env = {
            **base,
            "TEMPORAL_ADDRESS": self.temporal_address,
            "DATABASE_URL": f"sqlite:///{self.database}",
            "FLEXHOOK_DATA_DIR": str(root),
            "FLEXHOOK_TASK_QUEUE": self.task_queue,
            "FLEXHOOK_NOTIFY_CONFIG": str(notify_config),
            "FLEXPORT_WEBHOOK_SECRET": self.secret,
            "FLEXHOOK_API_TOKEN": self.api_token,
            "FLEXHOOK_START_TIMEOUT": str(START_TIMEOUT_SECONDS),
            "FLEXHOOK_PUBLIC_URL": f"http://127.0.0.1:{self.web_port}",
            "FLEXHOOK_METRICS_ADDRESS": f"127.0.0.1:{free_port()}",
            # The SMTP server the alerts go to is on loopback: an internal address to allow.
            "FLEXHOOK_DESTINATION_ALLOW": "127.0.0.1",
        }
        self.temporal = Process(
            "temporal",
            dev_server_argv(
                temporal_binary(),
                host="127.0.0.1",
                port=self.temporal_port,
                ui_port=None,  # headless
                db_file=root / "temporal.db",
            ),
            env=base,
            cwd=root,
        )
        self.workers: list[Process] = []
        self.web = Process(
            "web", [self.flexhook, "web", "--port", str(self.web_port)], env=self.env, cwd=root
        )
        self.http = httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{self.web_port}", timeout=30, trust_env=False
        )
        self.client: Client | None = None

    @property
    def temporal_address(self) -> str:
        return f"127.0.0.1:{self.temporal_port}"

    @property
    def processes(self) -> list[Process]:
        return [self.web, *self.workers, self.temporal]

    # -- life and death -------------------------------------------------------------------------

    async def start(self, *, with_worker: bool = True) -> None:
        """Temporal, then the schema, a worker and the web process, each ready before the next."""
        await self.start_temporal()
        upgrade = subprocess.run(
            [self.flexhook, "db", "upgrade"],
            env=self.env,
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert upgrade.returncode == 0, f"flexhook db upgrade failed:\n{upgrade.stderr}"
        if with_worker:
            await self.start_worker()
        self.web.start()
        await self.wait_until(self._web_ready, timeout=30, what="the web process to be ready")

    async def start_temporal(self) -> None:
        """Start (or start again) the dev server on the same port and database file."""
        self.temporal.start()
        self.client = None
        self.client = await self.wait_until(
            self._temporal_client, timeout=60, what="the Temporal dev server to answer"
        )
        log.info("temporal (pid %d) up", self.temporal.pid)

    async def stop_temporal(self, *, grace: float = 30) -> None:
        """SIGTERM the dev server and wait until it is gone."""
        began = time.monotonic()
        graceful = await asyncio.to_thread(self.temporal.terminate, grace=grace)
        log.info("temporal stopped by SIGTERM in %.1f s", time.monotonic() - began)
        assert graceful, (
            f"Temporal did not stop within {grace} s of SIGTERM\n{self.temporal.tail()}"
        )
        self.client = None

    async def start_worker(self) -> Process:
        """Start another `flexhook worker` and wait until it polls the task queue."""
        worker = Process(
            f"worker-{len(self.workers) + 1}",
            [self.flexhook, "worker"],
            env=self.env,
            cwd=self.root,
        )
        self.workers.append(worker)
        worker.start()
        began = time.monotonic()
        await worker.wait_for_output("worker polling", after=0, timeout=60)
        log.info(
            "%s (pid %d) polling after %.1f s", worker.name, worker.pid, time.monotonic() - began
        )
        return worker

    def kill_workers(self) -> None:
        """SIGKILL every running worker: no drain, no goodbye."""
        for worker in self.workers:
            if worker.running():
                worker.kill()
                log.info("%s (pid %d) killed with SIGKILL", worker.name, worker.pid)

    async def close(self) -> None:
        """Kill every process this stack started (whatever state it is in), then the client."""
        try:
            for process in self.processes:
                try:
                    process.kill()
                except Exception:
                    log.exception("could not kill %s", process.name)
        finally:
            await self.http.aclose()

    async def _temporal_client(self) -> Client | None:
        if not self.temporal.running():
            raise AssertionError(f"Temporal exited\n{self.temporal.tail()}")
        try:
            client = await Client.connect(self.temporal_address)
            await client.workflow_service.describe_namespace(
                DescribeNamespaceRequest(namespace="default"), timeout=timedelta(seconds=2)
            )
        except Exception:  # not up yet: any error of connecting or of the call
            return None
        return client

    async def _web_ready(self) -> bool:
        if not self.web.running():
            raise AssertionError(f"the web process exited\n{self.web.tail()}")
        try:
            return (await self.http.get("/readyz")).status_code == 200
        except httpx.TransportError:
            return False

    # -- talking to it --------------------------------------------------------------------------

    async def post(self, delivery: Delivery) -> Answer:
        headers = {
            "content-type": "application/json",
            "x-hub-signature-256": sign(delivery.body, self.secret),
        }
        began = time.monotonic()
        response = await self.http.post(
            "/webhooks/flexport", content=delivery.body, headers=headers
        )
        seconds = time.monotonic() - began
        try:
            body = response.json()
        except ValueError:
            body = {"text": response.text}
        return Answer(delivery, response.status_code, body, seconds)

    async def post_all(
        self,
        deliveries: Iterable[Delivery],
        *,
        concurrency: int,
        rate: float | None = None,
        progress: Progress | None = None,
    ) -> list[Answer]:
        """Post every delivery, `concurrency` at a time, at most `rate` per second."""
        queue = list(deliveries)
        progress = progress or Progress()
        gate = asyncio.Semaphore(concurrency)
        loop = asyncio.get_running_loop()
        next_slot = loop.time()

        async def one(delivery: Delivery) -> None:
            nonlocal next_slot
            async with gate:
                if rate:
                    now = loop.time()
                    slot, next_slot = max(now, next_slot), max(now, next_slot) + 1 / rate
                    await asyncio.sleep(slot - now)
                progress.answers.append(await self.post(delivery))

        await asyncio.gather(*(one(delivery) for delivery in queue))
        return progress.answers

    async def api(self, path: str, **params: Any) -> Any:
        response = await self.http.get(
            f"/api{path}", params=params, headers={"authorization": f"Bearer {self.api_token}"}
        )
        assert response.status_code == 200, (
            f"GET /api{path}: {response.status_code} {response.text}"
        )
        return response.json()

    def event_statuses(self) -> Counter[str]:
        """The event log by status, read straight from the SQLite file (cheap to poll)."""
        if not self.database.exists():
            return Counter()
        connection = sqlite3.connect(self.database, timeout=10)
        try:
            rows = connection.execute(
                "SELECT status, count(*) FROM event GROUP BY status"
            ).fetchall()
        except sqlite3.OperationalError:  # no table yet
            return Counter()
        finally:
            connection.close()
        return Counter({status: count for status, count in rows})

    async def workflow_runs(self) -> dict[str, list[WorkflowExecutionStatus | None]]:
        """Every run on this stack's task queue, by workflow id (Temporal's visibility)."""
        assert self.client is not None, "Temporal is not up"
        runs: dict[str, list[WorkflowExecutionStatus | None]] = defaultdict(list)
        async for execution in self.client.list_workflows(f'TaskQueue = "{self.task_queue}"'):
            runs[execution.id].append(execution.status)
        return runs

    # -- waiting --------------------------------------------------------------------------------

    async def wait_until(
        self,
        probe: Callable[[], Any],
        *,
        timeout: float,
        what: str,
        interval: float = 0.2,
        state: Callable[[], Any] | None = None,
    ) -> Any:
        """Poll `probe` until it returns something truthy; fail after `timeout` seconds saying
        what was awaited, the last observed state and the tails of every process log."""
        deadline = time.monotonic() + timeout
        while True:
            result = probe()
            if asyncio.iscoroutine(result):
                result = await result
            if result:
                log.info("%s: after %.1f s", what, time.monotonic() - (deadline - timeout))
                return result
            if time.monotonic() > deadline:
                observed = state() if state is not None else None
                if asyncio.iscoroutine(observed):
                    observed = await observed
                raise AssertionError(
                    f"waited {timeout:.0f} s for {what}; last observed: {observed}\n"
                    f"event log: {dict(self.event_statuses())}\n{self.diagnostics()}"
                )
            await asyncio.sleep(interval)

    async def wait_processed(self, count: int, *, timeout: float) -> None:
        """Until `count` events are processed and nothing is queued or processing."""

        def done() -> bool:
            statuses = self.event_statuses()
            return statuses["processed"] == count and sum(statuses.values()) == count

        await self.wait_until(
            done, timeout=timeout, what=f"{count} processed events", state=self.event_statuses
        )

    async def wait_spool_empty(self, *, timeout: float) -> None:
        last: Any = None

        async def empty() -> bool:
            nonlocal last
            last = await self.api("/spool")
            return bool(last["depth"] == 0)

        await self.wait_until(empty, timeout=timeout, what="the spool to drain", state=lambda: last)

    async def wait_workflows_completed(self, event_ids: set[str], *, timeout: float) -> None:
        """Until Temporal lists exactly one run per event, each completed."""
        wanted = {event_workflow_id(event_id) for event_id in event_ids}
        last: dict[str, list[WorkflowExecutionStatus | None]] = {}

        async def done() -> bool:
            nonlocal last
            last = await self.workflow_runs()
            return set(last) == wanted and all(
                runs == [WorkflowExecutionStatus.COMPLETED] for runs in last.values()
            )

        def state() -> str:
            unexpected = {k: v for k, v in last.items() if v != [WorkflowExecutionStatus.COMPLETED]}
            return (
                f"{len(last)} of {len(wanted)} workflows listed, missing "
                f"{sorted(wanted - set(last))[:5]}, extra {sorted(set(last) - wanted)[:5]}, "
                f"not one completed run: {dict(list(unexpected.items())[:5])}"
            )

        await self.wait_until(
            done, timeout=timeout, what="one completed run per event", interval=0.5, state=state
        )

    def diagnostics(self) -> str:
        return "\n".join(process.tail() for process in self.processes if process.starts)

    # -- checking -------------------------------------------------------------------------------

    async def assert_records_equal(self, expected: Records, copies: list[Copy]) -> None:
        """Every copy's shipment, invoice and document as the calm run left them."""
        for copy in copies:
            shipment = comparable(await self.api(f"/shipments/{copy.shipment_id}"))
            assert shipment == expected.shipments[copy.shipment_id], (
                f"shipment {copy.shipment_id} differs from a calm run:\n"
                + _diff(expected.shipments[copy.shipment_id], shipment)
            )
            invoice = comparable(await self.api(f"/invoices/{copy.invoice_id}"))
            assert invoice == expected.invoices[copy.invoice_id]
            document = comparable(await self.api(f"/documents/{copy.document_id}"))
            assert document == expected.documents[copy.document_id]

    async def assert_event_log(self, event_ids: set[str]) -> None:
        """One log entry per event id, every one processed."""
        events = (await self.api("/events", limit=500))["events"]
        assert len(events) < 500, "more events than one page; the check would miss some"
        by_id = Counter(event["event_id"] for event in events)
        assert set(by_id) == event_ids
        assert set(by_id.values()) == {1}
        not_processed = [(e["event_id"], e["status"]) for e in events if e["status"] != "processed"]
        assert not_processed == []

    def assert_logs_hold_no_secret(self) -> None:
        """Whatever broke, no process wrote the webhook secret or the API token to its log."""
        for process in self.processes:
            text = process.log_text()
            for name, value in (("webhook secret", self.secret), ("API token", self.api_token)):
                assert value not in text, f"{process.name} logged the {name} ({process.log_path})"

    async def assert_alerts_sent_once(self, inbox: Inbox, shipment_ids: set[str]) -> Counter[Any]:
        """The ledger holds exactly the alerts the events decided; none was emailed twice.

        Every row is `sent` (emailed exactly once) or, where a worker was killed between handing
        a message to SMTP and recording it, `failed` with the unknown-outcome reason (emailed
        once or not at all: never resent). Every shipment heard of its delivery at most once,
        and exactly once unless that row is in doubt."""
        events = (await self.api("/events", limit=500))["events"]
        decided = {Alert(**alert).dedup_key for event in events for alert in event["alerts"]}
        ledger = (await self.api("/notifications", limit=500))["notifications"]
        assert len(ledger) < 500, "more ledger rows than one page; the check would miss some"
        doubtful = [row for row in ledger if row["status"] != "sent"]
        assert all(
            row["status"] == "failed" and row["last_error"] == UNKNOWN_OUTCOME for row in doubtful
        ), [(row["dedup_key"], row["status"], row["last_error"]) for row in doubtful]
        assert Counter(row["dedup_key"] for row in ledger) == Counter(decided)
        sent = Counter(
            (row["shipment_id"], row["kind"]) for row in ledger if row["status"] == "sent"
        )
        unknown = Counter((row["shipment_id"], row["kind"]) for row in doubtful)
        emailed = email_alerts(inbox)
        twice = {key: count for key, count in emailed.items() if count > 1}
        assert twice == {}, f"alerts emailed more than once: {twice}"
        assert sent <= emailed <= sent + unknown, (
            f"emails and ledger differ: emailed {emailed}, sent {sent}, in doubt {unknown}"
        )
        delivered = Counter(sid for (sid, kind) in emailed if kind == "delivered")
        in_doubt = {sid for (sid, kind) in unknown if kind == "delivered"}
        assert set(delivered) | in_doubt == shipment_ids, "every shipment hears of its delivery"
        assert all(count == 1 for count in delivered.values())
        return emailed


StackFactory = Callable[..., Awaitable[ChaosStack]]


def email_alerts(inbox: Inbox) -> Counter[tuple[str, str]]:
    """Emails received, by (shipment id, alert kind), read from their subjects."""
    found: Counter[tuple[str, str]] = Counter()
    for message in inbox.messages():
        subject = str(message["Subject"])
        shipment = re.search(r"\((?P<id>[^()]+)\)\s*$", subject)
        kind = next((kind for prefix, kind in SUBJECT_KINDS if subject.startswith(prefix)), None)
        assert shipment is not None and kind is not None, f"unexpected subject {subject!r}"
        found[(shipment["id"], kind)] += 1
    return found


def _diff(expected: dict[str, Any], actual: dict[str, Any]) -> str:
    lines = []
    for key in sorted(set(expected) | set(actual)):
        if expected.get(key) != actual.get(key):
            lines.append(
                f"  {key}: calm {json.dumps(expected.get(key))[:300]}\n"
                f"  {' ' * len(key)}  here {json.dumps(actual.get(key))[:300]}"
            )
    return "\n".join(lines)
