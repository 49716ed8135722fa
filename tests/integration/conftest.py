"""Real parts for integration tests: a Temporal dev server started from the `temporal` binary,
an SQLite file per test, a worker on its own task queue, and the web app served over real HTTP.
"""

from __future__ import annotations

import os
import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import Engine
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from activities.digest import DigestSender
from activities.exceptions import ExceptionRules
from activities.tracking import TrackingLinks
from app.bootstrap import wire_activities
from app.core.addresses import AddressAllowlist, DestinationRules
from app.ingest.starter import EventStarter
from app.ingest.watch_relay import TellExceptionWatch
from app.store import db
from app.store.ops_incidents import IncidentBook
from app.telemetry import Tracing
from app.tracking.follow import FollowConfig
from app.web.application import create_apps
from app.web.config import WebConfig
from app.web.serving import Listeners, metrics_config, public_config
from notifications.destinations import NotifyConfig
from notifications.notifier import Notifier
from notifications.ops_notifier import OpsNotifier
from notifications.ops_reporter import OpsReporter
from notifications.render import Renderer
from notifications.tracing import NO_TRACING
from tests.integration.harness import (
    LOCAL,
    JsonEndpoint,
    Samples,
    Stack,
    StackFactory,
    free_port,
    serve_config,
    temporal_binary,
)
from tests.integration.postgres import PostgresServer, running_postgres
from tests.log_registry import register_secret
from workflows.search_attributes import dev_server_flags
from workflows.worker import ACTIVITY_THREADS, build_worker


@pytest.fixture(scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_binary(),
        dev_server_extra_args=[*dev_server_flags(), "--sqlite-pragma", "journal_mode=wal"],
    )
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer | None]:
    """A real PostgreSQL server when FLEXHOOK_TEST_DATABASE=postgresql, else None (SQLite)."""
    wanted = os.environ.get("FLEXHOOK_TEST_DATABASE", "sqlite")
    if wanted == "sqlite":
        yield None
        return
    if wanted != "postgresql":
        pytest.fail(f"FLEXHOOK_TEST_DATABASE={wanted!r}: expected sqlite or postgresql")
    with running_postgres() as server:
        yield server


@pytest.fixture
def engine(tmp_path: Path, postgres: PostgresServer | None) -> Iterator[Engine]:
    """The tests' database (a new PostgreSQL database in the PostgreSQL run, else a SQLite
    file), migrated to head: for tests of the store that need no stack."""
    url = postgres.create_database() if postgres else f"sqlite:///{tmp_path / 'flexhook.db'}"
    engine = db.create_db_engine(url)
    db.upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def temporal_client(temporal_env: WorkflowEnvironment) -> Client:
    return temporal_env.client


@pytest.fixture
def samples() -> Samples:
    return Samples()


