"""The web process: `POST /webhooks/flexport`, the read API under `/api`, health checks, the
dashboard and the public tracking page (`/track/<token>`), assembled from the route table
below, and beside it the metrics listener's app (`GET /metrics` alone, never on the public
port).

Endpoints live one module per resource and find what they need (engine, starter, intake,
metrics) through `app.web.state.web_state`, installed by the lifespan here. Errors of every
layer map to HTTP status codes in one table, `app.web.errors.ERROR_STATUS`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from opentelemetry.trace import Tracer
from sqlalchemy.engine import Engine
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from app import payload_codec
from app.core.shares import TRACK_PATH
from app.dashboard.app import create_dashboard
from app.dashboard.state import Redrive
from app.ingest.intake import Intake
from app.ingest.redrive import redrive_by_id
from app.ingest.relay import SpoolRelay, TemporalBreaker
from app.ingest.spool_watch import SpoolWatch
from app.ingest.starter import EventStarter
from app.ingest.watch_relay import TellExceptionWatch, WatchRelay
from app.payload_codec import EncryptionCodec
from app.tracking.app import create_tracking
from app.tracking.follow import FOLLOW_ROUTES, following
from app.web import health
from app.web.access import Authenticator, Limits, RefusalLimiter, TokenAuthentication
from app.web.api_routes import API_ROUTES
from app.web.codec import CODEC_PATH, CodecCors
from app.web.config import WebConfig
from app.web.errors import EXCEPTION_HANDLERS
from app.web.metrics import GaugeCache, MetricsState, WebMetrics, install_metrics
from app.web.middleware import NulGuardMiddleware
from app.web.state import Started, WebState
from app.web.tracing import RequestSpans
from app.web.webhook import WEBHOOK_PATH, receive_webhook
from notifications.ops_reporter import OpsReporter

StarterFactory = Callable[[], Awaitable[EventStarter]]


DASHBOARD_CODEC_PATH = "/dashboard/codec"


async def to_dashboard(request: Request) -> Response:
    return RedirectResponse("/dashboard/")


@contextlib.asynccontextmanager
async def lifespan(
    app: Starlette,
    *,
    config: WebConfig,
    engine: Engine,
    starter_factory: StarterFactory,
    started: Started,
    ops: OpsReporter | None = None,
    codec: EncryptionCodec | None = None,
    metrics: WebMetrics | None = None,
    tell_exception_watch: TellExceptionWatch | None = None,
) -> AsyncIterator[None]:
    """Connect the starter, install the endpoints' state and run the spool relay and the
    exception watch relay meanwhile, and with `ops` the ops watch (a stuck spool, Temporal
    away) beside them."""
    starter = await starter_factory()
    # By default the watch is told over the starter's connection to Temporal.
    tell = tell_exception_watch or starter.exception_changed
    breaker = TemporalBreaker()
    relay = SpoolRelay(engine, starter, breaker, idle=timedelta(seconds=config.relay_idle_seconds))
    intake = Intake(engine=engine, starter=starter, breaker=breaker, on_spooled=relay.wake)
    started.install(
        app,
        WebState(
            config=config,
            engine=engine,
            starter=starter,
            intake=intake,
            metrics=metrics or WebMetrics(),
            codec=codec,
            tell_exception_watch=tell,
        ),
    )
    watch_relay = WatchRelay(engine, tell, after=config.untold_watch_after)
    tasks = [
        asyncio.create_task(relay.run(), name="spool-relay"),
        asyncio.create_task(watch_relay.run(), name="exception-watch-relay"),
    ]
    if ops is not None:
        watch = SpoolWatch(
            engine,
            starter,
            breaker,
            ops,
            after=config.ops_alert_after,
            stuck_after=config.stuck_after,
        )
        tasks.append(asyncio.create_task(watch.run(), name="ops-watch"))
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await intake.close()


def dashboard_redrive(started: Started) -> Redrive:
    """The dashboard's redrive button: `redrive_by_id` with the started app's engine and starter
    (raises `LookupError` when the log has no such event)."""

    async def redrive(event_id: str) -> str:
        web = started.state
        return await redrive_by_id(engine=web.engine, starter=web.starter, event_id=event_id)

    return redrive


def dashboard_exception_watch(started: Started) -> TellExceptionWatch:
    """The dashboard's way to tell an exception's watch: the started app's (`WebState`)."""

    async def tell(exception_id: int) -> None:
        teller = started.state.tell_exception_watch
        if teller is not None:
            await teller(exception_id)

    return tell


