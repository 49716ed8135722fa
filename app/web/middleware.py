"""ASGI middleware of the web process: refusals that come before any endpoint."""

from __future__ import annotations

import hmac
from urllib.parse import unquote_plus

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from app.web.errors import error_response


class NulGuardMiddleware:
    """A NUL character in the path or query is never meaningful, and PostgreSQL cannot compare
    text with one: refuse it before any handler sees it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (
            "\x00" in scope["path"]
            or "\x00" in unquote_plus(scope["query_string"].decode("latin-1"))
        ):
            response = error_response(400, "bad_request", "NUL characters are not allowed in URLs")
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


class BearerTokenMiddleware:
    """Every request under it needs `Authorization: Bearer <token>` (compared in constant time)."""

    def __init__(self, app: ASGIApp, *, token: str) -> None:
        self.app = app
        self._token = token.encode("utf-8")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not self._authorized(Headers(scope=scope)):
            response = error_response(401, "unauthorized", "a valid bearer token is required")
            response.headers["WWW-Authenticate"] = "Bearer"
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _authorized(self, headers: Headers) -> bool:
        scheme, _, given = headers.get("authorization", "").partition(" ")
        # Compare even when the scheme is wrong, so timing tells nothing about the token.
        matches = hmac.compare_digest(given.strip().encode("utf-8", errors="replace"), self._token)
        return scheme.lower() == "bearer" and matches