@pytest.fixture
async def make_stack(
    temporal_client: Client, tmp_path: Path, postgres: PostgresServer | None
) -> AsyncIterator[StackFactory]:
    """Build stacks; each has its own database, task queue, worker and web server."""
    async with AsyncExitStack() as exits:

        async def make(
            *,
            client: Client | None = None,
            worker_client: Client | None = None,
            with_worker: bool = True,
            max_body_bytes: int = 1024 * 1024,
            rpc_timeout: float = 5.0,
            notify_config: Path | None = None,
            eta_slip_hours: float = 24.0,
            eta_grace: timedelta = timedelta(hours=6),
            database_url: str | None = None,
            workers: int = 1,
            accept_sha1: bool = False,
            webhook_secrets: tuple[str, ...] | None = None,
            ops_alert_after: timedelta = timedelta(minutes=5),
            give_up_after: timedelta | None = None,
            refused_tokens_per_minute: int = 10,
            body_read_timeout: timedelta = timedelta(seconds=10),
            max_connections: int = 512,
            destination_allow: AddressAllowlist = LOCAL,
            process_deadline: timedelta | None = None,
            stuck_after: timedelta = timedelta(minutes=30),
            follow: FollowConfig | None = None,
            tracking: bool = True,
            tell_exception_watch: TellExceptionWatch | None = None,
            exception_rules: ExceptionRules | None = None,
            tracing: Tracing | None = None,
            untold_watch_after: timedelta = timedelta(seconds=30),
        ) -> Stack:
            name = uuid.uuid4().hex
            migrate = database_url is None
            if database_url is None:
                database_url = (
                    postgres.create_database() if postgres else f"sqlite:///{tmp_path / name}.db"
                )
            engine = db.create_db_engine(database_url)
            if migrate:
                db.upgrade(engine)
            exits.callback(engine.dispose)
            task_queue = f"test-{name}"
            traced = temporal_client
            if tracing is not None:  # as `flexhook web` and `worker` trace (`app.telemetry`)
                tracing.trace_engine(engine)
                client_config = temporal_client.config()
                client_config["interceptors"] = tracing.interceptors()
                traced = Client(**client_config)
            temporal = client or traced
            notifier = Notifier(
                Renderer(),
                public_url="http://flexhook.test",
                temporal_ui_url="http://127.0.0.1:8233",
                timeout=10,
                destination_allow=destination_allow,
                tracer=tracing.tracer if tracing else NO_TRACING,
            )
            # Ops alerts go to the `ops`-tagged targets of the same configuration.
            config = NotifyConfig(notify_config)
            ops = OpsReporter(
                IncidentBook(engine),
                OpsNotifier(
                    Renderer(),
                    config=config,
                    public_url="http://flexhook.test",
                    temporal_ui_url="http://127.0.0.1:8233",
                    timeout=10,
                    destination_allow=destination_allow,
                ),
            )
            # As in production (the first webhook secret's key), alerts carry a tracking link.
            share_link_key = secrets.token_bytes(32) if tracking else None
            links = TrackingLinks(key=share_link_key) if share_link_key else None
            for index in range(workers if with_worker else 0):
                # A second worker gets a connection of its own, as a second process would; the
                # first may be given one (e.g. on a runtime that serves Temporal's metrics).
                connection = worker_client or traced
                if index:
                    connection = await Client.connect(
                        temporal_client.service_client.config.target_host
                    )
                executor = exits.enter_context(ThreadPoolExecutor(ACTIVITY_THREADS))
                activities = wire_activities(
                    engine,
                    client=connection,
                    task_queue=task_queue,
                    notifier=notifier,
                    config=config,
                    digests=DigestSender(
                        Renderer(),
                        destination_allow=destination_allow,
                        public_url="http://flexhook.test",
                    ),
                    ops=ops,
                    eta_slip_hours=eta_slip_hours,
                    eta_grace=eta_grace,
                    give_up_after=give_up_after,
                    tracking=links,
                    exception_rules=exception_rules,
                )
                worker = build_worker(
                    connection, task_queue=task_queue, activities=activities, executor=executor
                )
                await exits.enter_async_context(worker)
            webhook_secrets = webhook_secrets or (secrets.token_urlsafe(24),)
            secret = webhook_secrets[0]
            api_token = secrets.token_urlsafe(24)
            for value in (*webhook_secrets, api_token):
                register_secret(value)

            async def starter() -> EventStarter:
                return EventStarter(
                    temporal,
                    task_queue=task_queue,
                    rpc_timeout=timedelta(seconds=rpc_timeout),
                    process_deadline=process_deadline,
                )

            apps = create_apps(
                config=WebConfig(
                    webhook_secrets=webhook_secrets,
                    api_token=api_token,
                    max_body_bytes=max_body_bytes,
                    accept_sha1=accept_sha1,
                    ops_alert_after=ops_alert_after,
                    refused_tokens_per_minute=refused_tokens_per_minute,
                    body_read_timeout=body_read_timeout,
                    metrics_max_age=timedelta(0),  # each scrape reads what the test just did
                    destination_rules=DestinationRules(allowlist=destination_allow),
                    stuck_after=stuck_after,
                    follow=follow,
                    untold_watch_after=untold_watch_after,
                ),
                engine=engine,
                starter_factory=starter,
                ops=ops,
                tell_exception_watch=tell_exception_watch,
                tracer=tracing.tracer if tracing else None,
            )
            # Served as `flexhook web` serves them: the same uvicorn settings, two listeners.
            listeners = Listeners(
                host="127.0.0.1",
                port=free_port(),
                metrics_host="127.0.0.1",
                metrics_port=free_port(),
                max_connections=max_connections,
            )
            base_url = await serve_config(public_config(apps.public, listeners), exits)
            metrics_url = await serve_config(metrics_config(apps.metrics, listeners), exits)
            http = await exits.enter_async_context(httpx.AsyncClient(base_url=base_url, timeout=30))
            metrics = await exits.enter_async_context(
                httpx.AsyncClient(base_url=metrics_url, timeout=30)
            )
            return Stack(
                client=temporal_client,
                engine=engine,
                http=http,
                secret=secret,
                api_token=api_token,
                task_queue=task_queue,
                base_url=base_url,
                metrics=metrics,
                share_link_key=share_link_key,
            )

        yield make


@pytest.fixture
async def stack(make_stack: StackFactory) -> Stack:
    return await make_stack()


@pytest.fixture
def json_server() -> Iterator[JsonEndpoint]:
    """A real HTTP server on loopback, the target of json:// URLs, keeping what is POSTed to it."""
    with JsonEndpoint() as endpoint:
        yield endpoint


@pytest.fixture
def json_endpoint(json_server: JsonEndpoint) -> tuple[list[dict[str, Any]], int]:
    """What `json_server` was POSTed (path, content type, body) and its port."""
    return json_server.posts, json_server.port
