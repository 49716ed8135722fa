"""Wiring: build the engine, the Temporal starter, the notifier, the activities and the web app
from one `Settings`. The CLI and the tests build flexhook through these functions alone, so
what runs in production is what the tests run."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.engine import Engine
from starlette.applications import Starlette

from activities.delivery import NotificationActivities
from activities.processing import RecordActivities
from app import temporal_client
from app.ingest.starter import EventStarter
from app.settings import Settings
from app.store import db
from app.web.application import WebConfig, create_app
from notifications.notifier import Notifier
from notifications.render import Renderer

# One send's bound; the send activity's start-to-close timeout (60 s) must stay above it.
NOTIFY_SEND_TIMEOUT_SECONDS = 30.0

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


@dataclass(frozen=True)
class WorkerActivities:
    """Every activity a worker registers, over one engine."""

    records: RecordActivities
    notifications: NotificationActivities


def worker_activities(
    settings: Settings, engine: Engine, *, alert_notifier: Notifier | None = None
) -> WorkerActivities:
    """The worker's activities; `alert_notifier` defaults to `notifier(settings)`."""
    return WorkerActivities(
        records=RecordActivities(engine, eta_slip_hours=settings.eta_slip_hours),
        notifications=NotificationActivities(
            engine,
            alert_notifier or notifier(settings),
            config_path=settings.resolved_notify_config,
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
    )


def web_app(
    settings: Settings, engine: Engine, *, starter: StarterFactory | None = None
) -> Starlette:
    """The ASGI app; `starter` defaults to a connection to `TEMPORAL_ADDRESS`."""
    return create_app(
        config=web_config(settings),
        engine=engine,
        starter_factory=starter or starter_factory(settings),
    )
