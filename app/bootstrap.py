"""Wiring: build the engine, the Temporal starter, the notifier, the activities and the web app
from one `Settings`. The CLI and the tests build flexhook through these functions alone, so
what runs in production is what the tests run."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.engine import Engine
from starlette.applications import Starlette
from temporalio.client import Client

from activities.delivery import NotificationActivities
from activities.digest import DigestSender
from activities.ops import OpsReporter
from activities.processing import RecordActivities
from activities.recipient import RecipientActivities
from activities.reconcile import ReconcileActivities
from app import temporal_client
from app.flexport_api.client import FlexportClient
from app.ingest.reconcile import Reconciler
from app.ingest.starter import EventStarter
from app.settings import ConfigError, Settings
from app.store import db
from app.web.application import WebConfig, create_app
from notifications.notifier import Notifier
from notifications.ops_notifier import OpsNotifier
from notifications.render import Renderer
from workflows.worker import ReconcileSchedule

# One send's bound; the send activity's start-to-close timeout (60 s) must stay above it.
NOTIFY_SEND_TIMEOUT_SECONDS = 30.0
# An ops alert's bound per target: it is sent from inside activities (30 s timeouts).
OPS_SEND_TIMEOUT_SECONDS = 10.0

StarterFactory = Callable[[], Awaitable[EventStarter]]


def open_database(settings: Settings) -> Engine:
    """The database, which must be at the newest migration (`db.SchemaOutOfDate` otherwise)."""
    engine = db.create_db_engine(settings.resolved_database_url)
    db.check_schema(engine)
    return engine


def notifier(settings: Settings) -> Notifier:
    """The Apprise notifier with the packaged templates, or the user's where they override them
    (`NotADirectoryError` when `FLEXHOOK_TEMPLATES_DIR` is not a folder)."""
    return Notifier(
        Renderer(settings.templates_dir),
        public_url=settings.public_url,
        temporal_ui_url=settings.temporal_ui_url,
        namespace=settings.temporal_namespace,
        flexport_app_url=settings.flexport_app_url,
        timeout=NOTIFY_SEND_TIMEOUT_SECONDS,
    )


def ops_reporter(settings: Settings, engine: Engine) -> OpsReporter:
    """Ops alerts (Apprise tag `ops`), once per incident kept in `engine`'s database."""
    return OpsReporter(
        engine,
        OpsNotifier(
            Renderer(settings.templates_dir),
            config_path=settings.resolved_notify_config,
            public_url=settings.public_url,
            temporal_ui_url=settings.temporal_ui_url,
            namespace=settings.temporal_namespace,
            timeout=OPS_SEND_TIMEOUT_SECONDS,
        ),
    )


@dataclass(frozen=True)
class WorkerActivities:
    """Every activity a worker registers, over one engine."""

    records: RecordActivities
    notifications: NotificationActivities
    recipients: RecipientActivities | None = None  # held alerts and digests


def worker_activities(
    settings: Settings, engine: Engine, *, alert_notifier: Notifier | None = None
) -> WorkerActivities:
    """The worker's activities; `alert_notifier` defaults to `notifier(settings)`."""
    return WorkerActivities(
        records=RecordActivities(
            engine, eta_slip_hours=settings.eta_slip_hours, eta_grace=settings.eta_grace
        ),
        notifications=NotificationActivities(
            engine,
            alert_notifier or notifier(settings),
            config_path=settings.resolved_notify_config,
            ops=ops_reporter(settings, engine),
        ),
        recipients=RecipientActivities(
            engine,
            config_path=settings.resolved_notify_config,
            digests=DigestSender(
                Renderer(settings.templates_dir), timeout=NOTIFY_SEND_TIMEOUT_SECONDS
            ),
        ),
    )


