"""What the tracking endpoints read: the state `create_tracking` keeps on its application."""

from __future__ import annotations

from dataclasses import dataclass

from jinja2 import ChoiceLoader, Environment, PackageLoader, StrictUndefined, select_autoescape
from sqlalchemy.engine import Engine
from starlette.requests import Request

from app.core.shares import ShareLifetime


@dataclass(frozen=True)
class TrackingState:
    """The plain values the tracking application serves from."""

    engine: Engine
    lifetime: ShareLifetime
    templates: Environment
    following: bool = False  # FLEXHOOK_MAIL_URL is set: the page offers the follow form


def state_of(request: Request) -> TrackingState:
    """The state of the tracking application serving `request`."""
    state = request.app.state.tracking
    assert isinstance(state, TrackingState)
    return state


def environment() -> Environment:
    """The tracking templates (`app/tracking/templates/`): autoescaped, every variable required.
    The ETA chart's macro is the dashboard's (`_eta_chart.html`), which prints nothing internal."""
    return Environment(
        loader=ChoiceLoader(
            [
                PackageLoader("app.tracking", "templates"),
                PackageLoader("app.dashboard", "templates"),
            ]
        ),
        autoescape=select_autoescape(default_for_string=True, default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
