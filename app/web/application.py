"""The web process: `POST /webhooks/flexport`, the read API under `/api`, health checks, metrics
and the dashboard, assembled from the route table below.

Endpoints live one module per resource and find what they need (engine, starter, intake,
metrics) through `app.web.state.web_state`, installed by the lifespan here. Errors of every
layer map to HTTP status codes in one table, `app.web.errors.ERROR_STATUS`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from functools import partial

from sqlalchemy.engine import Engine
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from app.core.access import Role
from app.dashboard.app import create_dashboard
from app.dashboard.state import Redrive
from app.ingest.intake import Intake
from app.ingest.redrive import redrive_by_id
from app.ingest.relay import SpoolRelay, TemporalBreaker
from app.ingest.spool_watch import SpoolWatch
from app.ingest.starter import EventStarter
from app.web import (
    audit,
    events,
    health,
    notifications,
    openapi,
    recipients,
    reconcile,
    records,
    reference,
    schemas,
    shipments,
    subscriptions,
    tokens,
)
from app.web.access import Authenticator, Limits, RefusalLimiter, TokenAuthentication
from app.web.config import WebConfig
from app.web.deprecation import Endpoint, deprecated
from app.web.errors import EXCEPTION_HANDLERS
from app.web.metrics import WebMetrics
from app.web.middleware import NulGuardMiddleware
from app.web.operations import ApiRoute, Operation
from app.web.state import Started, WebState
from app.web.webhook import WEBHOOK_PATH, receive_webhook
from notifications.ops_reporter import OpsReporter

StarterFactory = Callable[[], Awaitable[EventStarter]]

VIEWER, OPERATOR, ADMIN = Role.VIEWER, Role.OPERATOR, Role.ADMIN


def _old(endpoint: Endpoint, successor: str, **keys: str) -> Endpoint:
    """An endpoint under its deprecated path (`app.web.deprecation`), answering `keys` as it
    always did."""
    return deprecated(partial(endpoint, **keys) if keys else endpoint, successor=successor)


# Under `/api`, behind a bearer token; each operation names the role it needs.
API_ROUTES: list[BaseRoute] = [
    ApiRoute(
        "/shipments",
        Operation(
            "GET",
            shipments.list_shipments,
            VIEWER,
            "List shipments",
            query=schemas.ShipmentQuery,
            responses={200: schemas.ShipmentList},
            operation_id="list_shipments",
        ),
    ),
    ApiRoute(
        "/shipments/{id}",
        Operation(
            "GET",
            shipments.get_shipment,
            VIEWER,
            "Get a shipment",
            responses={200: schemas.ShipmentDocument, 404: schemas.ErrorBody},
            operation_id="get_shipment",
        ),
    ),
    ApiRoute(
        "/shipments/{id}/subscriptions",
        Operation(
            "GET",
            subscriptions.list_subscriptions,
            VIEWER,
            "List a shipment's subscriptions",
            responses={200: schemas.SubscriptionList},
            operation_id="list_subscriptions",
        ),
        Operation(
            "POST",
            subscriptions.add_subscription,
            OPERATOR,
            "Subscribe to a shipment's alerts",
            body=schemas.SubscriptionBody,
            responses={201: schemas.Subscription, 400: schemas.ErrorBody},
            operation_id="add_subscription",
        ),
    ),
    ApiRoute(
        "/shipments/{id}/subscriptions/{sid}",
        Operation(
            "DELETE",
            subscriptions.remove_subscription,
            OPERATOR,
            "Remove a subscription",
            responses={204: None, 404: schemas.ErrorBody},
            operation_id="remove_subscription",
        ),
    ),
    ApiRoute(
        "/recipients",
        Operation(
            "GET",
            recipients.list_recipients,
            VIEWER,
            "List recipients",
            responses={200: schemas.RecipientList},
            operation_id="list_recipients",
        ),
        Operation(
            "POST",
            recipients.add_recipient,
            OPERATOR,
            "Add a recipient",
            body=schemas.RecipientBody,
            responses={201: schemas.Recipient, 400: schemas.ErrorBody, 409: schemas.ErrorBody},
            operation_id="add_recipient",
        ),
    ),
    ApiRoute(
        "/recipients/{id}",
        Operation(
            "DELETE",
            recipients.remove_recipient,
            OPERATOR,
            "Remove a recipient",
            responses={204: None, 404: schemas.ErrorBody},
            operation_id="remove_recipient",
        ),
    ),
    ApiRoute(
        "/notifications",
        Operation(
            "GET",
            notifications.list_notifications,
            VIEWER,
            "List the alert ledger",
            query=schemas.NotificationQuery,
            responses={200: schemas.NotificationList},
            operation_id="list_notifications",
        ),
    ),
    ApiRoute(
        "/events",
        Operation(
            "GET",
            events.list_events,
            VIEWER,
            "List the event log",
            query=schemas.EventQuery,
            responses={200: schemas.EventList},
            operation_id="list_events",
        ),
    ),
    ApiRoute(
        "/events/{event_id}",
        Operation(
            "GET",
            events.get_event,
            VIEWER,
            "Get one event",
            responses={200: schemas.EventDetail, 404: schemas.ErrorBody},
            operation_id="get_event",
        ),
    ),
    ApiRoute(
        "/events/{event_id}/redrive",
        Operation(
            "POST",
            events.redrive_event,
            OPERATOR,
            "Redrive one event",
            responses={
                200: schemas.Redriven,
                404: schemas.ErrorBody,
                422: schemas.ErrorBody,
                503: schemas.ErrorBody,
            },
            operation_id="redrive_event",
        ),
    ),
    ApiRoute(
        "/spool",
        Operation(
            "GET",
            health.spool_stats,
            VIEWER,
            "The spool's depth and age",
            responses={200: schemas.SpoolStats},
            operation_id="get_spool",
        ),
    ),
    ApiRoute(
        "/reconcile",
        Operation(
            "GET",
            reconcile.list_runs,
            VIEWER,
            "Recent reconcile runs",
            query=schemas.ReconcileQuery,
            responses={200: schemas.ReconcileRuns},
            operation_id="list_reconcile_runs",
        ),
    ),
    ApiRoute(
        "/tokens",
        Operation(
            "GET",
            tokens.list_tokens,
            ADMIN,
            "List named tokens",
            responses={200: schemas.TokenList},
            operation_id="list_tokens",
        ),
        Operation(
            "POST",
            tokens.create_token,
            ADMIN,
            "Create a named token",
            body=schemas.TokenBody,
            responses={201: schemas.NewToken, 400: schemas.ErrorBody, 409: schemas.ErrorBody},
            operation_id="create_token",
        ),
    ),
    ApiRoute(
        "/tokens/{name}",
        Operation(
            "DELETE",
            tokens.revoke_token,
            ADMIN,
            "Revoke a token",
            responses={204: None, 404: schemas.ErrorBody},
            operation_id="revoke_token",
        ),
    ),
    ApiRoute(
        "/audit",
        Operation(
            "GET",
            audit.list_audit,
            ADMIN,
            "The audit trail",
            query=schemas.AuditQuery,
            responses={200: schemas.AuditTrail},
            operation_id="list_audit",
        ),
    ),
    ApiRoute(
        "/openapi.json",
        Operation(
            "GET",
            openapi.get_document,
            VIEWER,
            "This API's OpenAPI document",
            responses={200: schemas.OpenApiDocument},
            operation_id="get_openapi",
        ),
    ),
    ApiRoute(
        "/reference",
        Operation(
            "GET",
            reference.get_reference,
            VIEWER,
            "This API's reference, as a page",
            responses={200: schemas.HtmlPage},
            operation_id="get_reference",
        ),
    ),
    # The names before the glossary settled them (docs/api.md, "Deprecated names").
    ApiRoute(
        "/shipments/{id}/subscribers",
        Operation(
            "GET",
            _old(
                subscriptions.list_subscriptions,
                "/api/shipments/{id}/subscriptions",
                key="subscribers",
            ),
            VIEWER,
            "List a shipment's subscriptions (deprecated path)",
            responses={200: schemas.SubscriberList},
            operation_id="list_shipment_subscribers",
            deprecated=True,
        ),
        Operation(
            "POST",
            _old(subscriptions.add_subscription, "/api/shipments/{id}/subscriptions"),
            OPERATOR,
            "Subscribe to a shipment's alerts (deprecated path)",
            body=schemas.SubscriptionBody,
            responses={201: schemas.Subscription, 400: schemas.ErrorBody},
            operation_id="add_shipment_subscriber",
            deprecated=True,
        ),
    ),
    ApiRoute(
        "/shipments/{id}/subscribers/{sid}",
        Operation(
            "DELETE",
            _old(subscriptions.remove_subscription, "/api/shipments/{id}/subscriptions/{sid}"),
            OPERATOR,
            "Remove a subscription (deprecated path)",
            responses={204: None, 404: schemas.ErrorBody},
            operation_id="remove_shipment_subscriber",
            deprecated=True,
        ),
    ),
    ApiRoute(
        "/subscribers",
        Operation(
            "GET",
            _old(recipients.list_recipients, "/api/recipients", key="subscribers"),
            VIEWER,
            "List recipients (deprecated path)",
            responses={200: schemas.RecipientListByOldKey},
            operation_id="list_subscribers",
            deprecated=True,
        ),
        Operation(
            "POST",
            _old(recipients.add_recipient, "/api/recipients"),
            OPERATOR,
            "Add a recipient (deprecated path)",
            body=schemas.RecipientBody,
            responses={201: schemas.Recipient, 400: schemas.ErrorBody, 409: schemas.ErrorBody},
            operation_id="add_subscriber",
            deprecated=True,
        ),
    ),
    ApiRoute(
        "/subscribers/{id}",
        Operation(
            "DELETE",
            _old(recipients.remove_recipient, "/api/recipients/{id}"),
            OPERATOR,
            "Remove a recipient (deprecated path)",
            responses={204: None, 404: schemas.ErrorBody},
            operation_id="remove_subscriber",
            deprecated=True,
        ),
    ),
    ApiRoute(
        "/events/{event_id}/replay",
        Operation(
            "POST",
            _old(events.redrive_event, "/api/events/{event_id}/redrive"),
            OPERATOR,
            "Redrive one event (deprecated path)",
            responses={
                200: schemas.Redriven,
                404: schemas.ErrorBody,
                422: schemas.ErrorBody,
                503: schemas.ErrorBody,
            },
            operation_id="replay_event",
            deprecated=True,
        ),
    ),
    ApiRoute(
        "/{kind}/{key}",
        Operation(
            "GET",
            records.get_record,
            VIEWER,
            "Get one record",
            responses={200: schemas.Record, 404: schemas.ErrorBody},
            operation_id="get_record",
        ),
    ),
]


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
) -> AsyncIterator[None]:
    """Connect the starter, install the endpoints' state and run the spool relay meanwhile,
    and with `ops` the ops watch (a stuck spool, Temporal away) beside it."""
    starter = await starter_factory()
    breaker = TemporalBreaker()
    relay = SpoolRelay(engine, starter, breaker, idle=timedelta(seconds=config.relay_idle_seconds))
    intake = Intake(engine=engine, starter=starter, breaker=breaker, on_spooled=relay.wake)
    started.install(
        app,
        WebState(
            config=config, engine=engine, starter=starter, intake=intake, metrics=WebMetrics()
        ),
    )
    tasks = [asyncio.create_task(relay.run(), name="spool-relay")]
    if ops is not None:
        watch = SpoolWatch(engine, starter, breaker, ops, after=config.ops_alert_after)
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


def routes(
    *, config: WebConfig, engine: Engine, redrive: Redrive, limiter: RefusalLimiter
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
    )
    return [
        Route(WEBHOOK_PATH, receive_webhook, methods=["POST"]),
        Route("/healthz", health.healthz),
        Route("/readyz", health.readyz),
        Route("/metrics", health.metrics),
        Route("/", to_dashboard),
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
    ]


def create_app(
    *,
    config: WebConfig,
    engine: Engine,
    starter_factory: StarterFactory,
    ops: OpsReporter | None = None,
) -> Starlette:
    """The ASGI app. `starter_factory` runs once at start-up (it connects to Temporal); `ops`
    alerts the operators of a stuck spool (None: nobody)."""
    started = Started()
    limiter = RefusalLimiter(Limits(refusals=config.refused_tokens_per_minute), ops=ops)
    return Starlette(
        routes=routes(
            config=config, engine=engine, redrive=dashboard_redrive(started), limiter=limiter
        ),
        middleware=[Middleware(NulGuardMiddleware)],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=partial(
            lifespan,
            config=config,
            engine=engine,
            starter_factory=starter_factory,
            started=started,
            ops=ops,
        ),
    )
