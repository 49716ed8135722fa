"""What every dashboard endpoint reads: the state `create_dashboard` keeps on its application."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from jinja2 import Environment
from sqlalchemy.engine import Engine
from starlette.requests import Request

Redrive = Callable[[str], Awaitable[str]]
"""Runs one event again: `await redrive(event_id)` returns the start's status, and raises
`LookupError` for an event that is not in the log."""


@dataclass(frozen=True)
class DashboardState:
    """The plain values one dashboard application serves from."""

    engine: Engine
    token_digest: bytes  # SHA-256 of the API token: sign-in compares digests in constant time
    redrive: Redrive
    templates: Environment
    stylesheet: bytes
    css_version: str


def state_of(request: Request) -> DashboardState:
    """The state of the dashboard application serving `request`."""
    state = request.app.state.dashboard
    assert isinstance(state, DashboardState)
    return state
