"""Signing in and out, the session cookie, the CSRF token of each session, and the role each
page needs.

Sign-in takes a token once: a named token (`fxh_...`, active) or FLEXHOOK_API_TOKEN, the
break-glass admin. The session keeps who signed in (the token's name, or the environment
admin), never the token, in Starlette's signed session cookie (itsdangerous), keyed by a secret
derived from FLEXHOOK_API_TOKEN: rotating it signs every session out. Every request looks the
named token up again, so a revoked or expired one ends its sessions and a changed role counts
from the next request. The cookie is HttpOnly, SameSite=Lax, Path the dashboard's mount, Secure
when the request came over https or flexhook's public URL is https (`PublicHttps`: whatever the
proxy in front and whether uvicorn trusts it), and is refused `SESSION_SECONDS` after sign-in (the
session is written only then, so the clock never slides); whenever it is Secure, every dashboard
answer carries Strict-Transport-Security. Each session carries a random CSRF token that
every POST form must send back. Refused sign-ins count towards the limiter `/api` shares; every
sign-in, refused or not, goes to the audit trail.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.access import ENVIRONMENT_ADMIN, Role
from app.dashboard.access import UNKNOWN, Visitor, actor_now, client_address, identify, record
from app.dashboard.forms import FormError, read_fields, read_form
from app.dashboard.rendering import (
    NAV_COUNT_CAP,
    OPEN_EXCEPTIONS_KEY,
    base_path,
    harden,
    problem,
    query_string,
    render,
)
from app.dashboard.state import state_of
from app.store.db import in_session
from app.store.exception_reads import count_unresolved

log = logging.getLogger("flexhook.dashboard")

SESSION_COOKIE = "flexhook_dashboard"
SESSION_SECONDS = 12 * 60 * 60
CSRF_KEY = "csrf"
WHO_KEY = "who"  # the token's name, or the environment admin
# Set on a request's scope by `PublicHttps`: flexhook is reached over https, whatever this hop was.
PUBLIC_HTTPS = "flexhook.public_https"
HSTS = "max-age=31536000"  # a year; no includeSubDomains: other hosts of the domain are not ours
FORM_EXPIRED = "The form has expired. Reload and try again."
BLOCKED = "Too many refused sign-ins from this address. Try again in a minute."

Page = Callable[[Request, Visitor], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]


def session_secret(api_token: str) -> str:
    """The key that signs session cookies: an HMAC of the API token, so the token never is."""
    label = b"flexhook dashboard session v2"
    return hmac.new(api_token.encode("utf-8"), label, hashlib.sha256).hexdigest()


class PublicHttps:
    """Marks every HTTP request as having reached flexhook over https (`PUBLIC_HTTPS`), for an
    app whose public URL is https: a TLS proxy sits in front, although the hop from it may be
    plain HTTP and uvicorn may not trust its X-Forwarded-Proto."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope[PUBLIC_HTTPS] = True
        await self.app(scope, receive, send)


def served_at(app: Starlette, public_url: str) -> Starlette:
    """`app`, told that browsers reach it at `public_url` (FLEXHOOK_PUBLIC_URL): when that is
    https, the dashboard's cookie is Secure and its answers carry HSTS on every request."""
    if urlsplit(public_url.strip()).scheme.lower() == "https":
        app.add_middleware(PublicHttps)
    return app


def _loopback(scope: Scope) -> bool:
    """Whether the browser asked for a loopback host (`localhost`, 127.0.0.1, ::1): HSTS there
    would pin every local development server of that browser to https for a year."""
    host = dict(scope.get("headers") or ()).get(b"host", b"").decode("latin-1")
    try:
        name = urlsplit(f"//{host}").hostname or ""
    except ValueError:
        return False
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _with_hsts(send: Send) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            MutableHeaders(scope=message).setdefault("strict-transport-security", HSTS)
        await send(message)

    return sending


class SessionCookies:
    """Starlette's `SessionMiddleware` with today's cookie attributes chosen per request.

    A `SessionMiddleware` fixes Path and Secure when it is built, but the dashboard learns both
    from the request: Path is the mount's root path, Secure whether the request came over https
    (directly, through a proxy uvicorn trusts, or behind an https public URL: `PublicHttps`). So
    there is one middleware per pair, built on first use: two in practice, one per scheme. Secure
    answers carry HSTS, except to a loopback host.
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
        secure = scope.get("scheme") == "https" or scope.get(PUBLIC_HTTPS) is True
        middleware = self._middleware(path, secure)
        hsts = secure and not _loopback(scope)
        await middleware(scope, receive, _with_hsts(send) if hsts else send)


def _session(request: Request) -> tuple[str, str] | None:
    """The session's CSRF token and who signed in; None when the browser is not signed in."""
    csrf_token, who = request.session.get(CSRF_KEY), request.session.get(WHO_KEY)
    if isinstance(csrf_token, str) and csrf_token and isinstance(who, str) and who:
        return csrf_token, who
    return None


