"""What the exception watch's integration tests share: Flexport-shaped holds and releases,
the records they leave, a person's action as the API takes it, the production worker.

Every stack has a database of its own, whose exception ids would start at 1 in each:
`start_exception_ids` starts them at a random offset, so that tests sharing the dev server
never signal each other's watch (`exception-<id>`).
"""

from __future__ import annotations

import json
import os
import random
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from activities.digest import DigestSender
from activities.exceptions import ExceptionRules
from activities.processing import DEFAULT_ETA_GRACE
from app.bootstrap import wire_activities
from app.core.access import Role
from app.core.exception_clock import parse_severity_durations
from app.core.ids import exception_workflow_id
from app.store import exceptions, tokens, untold_watches
from app.store.exception_models import ExceptionEntry, ShipmentExceptionRow
from app.store.models import Notification
from notifications.destinations import NotifyConfig
from notifications.notifier import Notifier
from notifications.render import Renderer
from tests.integration.harness import (
    LOCAL,
    Inbox,
    Samples,
    Stack,
    temporal_binary,
)
from workflows.exception_feed import changed
from workflows.search_attributes import dev_server_flags
from workflows.worker import ACTIVITY_THREADS, build_worker

HOLD_TYPE = "/shipment#customs_agriculture_hold"
HISTORIES = Path(__file__).resolve().parent.parent / "histories"


def rules(*, ack: str = "critical=2s", resolve: str = "critical=1h") -> ExceptionRules:
    return ExceptionRules(
        ack_sla=parse_severity_durations(ack), resolve_sla=parse_severity_durations(resolve)
    )


# -- events and records -----------------------------------------------------------------------


def shipment_event(samples: Samples, name: str, shipment_id: int, **changes: Any) -> bytes:
    """A packaged `/shipment` sample for `shipment_id`, re-identified, with `changes`."""
    payload = samples.payload(name, **{"id": f"evt_{uuid.uuid4().hex[:12]}", **changes})
    payload["data"]["resource"]["id"] = shipment_id
    return json.dumps(payload).encode()


def hold(samples: Samples, shipment_id: int) -> bytes:
    """Flexport ships no hold sample: a hold is the same `/shipment` event under its type."""
    return shipment_event(samples, "01_shipment_created", shipment_id, type=HOLD_TYPE)


def release(samples: Samples, shipment_id: int) -> bytes:
    return shipment_event(samples, "11_customs_released", shipment_id)


def start_exception_ids(engine: Engine) -> None:
    """Make this database's exception ids start at a random offset (a resolved placeholder)."""
    seed = random.randrange(10**6, 2 * 10**9)
    with Session(engine) as session:
        session.add(
            ShipmentExceptionRow(
                id=seed,
                shipment_id="placeholder",
                family="other",
                severity="low",
                severity_rank=3,
                state="resolved",
                opened_at=datetime.now(UTC),
            )
        )
        session.commit()
        if engine.dialect.name == "postgresql":
            session.execute(
                sa.text("SELECT setval(pg_get_serial_sequence('shipment_exception', 'id'), :s)"),
                {"s": seed},
            )
            session.commit()


def the_exception(engine: Engine) -> ShipmentExceptionRow:
    with Session(engine) as session:
        row = session.exec(
            select(ShipmentExceptionRow).where(ShipmentExceptionRow.shipment_id != "placeholder")
        ).one()
        session.expunge(row)
        return row


def timeline(engine: Engine, exception_id: int) -> list[str]:
    with Session(engine) as session:
        entries = session.exec(
            select(ExceptionEntry)
            .where(ExceptionEntry.exception_id == exception_id)
            .order_by(col(ExceptionEntry.id))
        ).all()
        return [f"{e.who} {e.what}" for e in entries]


def untold(engine: Engine) -> list[int]:
    """The exceptions whose watch is still to hear of a person's change, oldest change first."""
    with Session(engine) as session:
        marks = untold_watches.due(session, before=datetime.max.replace(tzinfo=UTC), limit=1000)
    return [exception_id for exception_id, _ in marks]


def ledger_rows(engine: Engine, kind: str) -> list[Notification]:
    with Session(engine) as session:
        return list(session.exec(select(Notification).where(Notification.kind == kind)).all())


async def act(
    stack: Stack, exception_id: int, action: exceptions.Action, by: str, **values: Any
) -> None:
    """A person's action as the API takes it: commit, then tell the watch."""
    with Session(stack.engine) as session:
        exceptions.act(
            session,
            exception_id=exception_id,
            action=action,
            by=by,
            at=datetime.now(UTC),
            **values,
        )
        session.commit()
    await changed(stack.client, task_queue=stack.task_queue, exception_id=exception_id)


def add_person(engine: Engine, name: str, contact: str | None) -> None:
    with Session(engine) as session:
        tokens.create_token(
            session,
            name=name,
            role=Role.OPERATOR,
            expires_in=None,
            contact=contact,
            created_by="test",
            now=datetime.now(UTC),
        )
        session.commit()


def watch(stack: Stack, exception_id: int) -> WorkflowHandle[Any, Any]:
    return stack.client.get_workflow_handle(exception_workflow_id(exception_id))


async def record_history(handle: WorkflowHandle[Any, Any], name: str) -> None:
    """With FLEXHOOK_RECORD_HISTORIES=1, keep this run's history for the replay test."""
    if os.environ.get("FLEXHOOK_RECORD_HISTORIES") == "1":
        history = await handle.fetch_history()
        (HISTORIES / f"{name}.json").write_text(history.to_json(), encoding="utf-8")


def to(inbox: Inbox, address: str) -> list[str]:
    return [r.title for r in inbox.received if r.to == address]


async def run_worker(
    exits: AsyncExitStack,
    stack: Stack,
    client: Client,
    config: Path,
    *,
    exception_rules: ExceptionRules | None = None,
    eta_grace: timedelta = DEFAULT_ETA_GRACE,
) -> None:
    """The production worker for `stack` on `client` until `exits` closes: `exception_rules`
    (default: ack SLA 5 s) and the ETA watch's `eta_grace`."""
    notifier = Notifier(Renderer(), timeout=10, destination_allow=LOCAL)
    executor = exits.enter_context(ThreadPoolExecutor(ACTIVITY_THREADS))
    activities = wire_activities(
        stack.engine,
        client=client,
        task_queue=stack.task_queue,
        notifier=notifier,
        config=NotifyConfig(config),
        digests=DigestSender(Renderer(), destination_allow=LOCAL),
        exception_rules=exception_rules or rules(ack="critical=5s"),
        eta_grace=eta_grace,
    )
    running = build_worker(
        client, task_queue=stack.task_queue, activities=activities, executor=executor
    )
    await exits.enter_async_context(running)


async def persisted_temporal(port: int, database: Path) -> WorkflowEnvironment:
    """A Temporal dev server of a test's own on `port`, kept in the file `database`: stopped
    (`shutdown`) and started again on the same two, it has kept its timers and histories."""
    return await WorkflowEnvironment.start_local(
        port=port,
        dev_server_existing_path=temporal_binary(),
        dev_server_database_filename=str(database),
        dev_server_extra_args=dev_server_flags(),
    )


def watch_on(client: Client, exception_id: int) -> WorkflowHandle[Any, Any]:
    return client.get_workflow_handle(exception_workflow_id(exception_id))
