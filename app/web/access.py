"""Who is asking, under `/api`: every request needs `Authorization: Bearer <token>`, a named
token (`app.store.tokens`) or `FLEXHOOK_API_TOKEN`, the break-glass admin. A missing, unknown,
expired or revoked token is answered 401; an address that keeps presenting such tokens is
answered 429 for a while (`RefusalLimiter`), and the operators hear of the burst once.

What each role may do is checked per operation (`app.web.operations`), against the actor this
middleware leaves in the request's scope.
"""

from __future__ import annotations

import hmac
import logging
import re
import secrets
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from sqlalchemy.engine import Engine
from starlette.datastructures import Headers
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core import ops_alerts
from app.core.access import ENVIRONMENT_ADMIN, TOKEN_PREFIX, Actor, Role, token_digest
from app.store import db, tokens
from app.web.errors import error_response
from notifications.ops_reporter import OpsReporter

log = logging.getLogger("flexhook.web")

ACTOR_KEY: Final = "flexhook.actor"
REQUEST_ID_KEY: Final = "flexhook.request_id"
_REQUEST_ID: Final = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


@dataclass(frozen=True)
class Limits:
    """`refusals` refused tokens from one address within `window` block it for `block`."""

    refusals: int = 10
    window: timedelta = timedelta(minutes=1)
    block: timedelta = timedelta(minutes=1)


class RefusalLimiter:
    """Counts refused tokens (API and dashboard sign-in) per client address, in this process."""

    MAX_ADDRESSES: Final = 10_000

    def __init__(self, limits: Limits = Limits(), *, ops: OpsReporter | None = None) -> None:
        self._limits = limits
        self._ops = ops
        self._lock = threading.Lock()
        self._refused: dict[str, deque[float]] = {}
        self._blocked_until: dict[str, float] = {}
        # The ops alert of a burst is sent from here, never from the caller's event loop: it
        # writes the incident (SQLite's writer lock) and waits for Apprise.
        self._reporter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="guess-alert")

    def retry_after(self, client: str) -> int | None:
        """Seconds until `client` may try again, or None when it is not blocked."""
        with self._lock:
            until = self._blocked_until.get(client)
            now = time.monotonic()
            if until is None or until <= now:
                self._blocked_until.pop(client, None)
                return None
            return max(1, round(until - now))

    def refused(self, client: str) -> None:
        """Count one refused token; a burst blocks the address and tells the operators."""
        now = time.monotonic()
        with self._lock:
            if len(self._refused) >= self.MAX_ADDRESSES and client not in self._refused:
                self._refused.clear()  # a flood of addresses: start counting afresh
            times = self._refused.setdefault(client, deque())
            times.append(now)
            while times and times[0] < now - self._limits.window.total_seconds():
                times.popleft()
            burst = len(times) >= self._limits.refusals
            if burst:
                if len(self._blocked_until) >= self.MAX_ADDRESSES:
                    self._forget_unblocked(now)
                self._blocked_until[client] = now + self._limits.block.total_seconds()
                count = len(times)
                times.clear()
        if burst:
            log.warning("%d refused tokens from %s: blocked for a while", count, client)
            if self._ops is not None:
                at = datetime.now(UTC)
                alert = ops_alerts.token_guessing(
                    client=client, refused=count, within=self._limits.window, at=at
                )
                self._reporter.submit(self._ops.incident, alert, now=at)

    def _forget_unblocked(self, now: float) -> None:
        """Drop the addresses whose block is over (called with the lock held)."""
        for client, until in list(self._blocked_until.items()):
            if until <= now:
                del self._blocked_until[client]


def client_address(connection: HTTPConnection) -> str:
    return connection.client.host if connection.client else "unknown"


def request_id(scope: Scope) -> str:
    value = scope.get(REQUEST_ID_KEY)
    return value if isinstance(value, str) else ""


def current_actor(connection: HTTPConnection) -> Actor:
    """The actor `TokenAuthentication` found (it refuses every request without one)."""
    actor = connection.scope.get(ACTOR_KEY)
    if not isinstance(actor, Actor):
        raise RuntimeError("no actor: the request did not pass TokenAuthentication")
    return actor


class Authenticator:
    """Finds the actor of a presented token: the break-glass admin, or a named token."""

    def __init__(self, engine: Engine, *, break_glass: str) -> None:
        self._engine = engine
        self._break_glass = token_digest(break_glass)

    async def actor(self, token: str) -> Actor | None:
        digest = token_digest(token)
        # Compared first and always, so timing says nothing about which kind a token is.
        if hmac.compare_digest(digest, self._break_glass):
            return Actor(name=ENVIRONMENT_ADMIN, role=Role.ADMIN)
        if not token.startswith(TOKEN_PREFIX):
            return None
        now = datetime.now(UTC)
        found = await db.read_by_key(self._engine, tokens.lookup, digest=digest, now=now)
        if found is None:
            return None
        if found.needs_touch:
            await db.in_session(self._engine, tokens.touch, commit=True, name=found.name, now=now)
        return found.actor


class TokenAuthentication:
    """ASGI middleware: the bearer token's actor in the scope, or 401 (429 when blocked). Every
    answer carries the request's id (`X-Request-ID`, the client's if it sent a sane one)."""

    def __init__(
        self, app: ASGIApp, *, authenticator: Authenticator, limiter: RefusalLimiter
    ) -> None:
        self.app = app
        self._authenticator = authenticator
        self._limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        given_id = headers.get("x-request-id", "")
        scope[REQUEST_ID_KEY] = given_id if _REQUEST_ID.match(given_id) else secrets.token_hex(8)
        send = _with_request_id(send, scope[REQUEST_ID_KEY])
        client = client_address(HTTPConnection(scope))
        retry = self._limiter.retry_after(client)
        if retry is not None:
            response = error_response(
                429, "too_many_requests", "too many refused tokens from this address"
            )
            response.headers["Retry-After"] = str(retry)
            await response(scope, receive, send)
            return
        scheme, _, given = headers.get("authorization", "").partition(" ")
        actor = None
        if scheme.lower() == "bearer":
            actor = await self._authenticator.actor(given.strip())
        if actor is None:
            if given:
                self._limiter.refused(client)
            response = error_response(401, "unauthorized", "a valid bearer token is required")
            response.headers["WWW-Authenticate"] = "Bearer"
            await response(scope, receive, send)
            return
        scope[ACTOR_KEY] = actor
        await self.app(scope, receive, send)


def _with_request_id(send: Send, value: str) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", []), (b"x-request-id", value.encode())]
        await send(message)

    return sending
