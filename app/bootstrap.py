"""Wiring: build the engine, the Temporal starter, the notifier, the activities and the web app
from one `Settings`. The CLI and the tests build flexhook through these functions alone, so
what runs in production is what the tests run."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.engine import Engine
from temporalio.client import Client

from activities.delivery import NotificationActivities
from activities.digest import DigestSender
from activities.eta_watch import EtaWatchActivities
from activities.exceptions import ExceptionActivities, ExceptionRules
from activities.processing import DEFAULT_ETA_GRACE, EventActivities, RecordActivities
from activities.recipient import RecipientActivities
from activities.reconcile import ReconcileActivities
from activities.retention import RetentionActivities
from activities.tracking import TrackingLinks
from app import telemetry, temporal_client
from app.core.addresses import DestinationRules
from app.core.exception_clock import parse_severity_durations
from app.core.exception_families import parse_severity_overrides
from app.dashboard.session import served_at
from app.flexport_api.client import FlexportClient
from app.ingest.reconcile import Reconciler
from app.ingest.starter import EventStarter
from app.settings import ConfigError, Settings, split_address
from app.store import db
from app.store.ops_incidents import IncidentBook
from app.telemetry import Tracing
from app.tracking.follow import FollowConfig
from app.web.application import WebApps, create_apps
from app.web.config import WebConfig
from app.web.serving import Listeners
from notifications.destinations import NotifyConfig
from notifications.notifier import Notifier
from notifications.ops_notifier import OpsNotifier
from notifications.ops_reporter import OpsReporter
from notifications.render import Renderer
from notifications.send_limits import DestinationBreaker, SendLimits
from notifications.tracing import NO_TRACING
from workflows.eta_feed import EtaWatchSignals
from workflows.exception_feed import ExceptionWatchSignals
from workflows.recipient_starter import RecipientStarter
from workflows.worker import ReconcileSchedule

# An ops alert's bound per target: it is sent from inside activities (30 s timeouts).
OPS_SEND_TIMEOUT_SECONDS = 10.0

StarterFactory = Callable[[], Awaitable[EventStarter]]


def open_database(settings: Settings) -> Engine:
    """The database, which must be at the newest migration (`db.SchemaOutOfDate` otherwise)."""
    engine = db.create_db_engine(settings.resolved_database_url)
    db.check_schema(engine)
    return engine


def send_limits(settings: Settings) -> SendLimits:
    """The hard deadline of each send and the destinations' breaker, one per process: the
    stakeholder alerts and digests of a worker share them. FLEXHOOK_SEND_DEADLINE stays below
    the send activity's start-to-close timeout (60 s): the settings refuse more than 50 s."""
    return SendLimits(
        deadline=settings.send_deadline.total_seconds(),
        breaker=DestinationBreaker(
            threshold=settings.send_breaker_after,
            cooldown=settings.send_breaker_cooldown.total_seconds(),
        ),
    )


def destination_rules(settings: Settings) -> DestinationRules:
    """What destinations added at run time (API, dashboard, CLI) must keep to."""
    return DestinationRules(
        allowlist=settings.destination_allowlist,
        max_recipients=settings.max_recipients,
        max_subscriptions_per_shipment=settings.max_subscriptions_per_shipment,
    )


def tracing(settings: Settings, *, service: str) -> Tracing | None:
    """OpenTelemetry traces of the process named `service` (unless OTEL_SERVICE_NAME names
    it) when the OTEL_* variables ask for them (`app.telemetry`); None: off."""
    if not settings.tracing_enabled:
        return None
    return telemetry.tracing(service_name=settings.otel_service_name or service)


def notifier(
    settings: Settings,
    renderer: Renderer,
    limits: SendLimits | None = None,
    tracing: Tracing | None = None,
) -> Notifier:
    """The Apprise notifier of stakeholder alerts, rendering with `renderer`, sending within
    `limits` (default: `send_limits(settings)`), a span per send with `tracing`."""
    return Notifier(
        renderer,
        public_url=settings.public_url,
        temporal_ui_url=settings.temporal_ui_url,
        namespace=settings.temporal_namespace,
        flexport_app_url=settings.flexport_app_url,
        external_flexport_link=settings.external_flexport_link,
        limits=limits or send_limits(settings),
        destination_allow=settings.destination_allowlist,
        tracer=tracing.tracer if tracing else NO_TRACING,
    )


def renderer(settings: Settings) -> Renderer:
    """The one Jinja environment of a process: the packaged templates, or the user's where they
    override them (`NotADirectoryError` when `FLEXHOOK_TEMPLATES_DIR` is not a folder)."""
    return Renderer(settings.templates_dir)


