"""What the endpoints need, built once at start-up and kept on `app.state.web`."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine
from starlette.applications import Starlette
from starlette.requests import HTTPConnection

from app.ingest.intake import Intake
from app.ingest.starter import EventStarter
from app.ingest.watch_relay import TellExceptionWatch
from app.payload_codec import EncryptionCodec
from app.web.config import WebConfig
from app.web.metrics import WebMetrics


@dataclass(frozen=True)
class WebState:
    config: WebConfig
    engine: Engine
    starter: EventStarter
    intake: Intake
    metrics: WebMetrics
    codec: EncryptionCodec | None = None  # None: payloads are not encrypted
    # Tells an exception's watch workflow that a person changed it (None: nobody to tell).
    tell_exception_watch: TellExceptionWatch | None = None


def install(app: Starlette, state: WebState) -> None:
    """Make `state` what `web_state` answers for requests to `app`."""
    app.state.web = state


def app_state(app: Starlette) -> WebState:
    """The state `install` put on `app` (the app's lifespan must have started)."""
    state = getattr(app.state, "web", None)
    if not isinstance(state, WebState):
        raise RuntimeError("the web app has not started: its lifespan installs its state")
    return state


def web_state(request: HTTPConnection) -> WebState:
    """The state of the app serving `request`."""
    return app_state(request.app)


class Started:
    """Where the lifespan leaves the state it installs, for what is built with the app and
    runs only once it has started (the dashboard's redrive button)."""

    def __init__(self) -> None:
        self._state: WebState | None = None

    def install(self, app: Starlette, state: WebState) -> None:
        install(app, state)
        self._state = state

    @property
    def state(self) -> WebState:
        if self._state is None:
            raise RuntimeError("the web app has not started: its lifespan installs its state")
        return self._state
