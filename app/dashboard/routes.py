"""Transitional: the dashboard as routes, for the web app until it mounts `create_dashboard`.

Delete this module once `app/web` mounts `Mount("/dashboard", app=create_dashboard(...))`.
"""

from __future__ import annotations

from sqlalchemy.engine import Engine
from starlette.routing import BaseRoute, Mount

from app.dashboard.app import create_dashboard
from app.dashboard.state import Redrive


def dashboard_routes(
    *,
    engine: Engine,
    api_token: str,
    temporal_ui_url: str,
    namespace: str,
    replay: Redrive,
) -> list[BaseRoute]:
    """The dashboard application as the one route of a `Mount("/dashboard", routes=...)`."""
    app = create_dashboard(
        engine=engine,
        api_token=api_token,
        temporal_ui_url=temporal_ui_url,
        namespace=namespace,
        redrive=replay,
    )
    return [Mount("", app=app)]
