"""The tracking page as a Starlette sub-application, mounted at `/track` by the web process.

Anyone holding a share link may open it: no sign-in, no cookie, no script. Every answer (the
page, 404, 410, 405, an error) carries the same headers (`headers.SECURITY_HEADERS`): not
cached, not indexed, no referrer, a CSP that allows inline styles and nothing else.
"""

from __future__ import annotations

from sqlalchemy.engine import Engine
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route

from app.core.shares import ShareLifetime
from app.tracking import pages
from app.tracking.headers import SecurityHeaders
from app.tracking.state import TrackingState, environment

ROUTES = [
    Route("/{token}", pages.track, methods=pages.ROUTED_METHODS, name="tracking_page"),
    Route("/{rest:path}", pages.not_found, methods=pages.ROUTED_METHODS, name="tracking_other"),
]


def create_tracking(
    *, engine: Engine, lifetime: ShareLifetime, following: bool = False
) -> Starlette:
    """The tracking application over `engine`'s shares and shipments; links live `lifetime`;
    `following`: the page offers the follow-by-email form."""
    app = Starlette(routes=ROUTES, middleware=[Middleware(SecurityHeaders)])
    app.state.tracking = TrackingState(
        engine=engine, lifetime=lifetime, templates=environment(), following=following
    )
    return app