def ops_reporter(
    settings: Settings, engine: Engine, *, config: NotifyConfig, renderer: Renderer
) -> OpsReporter:
    """Ops alerts (Apprise tag `ops`), once per incident kept in `engine`'s database."""
    return OpsReporter(
        IncidentBook(engine),
        OpsNotifier(
            renderer,
            config=config,
            public_url=settings.public_url,
            temporal_ui_url=settings.temporal_ui_url,
            namespace=settings.temporal_namespace,
            timeout=OPS_SEND_TIMEOUT_SECONDS,
            destination_allow=settings.destination_allowlist,
        ),
    )


@dataclass(frozen=True)
class WorkerActivities:
    """Every activity a worker registers, each object built once with what it needs."""

    events: EventActivities  # process_event
    first_shape: RecordActivities  # record_event, apply_event, mark_event_failed
    notifications: NotificationActivities
    eta_watch: EtaWatchActivities
    recipients: RecipientActivities
    exceptions: ExceptionActivities  # the exception watch's steps
    reconcile: ReconcileActivities | None = None
    retention: RetentionActivities | None = None  # remove_old_payloads

    def sends(self) -> list[Callable[..., Any]]:
        """What the send worker runs (`workflows.worker.send_queue`): alerts and digests."""
        return [self.notifications.send_notification, self.recipients.send_digest]

    def all(self) -> list[Callable[..., Any]]:
        return [
            *self.events.all(),
            *self.first_shape.all(),
            *self.notifications.all(),
            *self.eta_watch.all(),
            *self.recipients.all(),
            *self.exceptions.all(),
            *(self.reconcile.all() if self.reconcile else []),
            *(self.retention.all() if self.retention else []),
        ]


def wire_activities(
    engine: Engine,
    *,
    client: Client,
    task_queue: str,
    notifier: Notifier,
    config: NotifyConfig,
    digests: DigestSender,
    ops: OpsReporter | None = None,
    eta_slip_hours: float = 24.0,
    eta_grace: timedelta = DEFAULT_ETA_GRACE,
    give_up_after: timedelta | None = None,
    reconcile: ReconcileActivities | None = None,
    tracking: TrackingLinks | None = None,
    exception_rules: ExceptionRules | None = None,
) -> WorkerActivities:
    """The worker's activities over one engine and one Apprise configuration. Call it on the
    event loop the worker runs on: event processing signals the ETA and exception watches, and
    a plan that holds alerts starts recipient workflows, through `client` on that loop.
    `tracking`: what makes the alerts' tracking links (`tracking_links`); None: alerts carry
    none. `exception_rules`: severities and SLAs of the inbox (`exception_rules`; None: the
    defaults)."""
    loop = asyncio.get_running_loop()
    rules = exception_rules or ExceptionRules()
    exception_watch = ExceptionWatchSignals(client, task_queue=task_queue, loop=loop)
    notifications = NotificationActivities(
        engine,
        notifier,
        config=config,
        ops=ops,
        start_recipients=RecipientStarter(client, task_queue=task_queue, loop=loop),
        give_up_after=give_up_after,
        tracking=tracking,
    )
    return WorkerActivities(
        events=EventActivities(
            engine,
            notifications,
            eta_slip_hours=eta_slip_hours,
            eta_grace=eta_grace,
            watch=EtaWatchSignals(client, task_queue=task_queue, loop=loop),
            exception_rules=rules,
            exception_watch=exception_watch,
        ),
        first_shape=RecordActivities(engine, eta_slip_hours=eta_slip_hours),
        notifications=notifications,
        eta_watch=EtaWatchActivities(
            engine, notifications, exception_rules=rules, exception_watch=exception_watch
        ),
        recipients=RecipientActivities(engine, config=config, digests=digests, tracking=tracking),
        exceptions=ExceptionActivities(engine, notifications, rules),
        reconcile=reconcile,
        retention=RetentionActivities(engine),
    )


def worker_activities(
    settings: Settings,
    engine: Engine,
    client: Client,
    *,
    alert_notifier: Notifier | None = None,
    tracing: Tracing | None = None,
) -> WorkerActivities:
    """The production worker's activities over `client` (see `wire_activities`);
    `alert_notifier` defaults to `notifier(settings, ...)` (with `tracing`'s send spans)."""
    templates = renderer(settings)
    config = NotifyConfig(settings.resolved_notify_config)
    alerts = alert_notifier or notifier(settings, templates, tracing=tracing)
    return wire_activities(
        engine,
        client=client,
        task_queue=settings.task_queue,
        notifier=alerts,
        config=config,
        digests=DigestSender(
            templates,
            limits=alerts.limits,
            destination_allow=settings.destination_allowlist,
            public_url=settings.public_url,
        ),
        ops=ops_reporter(settings, engine, config=config, renderer=templates),
        eta_slip_hours=settings.eta_slip_hours,
        eta_grace=settings.eta_grace,
        reconcile=reconcile_activities(settings, engine, client),
        tracking=tracking_links(settings),
        exception_rules=exception_rules(settings),
    )


