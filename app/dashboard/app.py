"""The ops dashboard as a Starlette sub-application: server-rendered HTML over the records.

Mount it under any prefix (`Mount("/dashboard", app=create_dashboard(...))`): links and the
session cookie's Path come from the mount's root path.
"""

from __future__ import annotations

import hashlib

from sqlalchemy.engine import Engine
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route

from app.dashboard import pages, recipients
from app.dashboard.rendering import environment, read_stylesheet
from app.dashboard.session import SessionCookies, session_secret, sign_in, sign_out, signed_in
from app.dashboard.state import DashboardState, Redrive

ROUTES = [
    Route("/sign-in", sign_in, methods=["GET", "POST"], name="dashboard_sign_in"),
    Route("/sign-out", signed_in(sign_out), methods=["POST"], name="dashboard_sign_out"),
    Route("/", signed_in(pages.shipments), name="dashboard_shipments"),
    Route("/shipments/{shipment_id:path}", signed_in(pages.shipment), name="dashboard_shipment"),
    Route("/events", signed_in(pages.events), name="dashboard_events"),
    Route(
        "/events/{event_id:path}/redrive",
        signed_in(pages.redrive),
        methods=["POST"],
        name="dashboard_redrive",
    ),
    Route("/events/{event_id:path}", signed_in(pages.event), name="dashboard_event"),
    Route(
        "/recipients",
        signed_in(recipients.recipients),
        methods=["GET", "POST"],
        name="dashboard_recipients",
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
) -> Starlette:
    """The dashboard application. Signing in takes `api_token`; the redrive button calls
    `redrive(event_id)`. `temporal_ui_url` may be empty: the pages then show no workflow links.
    """
    if not api_token:
        raise ValueError("the dashboard needs an API token to sign in with")
    stylesheet = read_stylesheet()
    app = Starlette(
        routes=ROUTES,
        middleware=[Middleware(SessionCookies, secret_key=session_secret(api_token))],
    )
    app.state.dashboard = DashboardState(
        engine=engine,
        token_digest=hashlib.sha256(api_token.encode("utf-8")).digest(),
        redrive=redrive,
        templates=environment(temporal_ui_url=temporal_ui_url, namespace=namespace),
        stylesheet=stylesheet,
        css_version=hashlib.sha256(stylesheet).hexdigest()[:12],
    )
    return app