async def _visitor(request: Request) -> Visitor | None:
    """The signed-in browser as its token is now; a session whose token was revoked or has
    expired ends here."""
    found = _session(request)
    if found is None:
        return None
    csrf_token, who = found
    actor = await actor_now(state_of(request), who)
    if actor is None:
        request.session.clear()  # SessionMiddleware then expires the cookie
        log.info("dashboard session of %s ended: its token is revoked or expired", who)
        return None
    return Visitor(csrf_token=csrf_token, actor=actor)


def _to_sign_in(request: Request) -> Response:
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    target = f"{base_path(request)}/sign-in" + (
        query_string(next=here) if request.method == "GET" else ""
    )
    return harden(RedirectResponse(target, status_code=303))


def signed_in(page: Page, *, reads: Role = Role.VIEWER, writes: Role | None = None) -> Endpoint:
    """An endpoint that runs `page(request, visitor)` for a signed-in browser whose role is at
    least `writes` for a POST (default: `reads`) and `reads` for anything else; 403 when it is
    not. Any other browser goes to the sign-in page (back here after a GET)."""

    async def endpoint(request: Request) -> Response:
        visitor = await _visitor(request)
        if visitor is None:
            return _to_sign_in(request)
        needed = (writes or reads) if request.method == "POST" else reads
        if not visitor.may(needed):
            actor = visitor.actor
            log.warning(
                "dashboard %s %s refused to %s (%s)",
                request.method,
                request.url.path,
                actor.name,
                actor.role,
            )
            message = f"You are signed in as {actor.name} ({actor.role}); this needs {needed}."
            return problem(request, visitor, 403, message)
        if request.method in ("GET", "HEAD"):  # the nav link's count of open exceptions
            request.scope[OPEN_EXCEPTIONS_KEY] = await in_session(
                state_of(request).engine, count_unresolved, cap=NAV_COUNT_CAP
            )
        return harden(await page(request, visitor))

    return endpoint


def _csrf_matches(given: str, csrf_token: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8", errors="replace"), csrf_token.encode("utf-8"))


async def checked_form(request: Request, csrf_token: str) -> dict[str, str] | None:
    """The form, if it carries this session's CSRF token; None otherwise."""
    try:
        form = await read_form(request)
    except FormError:
        return None
    return form if _csrf_matches(form.get("csrf_token", ""), csrf_token) else None


async def checked_fields(
    request: Request, csrf_token: str, *, max_fields: int
) -> dict[str, list[str]] | None:
    """The form with every value of each name (a selection), if it carries this session's CSRF
    token once; None otherwise (also for a form of more than `max_fields` fields)."""
    try:
        fields = await read_fields(request, max_fields=max_fields)
    except FormError:
        return None
    given = fields.get("csrf_token", [])
    return fields if len(given) == 1 and _csrf_matches(given[0], csrf_token) else None


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
        visitor=None,
        status_code=401 if refused else 200,
        title="Sign in",
        nav="",
        error="That token is not valid." if refused else "",
        next=next_path,
    )


async def sign_in(request: Request) -> Response:
    """GET: the sign-in form (home if already signed in). POST: check the token, start a session
    for whoever it names; 401 for a token that is not (or no longer) valid, 429 for an address
    blocked for refused ones."""
    base = base_path(request)
    if request.method != "POST":
        if _session(request) is not None:
            return harden(RedirectResponse(f"{base}/", status_code=303))
        return _sign_in_page(request, next_path=safe_next(request.query_params.get("next"), base))
    state, client = state_of(request), client_address(request)
    retry = state.limiter.retry_after(client)
    if retry is not None:
        response = problem(request, None, 429, BLOCKED)
        response.headers["Retry-After"] = str(retry)
        return response
    try:
        form = await read_form(request)
    except FormError as exc:
        return problem(request, None, 400, str(exc))
    given = form.get("token", "").strip()
    target = safe_next(form.get("next"), base)
    actor = await identify(state, given, now=datetime.now(UTC)) if given else None
    if actor is None:
        log.warning("dashboard sign-in refused from %s", client)
        if given:  # an empty form guesses nothing
            state.limiter.refused(client)
            await record(
                request,
                actor=UNKNOWN,
                action="sign-in.refused",
                target="dashboard",
                outcome="refused",
            )
        return _sign_in_page(request, next_path=target, refused=True)
    request.session.clear()
    request.session[CSRF_KEY] = secrets.token_urlsafe(32)
    request.session[WHO_KEY] = actor.name
    named = actor.name if actor.name != ENVIRONMENT_ADMIN else None
    await record(
        request, actor=actor.name, action="sign-in", target=f"dashboard ({actor.role})", touch=named
    )
    log.info("dashboard sign-in of %s (%s) from %s", actor.name, actor.role, client)
    return harden(RedirectResponse(target, status_code=303))


async def sign_out(request: Request, visitor: Visitor) -> Response:
    """End the session, if the form carries its CSRF token."""
    if await checked_form(request, visitor.csrf_token) is None:
        return problem(request, visitor, 403, FORM_EXPIRED)
    request.session.clear()  # SessionMiddleware then expires the cookie
    return RedirectResponse(f"{base_path(request)}/sign-in", status_code=303)