def routes(
    *,
    config: WebConfig,
    engine: Engine,
    redrive: Redrive,
    limiter: RefusalLimiter,
    codec: EncryptionCodec | None = None,
    tell_exception_watch: TellExceptionWatch | None = None,
) -> list[BaseRoute]:
    """The route table of the whole process. `limiter` counts refused tokens, API and
    dashboard sign-in alike."""
    dashboard = create_dashboard(
        engine=engine,
        api_token=config.api_token,
        temporal_ui_url=config.temporal_ui_url,
        namespace=config.namespace,
        redrive=redrive,
        limiter=limiter,
        codec=codec,
        destination_rules=config.destination_rules,
        share_lifetime=config.share_lifetime,
        public_url=config.public_url,
        max_shares_per_shipment=config.max_shares_per_shipment,
        exception_ack_sla=config.exception_ack_sla,
        exception_resolve_sla=config.exception_resolve_sla,
        tell_exception_watch=tell_exception_watch,
    )
    return [
        Route(WEBHOOK_PATH, receive_webhook, methods=["POST"]),
        Route("/healthz", health.healthz),
        Route("/readyz", health.readyz),
        Route("/", to_dashboard),
        *FOLLOW_ROUTES,  # answer 404 without FLEXHOOK_MAIL_URL
        Mount(
            "/api",
            routes=API_ROUTES,
            middleware=[
                Middleware(
                    TokenAuthentication,
                    authenticator=Authenticator(engine, break_glass=config.api_token),
                    limiter=limiter,
                )
            ],
        ),
        Mount("/dashboard", app=dashboard),  # answers its own errors (not in JSON)
        # The public tracking page, `/track/<token>`: no sign-in, its own plain error pages.
        Mount(
            TRACK_PATH.rstrip("/"),
            app=create_tracking(
                engine=engine,
                lifetime=config.share_lifetime,
                following=config.follow is not None,
            ),
        ),
    ]


def create_app(
    *,
    config: WebConfig,
    engine: Engine,
    starter_factory: StarterFactory,
    ops: OpsReporter | None = None,
    metrics: WebMetrics | None = None,
    tell_exception_watch: TellExceptionWatch | None = None,
    tracer: Tracer | None = None,
) -> Starlette:
    """The public ASGI app. `starter_factory` runs once at start-up (it connects to Temporal);
    `ops` alerts the operators of a stuck spool (None: nobody); `metrics` are the counters the
    metrics app exports (None: counted for nobody); `tell_exception_watch` signals an
    exception's watch workflow after a person's action (None: over the starter's Temporal
    connection); `tracer`: a span per request (`app.web.tracing`; None: tracing is off)."""
    started = Started()
    limiter = RefusalLimiter(Limits(refusals=config.refused_tokens_per_minute), ops=ops)
    codec = payload_codec.codec(config.payload_keys)
    app = Starlette(
        routes=routes(
            config=config,
            engine=engine,
            redrive=dashboard_redrive(started),
            limiter=limiter,
            codec=codec,
            tell_exception_watch=dashboard_exception_watch(started),
        ),
        middleware=[
            *([Middleware(RequestSpans, tracer=tracer)] if tracer is not None else []),
            Middleware(NulGuardMiddleware),
            Middleware(
                CodecCors,
                ui_url=config.temporal_ui_url,
                paths=(CODEC_PATH, DASHBOARD_CODEC_PATH),
            ),
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=partial(
            lifespan,
            config=config,
            engine=engine,
            starter_factory=starter_factory,
            started=started,
            ops=ops,
            codec=codec,
            metrics=metrics,
            tell_exception_watch=tell_exception_watch,
        ),
    )
    app.state.follow = following(engine, config.follow)
    return app


def create_metrics_app(
    *, engine: Engine, metrics: WebMetrics, max_age: timedelta = timedelta(seconds=30)
) -> Starlette:
    """The metrics listener's app: `GET /metrics`, the public app's `metrics` and the
    database's gauges, read at most once per `max_age`."""
    app = Starlette(
        routes=[Route("/metrics", health.metrics)], exception_handlers=EXCEPTION_HANDLERS
    )
    install_metrics(app, MetricsState(metrics=metrics, gauges=GaugeCache(engine, max_age=max_age)))
    return app


@dataclass(frozen=True)
class WebApps:
    """The web process's two apps: the public one and the metrics listener's."""

    public: Starlette
    metrics: Starlette


def create_apps(
    *,
    config: WebConfig,
    engine: Engine,
    starter_factory: StarterFactory,
    ops: OpsReporter | None = None,
    tell_exception_watch: TellExceptionWatch | None = None,
    tracer: Tracer | None = None,
) -> WebApps:
    """`create_app` and `create_metrics_app` sharing one set of counters."""
    metrics = WebMetrics()
    return WebApps(
        public=create_app(
            config=config,
            engine=engine,
            starter_factory=starter_factory,
            ops=ops,
            metrics=metrics,
            tell_exception_watch=tell_exception_watch,
            tracer=tracer,
        ),
        metrics=create_metrics_app(engine=engine, metrics=metrics, max_age=config.metrics_max_age),
    )