def exception_rules(settings: Settings) -> ExceptionRules:
    """The inbox's severities and SLAs (FLEXHOOK_EXCEPTION_SEVERITY, _ACK_SLA, _RESOLVE_SLA),
    parsed with the core's parsers (the settings validated them)."""
    return ExceptionRules(
        severities=parse_severity_overrides(settings.exception_severity),
        ack_sla=parse_severity_durations(settings.exception_ack_sla),
        resolve_sla=parse_severity_durations(settings.exception_resolve_sla),
    )


def tracking_links(settings: Settings) -> TrackingLinks | None:
    """What makes the alerts' tracking links, or None without a key to derive their tokens
    from (FLEXHOOK_SHARE_SECRET, or the first webhook secret). Without FLEXHOOK_PUBLIC_URL the
    notifier makes no link of them either."""
    key = settings.share_link_key
    return TrackingLinks(key=key, lifetime=settings.share_lifetime) if key else None


def starter_factory(settings: Settings, tracing: Tracing | None = None) -> StarterFactory:
    """Connects to Temporal (lazily) when the web app starts; with `tracing`, each start
    carries the request's trace to the workflow."""

    async def starter() -> EventStarter:
        client = await temporal_client.connect(
            address=settings.temporal_address,
            namespace=settings.temporal_namespace,
            lazy=True,
            payload_keys=settings.payload_keys,
            interceptors=tracing.interceptors() if tracing else (),
        )
        return EventStarter(
            client,
            task_queue=settings.task_queue,
            rpc_timeout=timedelta(seconds=settings.start_timeout_seconds),
            process_deadline=settings.process_deadline,
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
        stuck_after=settings.stuck_after,
        refused_tokens_per_minute=settings.refused_tokens_per_minute,
        payload_keys=settings.payload_keys,
        body_read_timeout=settings.body_read_timeout,
        destination_rules=destination_rules(settings),
        share_lifetime=settings.share_lifetime,
        public_url=settings.public_url,
        max_shares_per_shipment=settings.max_shares_per_shipment,
        exception_ack_sla=settings.exception_ack_sla,
        exception_resolve_sla=settings.exception_resolve_sla,
        follow=follow_config(settings),
    )


def follow_config(settings: Settings) -> FollowConfig | None:
    """Following by email, on with FLEXHOOK_MAIL_URL (which needs FLEXHOOK_PUBLIC_URL for the
    links it mails); None: off."""
    if settings.mail_url is None:
        return None
    if not settings.public_url:
        raise ConfigError(
            "FLEXHOOK_MAIL_URL needs FLEXHOOK_PUBLIC_URL: the emails link back to flexhook"
        )
    return FollowConfig(
        mail_url=settings.mail_url,
        public_url=settings.public_url,
        share_lifetime=settings.share_lifetime,
        rules=destination_rules(settings),
        templates_dir=settings.templates_dir,
    )


def web_listeners(settings: Settings, *, host: str, port: int) -> Listeners:
    """The public listener on `host:port`, the metrics listener on FLEXHOOK_METRICS_ADDRESS."""
    metrics_host, metrics_port = split_address(settings.metrics_address)
    return Listeners(
        host=host,
        port=port,
        metrics_host=metrics_host,
        metrics_port=metrics_port,
        max_connections=settings.max_connections,
        forwarded_allow_ips=settings.forwarded_allow_ips,
    )


def web_apps(
    settings: Settings,
    engine: Engine,
    *,
    starter: StarterFactory | None = None,
    tracing: Tracing | None = None,
) -> WebApps:
    """The public ASGI app and the metrics listener's; `starter` defaults to a connection to
    `TEMPORAL_ADDRESS`; `tracing`: a span per request, carried on to Temporal."""
    apps = create_apps(
        config=web_config(settings),
        engine=engine,
        starter_factory=starter or starter_factory(settings, tracing),
        tracer=tracing.tracer if tracing else None,
        ops=ops_reporter(
            settings,
            engine,
            config=NotifyConfig(settings.resolved_notify_config),
            renderer=renderer(settings),
        ),
    )
    served_at(apps.public, settings.public_url)  # https: Secure dashboard cookie, HSTS
    return apps


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
            client,
            task_queue=settings.task_queue,
            rpc_timeout=timedelta(seconds=timeout),
            process_deadline=settings.process_deadline,
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