def starter_factory(settings: Settings) -> StarterFactory:
    """Connects to Temporal (lazily) when the web app starts."""

    async def starter() -> EventStarter:
        client = await temporal_client.connect(
            address=settings.temporal_address, namespace=settings.temporal_namespace, lazy=True
        )
        return EventStarter(
            client,
            task_queue=settings.task_queue,
            rpc_timeout=timedelta(seconds=settings.start_timeout_seconds),
        )

    return starter


def web_config(settings: Settings) -> WebConfig:
    """What the web app needs of the settings (`ConfigError` without a secret or a token)."""
    settings.require_web()
    assert settings.api_token is not None
    return WebConfig(
        webhook_secrets=settings.webhook_secrets,
        api_token=settings.api_token,
        max_body_bytes=settings.max_body_bytes,
        accept_sha1=settings.accept_sha1,
        temporal_ui_url=settings.temporal_ui_url,
        namespace=settings.temporal_namespace,
        ops_alert_after=settings.ops_alert_after,
    )


def web_app(
    settings: Settings, engine: Engine, *, starter: StarterFactory | None = None
) -> Starlette:
    """The ASGI app; `starter` defaults to a connection to `TEMPORAL_ADDRESS`."""
    return create_app(
        config=web_config(settings),
        engine=engine,
        starter_factory=starter or starter_factory(settings),
        ops=ops_reporter(settings, engine),
    )


# -- reconciliation with Flexport's Events API ----------------------------------------------

# Nobody waits on a reconcile's answer: its starts may take longer than a webhook's.
RECONCILE_START_TIMEOUT_SECONDS = 10.0
# A worker gives up on a page sooner than the CLI: Temporal retries the page activity.
WORKER_FLEXPORT_RETRIES = 2


def flexport_client(settings: Settings, *, max_retries: int = 4) -> FlexportClient:
    """A client for Flexport's API (`ConfigError` when FLEXPORT_API_TOKEN is not set)."""
    if not settings.flexport_api_token:
        raise ConfigError(
            "FLEXPORT_API_TOKEN is not set: reconciliation lists Flexport's events with it"
        )
    return FlexportClient(
        token=settings.flexport_api_token,
        base_url=settings.flexport_api_url,
        version=settings.flexport_api_version,
        max_retries=max_retries,
    )


def reconciler(settings: Settings, engine: Engine, client: Client | None) -> Reconciler:
    """Compare-and-start over `engine`, starting workflows through `client` (None: dry runs)."""
    starter = None
    if client is not None:
        timeout = max(settings.start_timeout_seconds, RECONCILE_START_TIMEOUT_SECONDS)
        starter = EventStarter(
            client, task_queue=settings.task_queue, rpc_timeout=timedelta(seconds=timeout)
        )
    return Reconciler(engine=engine, starter=starter)


def reconcile_activities(settings: Settings, engine: Engine, client: Client) -> ReconcileActivities:
    """The reconcile activities of a worker on `client`. Without FLEXPORT_API_TOKEN they are
    registered all the same, and a page fails saying the token is missing."""
    flexport = None
    if settings.flexport_api_token:
        flexport = flexport_client(settings, max_retries=WORKER_FLEXPORT_RETRIES)
    return ReconcileActivities(
        engine=engine, flexport=flexport, reconciler=reconciler(settings, engine, client)
    )


def reconcile_schedule(settings: Settings) -> ReconcileSchedule:
    """The `flexhook-reconcile` schedule the worker keeps: on with a token and a non-zero
    FLEXHOOK_RECONCILE_EVERY, else off with the reason."""
    if settings.reconcile_enabled:
        return ReconcileSchedule(
            every=settings.reconcile_every, lookback=settings.reconcile_lookback
        )
    reason = (
        "FLEXPORT_API_TOKEN is not set"
        if not settings.flexport_api_token
        else "FLEXHOOK_RECONCILE_EVERY is 0"
    )
    return ReconcileSchedule(every=None, lookback=settings.reconcile_lookback, off_reason=reason)
