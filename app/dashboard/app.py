"""The ops dashboard as a Starlette sub-application: server-rendered HTML over the records.

Mount it under any prefix (`Mount("/dashboard", app=create_dashboard(...))`): links and the
session cookie's Path come from the mount's root path. Every page is read by any signed-in
token; the route table says which role each change needs (`signed_in(..., writes=...)`).
"""

from __future__ import annotations

import hashlib

from sqlalchemy.engine import Engine
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route
from temporalio.converter import PayloadCodec

from app.core.access import Role, token_digest
from app.core.addresses import DEFAULT_RULES, DestinationRules
from app.core.exception_clock import (
    DEFAULT_ACK_SLA,
    DEFAULT_RESOLVE_SLA,
    parse_severity_durations,
)
from app.core.shares import ShareLifetime
from app.dashboard import audit, codec, exceptions, exports, pages, recipients, shares, tokens
from app.dashboard.rendering import environment, read_stylesheet
from app.dashboard.session import SessionCookies, session_secret, sign_in, sign_out, signed_in
from app.dashboard.state import DashboardState, Limiter, Redrive
from app.ingest.watch_relay import TellExceptionWatch

ROUTES = [
    Route("/sign-in", sign_in, methods=["GET", "POST"], name="dashboard_sign_in"),
    Route("/sign-out", signed_in(sign_out), methods=["POST"], name="dashboard_sign_out"),
    Route("/", signed_in(pages.home), name="dashboard_home"),
    Route("/exceptions", signed_in(exceptions.inbox), name="dashboard_exceptions"),
    Route(
        "/exceptions/bulk",
        signed_in(exceptions.bulk, writes=Role.OPERATOR),
        methods=["POST"],
        name="dashboard_exceptions_bulk",
    ),
    Route(
        "/exceptions/{exception_id}",
        signed_in(exceptions.detail, writes=Role.OPERATOR),
        methods=["GET", "POST"],
        name="dashboard_exception",
    ),
    Route("/shipments", signed_in(pages.shipments), name="dashboard_shipments"),
    Route(
        "/shipments/{shipment_id:path}/shares",
        signed_in(shares.shares, writes=Role.OPERATOR),
        methods=["POST"],
        name="dashboard_shares",
    ),
    Route("/shipments.csv", signed_in(exports.shipments), name="dashboard_shipments_csv"),
    Route("/shipments/{shipment_id:path}", signed_in(pages.shipment), name="dashboard_shipment"),
    Route("/events", signed_in(pages.events), name="dashboard_events"),
    Route("/events.csv", signed_in(exports.events), name="dashboard_events_csv"),
    Route(
        "/events/{event_id:path}/redrive",
        signed_in(pages.redrive, writes=Role.OPERATOR),
        methods=["POST"],
        name="dashboard_redrive",
    ),
    Route("/events/{event_id:path}", signed_in(pages.event), name="dashboard_event"),
    Route(
        "/recipients",
        signed_in(recipients.recipients, writes=Role.OPERATOR),
        methods=["GET", "POST"],
        name="dashboard_recipients",
    ),
    Route(
        "/tokens",
        signed_in(tokens.tokens, reads=Role.ADMIN),
        methods=["GET", "POST"],
        name="dashboard_tokens",
    ),
    Route("/audit", signed_in(audit.audit, reads=Role.ADMIN), name="dashboard_audit"),
    Route(
        "/codec/decode",
        signed_in(codec.decode, reads=Role.OPERATOR),
        methods=["POST"],
        name="dashboard_codec_decode",
    ),
    Route(
        "/codec/encode",
        signed_in(codec.encode, reads=Role.OPERATOR),
        methods=["POST"],
        name="dashboard_codec_encode",
    ),
    Route("/static/dashboard.css", pages.stylesheet, name="dashboard_css"),
]


def create_dashboard(
    *,
    engine: Engine,
    api_token: str,
    temporal_ui_url: str,
    namespace: str,
    redrive: Redrive,
    limiter: Limiter,
    codec: PayloadCodec | None = None,
    destination_rules: DestinationRules = DEFAULT_RULES,
    share_lifetime: ShareLifetime | None = None,
    public_url: str = "",
    max_shares_per_shipment: int = 20,
    exception_ack_sla: str = DEFAULT_ACK_SLA,
    exception_resolve_sla: str = DEFAULT_RESOLVE_SLA,
    tell_exception_watch: TellExceptionWatch | None = None,
) -> Starlette:
    """The dashboard application. Signing in takes a named token in `engine`'s database or
    `api_token` (FLEXHOOK_API_TOKEN, the break-glass admin; it also keys the session cookies);
    `limiter` counts refused sign-ins per address (share the one `/api` uses). The redrive
    button calls `redrive(event_id)`. `temporal_ui_url` may be empty: the pages then show no
    workflow links. `codec` (None: payloads are not encrypted) serves the Temporal UI at
    `codec/decode` and `codec/encode` for signed-in operators.
    Recipients added on its pages keep to `destination_rules`; share links made on a
    shipment's page live `share_lifetime` (None: the defaults) and open under `public_url`, at
    most `max_shares_per_shipment` active ones per shipment.
    The inbox marks exceptions overdue by `exception_ack_sla` and `exception_resolve_sla`
    (`critical=1h,high=4h,normal=24h`: FLEXHOOK_EXCEPTION_ACK_SLA and _RESOLVE_SLA; a
    `ValueError` for one that does not parse) and, after each person's action commits, calls
    `tell_exception_watch(exception_id)` when given.
    """
    if not api_token:
        raise ValueError("the dashboard needs an API token to sign in with")
    ack_sla = parse_severity_durations(exception_ack_sla)
    resolve_sla = parse_severity_durations(exception_resolve_sla)
    stylesheet = read_stylesheet()
    app = Starlette(
        routes=ROUTES,
        middleware=[Middleware(SessionCookies, secret_key=session_secret(api_token))],
    )
    app.state.dashboard = DashboardState(
        engine=engine,
        environment_digest=token_digest(api_token),
        limiter=limiter,
        redrive=redrive,
        templates=environment(temporal_ui_url=temporal_ui_url, namespace=namespace),
        stylesheet=stylesheet,
        css_version=hashlib.sha256(stylesheet).hexdigest()[:12],
        codec=codec,
        destination_rules=destination_rules,
        share_lifetime=share_lifetime or ShareLifetime(),
        public_url=public_url,
        max_shares_per_shipment=max_shares_per_shipment,
        ack_sla=ack_sla,
        resolve_sla=resolve_sla,
        tell_exception_watch=tell_exception_watch,
    )
    return app
