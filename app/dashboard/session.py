"""Signing in and out, the session cookie and the CSRF token of each session.

Sign-in takes the API token once (compared in constant time) and answers with Starlette's signed
session cookie (itsdangerous), keyed by a secret derived from the API token, never the token
itself: rotating the token signs every session out. The cookie is HttpOnly, SameSite=Lax, Path
the dashboard's mount, Secure when the request came over https, and is refused
`SESSION_SECONDS` after sign-in (the session is written only then, so the clock never slides).
Each session carries a random CSRF token that every POST form must send back.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Awaitable, Callable

from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from app.dashboard.forms import FormError, read_form
from app.dashboard.rendering import base_path, harden, problem, query_string, render
from app.dashboard.state import state_of

log = logging.getLogger("flexhook.dashboard")

SESSION_COOKIE = "flexhook_dashboard"
SESSION_SECONDS = 12 * 60 * 60
CSRF_KEY = "csrf"
FORM_EXPIRED = "The form has expired. Reload and try again."

Page = Callable[[Request, str], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]


def session_secret(api_token: str) -> str:
    """The key that signs session cookies: an HMAC of the API token, so the token never is."""
    label = b"flexhook dashboard session v2"
    return hmac.new(api_token.encode("utf-8"), label, hashlib.sha256).hexdigest()


class SessionCookies:
    """Starlette's `SessionMiddleware` with today's cookie attributes chosen per request.

    A `SessionMiddleware` fixes Path and Secure when it is built, but the dashboard learns both
    from the request: Path is the mount's root path, Secure whether the request came over https
    (directly or through a proxy uvicorn trusts). So there is one middleware per pair, built on
    first use: two in practice, one per scheme.
    """

    def __init__(self, app: ASGIApp, *, secret_key: str) -> None:
        self.app = app
        self.secret_key = secret_key
        self._by_cookie: dict[tuple[str, bool], SessionMiddleware] = {}

    def _middleware(self, path: str, https: bool) -> SessionMiddleware:
        found = self._by_cookie.get((path, https))
        if found is None:
            found = self._by_cookie[path, https] = SessionMiddleware(
                self.app,
                secret_key=self.secret_key,
                session_cookie=SESSION_COOKIE,
                max_age=SESSION_SECONDS,
                path=path,
                same_site="lax",
                https_only=https,
            )
        return found

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("root_path", "")).rstrip("/") or "/"
        await self._middleware(path, scope.get("scheme") == "https")(scope, receive, send)


def session_csrf_token(request: Request) -> str | None:
    """The CSRF token of the signed-in session; None when the browser is not signed in."""
    token = request.session.get(CSRF_KEY)
    return token if isinstance(token, str) and token else None


def signed_in(page: Page) -> Endpoint:
    """An endpoint that runs `page(request, csrf_token)` for a signed-in browser and sends any
    other to the sign-in page (back here after a GET)."""

    async def endpoint(request: Request) -> Response:
        csrf_token = session_csrf_token(request)
        if csrf_token is None:
            here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            target = f"{base_path(request)}/sign-in" + (
                query_string(next=here) if request.method == "GET" else ""
            )
            return harden(RedirectResponse(target, status_code=303))
        return harden(await page(request, csrf_token))

    return endpoint


async def checked_form(request: Request, csrf_token: str) -> dict[str, str] | None:
    """The form, if it carries this session's CSRF token; None otherwise."""
    try:
        form = await read_form(request)
    except FormError:
        return None
    given = form.get("csrf_token", "").encode("utf-8", errors="replace")
    if not hmac.compare_digest(given, csrf_token.encode("utf-8")):
        return None
    return form


def safe_next(value: str | None, base: str) -> str:
    """Where to go after signing in: a path inside the dashboard, never another site."""
    home = f"{base}/"
    if not value or not value.startswith(home) or value.startswith("//") or "\\" in value:
        return home
    return value


def _sign_in_page(request: Request, *, next_path: str, refused: bool = False) -> Response:
    return render(
        request,
        "sign_in.html",
        csrf_token=None,
        status_code=401 if refused else 200,
        title="Sign in",
        nav="",
        error="That token is not valid." if refused else "",
        next=next_path,
    )


async def sign_in(request: Request) -> Response:
    """GET: the sign-in form (home if already signed in). POST: check the token, start a session."""
    base = base_path(request)
    if request.method != "POST":
        if session_csrf_token(request) is not None:
            return harden(RedirectResponse(f"{base}/", status_code=303))
        return _sign_in_page(request, next_path=safe_next(request.query_params.get("next"), base))
    try:
        form = await read_form(request)
    except FormError as exc:
        return problem(request, None, 400, str(exc))
    given = form.get("token", "").strip().encode("utf-8", errors="replace")
    target = safe_next(form.get("next"), base)
    digest = hashlib.sha256(given).digest()
    if not hmac.compare_digest(digest, state_of(request).token_digest):
        client = request.client.host if request.client else "?"
        log.warning("dashboard sign-in refused from %s", client)
        return _sign_in_page(request, next_path=target, refused=True)
    request.session.clear()
    request.session[CSRF_KEY] = secrets.token_urlsafe(32)
    return harden(RedirectResponse(target, status_code=303))


async def sign_out(request: Request, csrf_token: str) -> Response:
    """End the session, if the form carries its CSRF token."""
    if await checked_form(request, csrf_token) is None:
        return problem(request, csrf_token, 403, FORM_EXPIRED)
    request.session.clear()  # SessionMiddleware then expires the cookie
    return RedirectResponse(f"{base_path(request)}/sign-in", status_code=303)
