"""The ops dashboard: server-rendered HTML pages over the records and the event log.

Mount `dashboard_routes(...)` under a prefix (`Mount("/dashboard", routes=...)`); links are built
from the mount's `root_path`, so any prefix works. No middleware is needed.

Sign-in takes the API token once and answers with a session cookie of our own: a JSON body and an
HMAC-SHA256 over it, keyed by a key derived from the API token (so rotating the token signs every
session out). The cookie is HttpOnly, SameSite=Lax, Secure on https, and expires after
`SESSION_SECONDS`. Each session carries a random CSRF token that every POST form must send back.
Pages are Jinja2 templates from `app/dashboard/templates/`, autoescaped, with `StrictUndefined`;
responses carry a Content-Security-Policy that allows no script and no external asset.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from http import HTTPStatus
from importlib import resources
from typing import Any, TypeVar
from urllib.parse import parse_qs, quote, urlencode, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from app.core.ids import event_workflow_id
from app.core.taxonomy import MILESTONES
from app.store import dashboard_reads as dashboard_queries
from app.store.filters import EventFilter
from app.store.models import EVENT_STATUSES

log = logging.getLogger("flexhook.dashboard")

SESSION_COOKIE = "flexhook_dashboard"
SESSION_SECONDS = 12 * 60 * 60
MAX_FORM_BYTES = 16 * 1024
LIST_LIMIT = 200

# No script at all, styles only from our own stylesheet, nothing framed, forms post only to us.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}

T = TypeVar("T")


# -- the session cookie ------------------------------------------------------------------------


@dataclass(frozen=True)
class DashboardSession:
    """A signed-in browser: its CSRF token and when the session ends (Unix seconds)."""

    csrf_token: str
    expires: int


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SessionSigner:
    """Signs and verifies session cookies with a key derived from the API token."""

    def __init__(self, api_token: str) -> None:
        self._key = hmac.new(
            api_token.encode("utf-8"), b"flexhook dashboard session v1", hashlib.sha256
        ).digest()

    def _sign(self, body: str) -> str:
        return _b64encode(hmac.new(self._key, body.encode("ascii"), hashlib.sha256).digest())

    def new_session(self, *, now: float) -> DashboardSession:
        return DashboardSession(
            csrf_token=secrets.token_urlsafe(32), expires=int(now) + SESSION_SECONDS
        )

    def dumps(self, session: DashboardSession) -> str:
        body = _b64encode(
            json.dumps(
                {"csrf": session.csrf_token, "exp": session.expires}, separators=(",", ":")
            ).encode("utf-8")
        )
        return f"{body}.{self._sign(body)}"

    def loads(self, value: str | None, *, now: float) -> DashboardSession | None:
        """The session in a cookie value, or None if it is missing, forged or expired."""
        if not value:
            return None
        body, _, signature = value.partition(".")
        try:
            if not hmac.compare_digest(signature.encode("ascii"), self._sign(body).encode()):
                return None
            data = json.loads(_b64decode(body))
        except (UnicodeError, ValueError, binascii.Error):
            return None
        if not isinstance(data, dict):
            return None
        csrf, expires = data.get("csrf"), data.get("exp")
        if not isinstance(csrf, str) or not isinstance(expires, int) or expires <= now:
            return None
        return DashboardSession(csrf_token=csrf, expires=expires)


# -- how values are shown ----------------------------------------------------------------------


def _zone(name: str | None) -> tzinfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def show_time(value: datetime | None, timezone: str | None = None) -> str:
    """`26 Feb 2026 21:20 CST` in the place's zone when known, else in UTC; `—` for none."""
    if value is None:
        return "—"
    zone = _zone(timezone)
    moment = value.astimezone(zone or UTC)
    name = (moment.tzname() or "UTC") if zone else "UTC"
    if name[:1] in "+-":
        name = f"UTC{name}"  # zones without an abbreviation name their offset
    return f"{moment.day} {moment:%b %Y %H:%M} {name}"


def show_utc(value: datetime | None) -> str:
    """`2026-02-26 13:20 UTC`, for tooltips."""
    return "" if value is None else f"{value.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def show_date(value: date | None) -> str:
    return "—" if value is None else f"{value.day} {value:%b %Y}"


def iso(value: datetime | date | None) -> str:
    return "" if value is None else value.isoformat()


def _span(delta: timedelta) -> str:
    minutes = int(abs(delta.total_seconds()) // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min"


def show_shift(later: datetime | None, earlier: datetime | None) -> str:
    """`+1 d 4 h` / `-3 h`: how far `later` moved from `earlier`; empty when either is missing."""
    if later is None or earlier is None or later == earlier:
        return ""
    sign = "+" if later > earlier else "\N{MINUS SIGN}"
    return f"{sign}{_span(later - earlier)}"


def show_ago(value: datetime | None, now: datetime) -> str:
    if value is None:
        return "—"
    if value > now:
        return "just now"
    if now - value < timedelta(minutes=1):
        return "just now"
    return f"{_span(now - value)} ago"


def label(value: str | None) -> str:
    """`customs_cleared` -> `Customs cleared`."""
    if not value:
        return "—"
    text = value.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


# Flexport spells forty "fourty" in its container sizes; both spellings are shown the same.
CONTAINER_SIZES = {
    "twenty_ft": "20 ft",
    "twenty_ft_hc": "20 ft HC",
    "fourty_ft": "40 ft",
    "fourty_ft_hc": "40 ft HC",
    "fourty_five_ft": "45 ft",
    "fourty_five_ft_hc": "45 ft HC",
}


def container_size(value: str | None) -> str:
    """`fourty_ft_hc` -> `40 ft HC`; sizes not in the table as words."""
    if not value:
        return "—"
    return CONTAINER_SIZES.get(value.replace("forty", "fourty"), label(value))


def segment(value: object) -> str:
    """A value quoted to be one path segment of a URL."""
    return quote(str(value), safe="")


def safe_href(value: str | None) -> str | None:
    """The link if it is http(s), else None: stored links never become `javascript:` URLs."""
    if not value:
        return None
    return value if urlsplit(value).scheme in ("http", "https") else None


def pretty_json(text: str) -> str:
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return text


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("app.dashboard", "templates"),
        autoescape=select_autoescape(default_for_string=True, default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        when=show_time,
        utc=show_utc,
        day=show_date,
        iso=iso,
        shift=show_shift,
        label=label,
        container_size=container_size,
        segment=segment,
        safe_href=safe_href,
    )
    env.globals.update(ago=show_ago, milestones=MILESTONES)
    return env


def _stylesheet() -> bytes:
    return resources.files("app.dashboard").joinpath("templates", "dashboard.css").read_bytes()


# -- requests ------------------------------------------------------------------------------------


class FormError(Exception):
    """A POST body the dashboard does not accept."""


async def read_form(request: Request) -> dict[str, str]:
    """A small `application/x-www-form-urlencoded` body as a dict (first value of each name)."""
    content_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise FormError("expected a form")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_FORM_BYTES:
            raise FormError("form is too large")
        chunks.append(chunk)
    text = b"".join(chunks).decode("utf-8", errors="replace")
    try:
        fields = parse_qs(text, keep_blank_values=True, max_num_fields=20)
    except ValueError:
        raise FormError("form has too many fields") from None
    return {name: values[0] for name, values in fields.items()}


def _base(request: Request) -> str:
    """The dashboard's path prefix (the mount's root path), e.g. `/dashboard`."""
    return str(request.scope.get("root_path", "")).rstrip("/")


def _safe_next(value: str | None, base: str) -> str:
    """Where to go after signing in: a path inside the dashboard, never another site."""
    home = f"{base}/"
    if not value or not value.startswith(home) or value.startswith("//") or "\\" in value:
        return home
    return value


def _replay_status(value: str | None) -> str:
    """The status a replay answered, from the redirect's query: a short word or nothing, so a
    crafted link cannot put sentences on the page."""
    if value and len(value) <= 40 and value.replace("_", "").replace("-", "").isalnum():
        return value
    return ""


def _harden(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def _query(**params: str | None) -> str:
    kept = {name: value for name, value in params.items() if value}
    return f"?{urlencode(kept)}" if kept else ""


Page = Callable[[Request, DashboardSession], Awaitable[Response]]


def dashboard_routes(
    *,
    engine: Engine,
    api_token: str,
    temporal_ui_url: str,
    namespace: str,
    replay: Callable[[str], Awaitable[str]],
) -> list[BaseRoute]:
    """The dashboard's routes. `replay(event_id)` re-runs a failed event and returns its status.

    `temporal_ui_url` may be empty: the pages then show no workflow links.
    """
    if not api_token:
        raise ValueError("the dashboard needs an API token to sign in with")
    signer = SessionSigner(api_token)
    token = api_token.encode("utf-8")
    env = _environment()
    stylesheet = _stylesheet()
    css_version = hashlib.sha256(stylesheet).hexdigest()[:12]
    temporal_ui = temporal_ui_url.rstrip("/")

    def workflow_url(event_id: str) -> str | None:
        if not temporal_ui:
            return None
        return (
            f"{temporal_ui}/namespaces/{segment(namespace)}"
            f"/workflows/{segment(event_workflow_id(event_id))}"
        )

    env.globals["workflow_url"] = workflow_url  # macros see globals, not the page's context

    async def query(fn: Callable[..., T], **kwargs: Any) -> T:
        def run() -> T:
            with Session(engine) as session:
                return fn(session, **kwargs)

        return await run_in_threadpool(run)

    def render(
        request: Request,
        template: str,
        *,
        session: DashboardSession | None,
        status_code: int = 200,
        **context: Any,
    ) -> Response:
        html = env.get_template(template).render(
            base=_base(request),
            css_href=f"{_base(request)}/static/dashboard.css?v={css_version}",
            csrf_token=session.csrf_token if session else "",
            signed_in=session is not None,
            now=datetime.now(UTC),
            **context,
        )
        return _harden(HTMLResponse(html, status_code=status_code))

    def problem(
        request: Request, session: DashboardSession | None, status_code: int, message: str
    ) -> Response:
        return render(
            request,
            "problem.html",
            session=session,
            status_code=status_code,
            title=HTTPStatus(status_code).phrase,
            message=message,
            nav="",
        )

    def current_session(request: Request) -> DashboardSession | None:
        return signer.loads(request.cookies.get(SESSION_COOKIE), now=time.time())

    def cookie_path(request: Request) -> str:
        return _base(request) or "/"

    def signed_in(page: Page) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            session = current_session(request)
            if session is None:
                here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                target = f"{_base(request)}/sign-in" + (
                    _query(next=here) if request.method == "GET" else ""
                )
                return _harden(RedirectResponse(target, status_code=303))
            return _harden(await page(request, session))

        return endpoint

    async def checked_form(request: Request, session: DashboardSession) -> dict[str, str] | None:
        """The form, if it carries this session's CSRF token; None otherwise."""
        try:
            form = await read_form(request)
        except FormError:
            return None
        given = form.get("csrf_token", "").encode("utf-8", errors="replace")
        if not hmac.compare_digest(given, session.csrf_token.encode("ascii")):
            return None
        return form

    # -- sign-in and sign-out ------------------------------------------------------------------

    async def sign_in(request: Request) -> Response:
        base = _base(request)
        if request.method != "POST":
            if current_session(request) is not None:
                return _harden(RedirectResponse(f"{base}/", status_code=303))
            return render(
                request,
                "sign_in.html",
                session=None,
                title="Sign in",
                nav="",
                error="",
                next=_safe_next(request.query_params.get("next"), base),
            )
        try:
            form = await read_form(request)
        except FormError as exc:
            return problem(request, None, 400, str(exc))
        given = form.get("token", "").strip().encode("utf-8", errors="replace")
        target = _safe_next(form.get("next"), base)
        if not hmac.compare_digest(given, token):
            client = request.client.host if request.client else "?"
            log.warning("dashboard sign-in refused from %s", client)
            return render(
                request,
                "sign_in.html",
                session=None,
                status_code=401,
                title="Sign in",
                nav="",
                error="That token is not valid.",
                next=target,
            )
        session = signer.new_session(now=time.time())
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(
            SESSION_COOKIE,
            signer.dumps(session),
            max_age=SESSION_SECONDS,
            path=cookie_path(request),
            secure=request.url.scheme == "https",
            httponly=True,
            samesite="lax",
        )
        return _harden(response)

    async def sign_out(request: Request, session: DashboardSession) -> Response:
        if await checked_form(request, session) is None:
            return problem(request, session, 403, "The form has expired. Reload and try again.")
        response = RedirectResponse(f"{_base(request)}/sign-in", status_code=303)
        response.delete_cookie(
            SESSION_COOKIE,
            path=cookie_path(request),
            secure=request.url.scheme == "https",
            httponly=True,
            samesite="lax",
        )
        return response

    # -- pages ---------------------------------------------------------------------------------

    async def shipments(request: Request, session: DashboardSession) -> Response:
        text = request.query_params.get("q", "").strip()
        status = request.query_params.get("status", "").strip()
        rows = await query(
            dashboard_queries.search_shipments, text=text, status=status, limit=LIST_LIMIT
        )
        present = await query(dashboard_queries.shipment_statuses)
        statuses = [*MILESTONES, *(s for s in present if s not in MILESTONES)]
        return render(
            request,
            "shipments.html",
            session=session,
            title="Shipments",
            nav="shipments",
            shipments=rows,
            statuses=statuses,
            q=text,
            status=status,
            limit=LIST_LIMIT,
        )

    async def shipment(request: Request, session: DashboardSession) -> Response:
        page = await query(
            dashboard_queries.get_shipment_page, shipment_id=request.path_params["shipment_id"]
        )
        if page is None:
            return problem(request, session, 404, "There is no such shipment.")
        reached = {m.milestone for m in page.milestones}
        current = page.shipment.status
        if current in MILESTONES:
            reached.update(MILESTONES[: MILESTONES.index(current) + 1])
        return render(
            request,
            "shipment.html",
            session=session,
            title=page.shipment.name or f"Shipment {page.shipment.id}",
            nav="shipments",
            page=page,
            s=page.shipment,
            reached=reached,
        )

    async def events(request: Request, session: DashboardSession) -> Response:
        params = request.query_params
        status = params.get("status", "").strip()
        event_type = params.get("type", "").strip()
        shipment_id = params.get("shipment", "").strip()
        rows = await query(
            dashboard_queries.list_events,
            where=EventFilter(status=status, event_type=event_type, shipment_id=shipment_id),
            limit=LIST_LIMIT,
        )
        types = await query(dashboard_queries.event_types)
        return render(
            request,
            "events.html",
            session=session,
            title="Events",
            nav="events",
            events=rows,
            statuses=EVENT_STATUSES,
            types=types,
            status=status,
            type=event_type,
            shipment=shipment_id,
            limit=LIST_LIMIT,
        )

    async def event_page(
        request: Request,
        session: DashboardSession,
        *,
        event_id: str,
        status_code: int = 200,
        replay_error: str = "",
    ) -> Response:
        row = await query(dashboard_queries.get_event, event_id=event_id)
        if row is None:
            return problem(request, session, 404, "There is no such event.")
        notifications = await query(dashboard_queries.list_notifications, event_id=event_id)
        return render(
            request,
            "event.html",
            session=session,
            status_code=status_code,
            title=f"Event {row.event_id}",
            nav="events",
            e=row,
            payload=pretty_json(row.payload),
            notifications=notifications,
            replayed=_replay_status(request.query_params.get("replayed")),
            replay_error=replay_error,
        )

    async def event(request: Request, session: DashboardSession) -> Response:
        return await event_page(request, session, event_id=request.path_params["event_id"])

    async def replay_event(request: Request, session: DashboardSession) -> Response:
        event_id = request.path_params["event_id"]
        if await checked_form(request, session) is None:
            return problem(request, session, 403, "The form has expired. Reload and try again.")
        row = await query(dashboard_queries.get_event, event_id=event_id)
        if row is None:
            return problem(request, session, 404, "There is no such event.")
        if row.status != "failed":
            return problem(
                request,
                session,
                409,
                f"Only failed events can be replayed; this one is {row.status}.",
            )
        try:
            outcome = await replay(event_id)
        except Exception as exc:
            log.exception("dashboard replay of event %s failed", event_id)
            return await event_page(
                request,
                session,
                event_id=event_id,
                status_code=502,
                replay_error=f"{type(exc).__name__}: {exc}",
            )
        log.info("dashboard replayed event %s: %s", event_id, outcome)
        target = f"{_base(request)}/events/{segment(event_id)}{_query(replayed=outcome)}"
        return RedirectResponse(target, status_code=303)

    async def stylesheet_file(request: Request) -> Response:
        return Response(
            stylesheet,
            media_type="text/css",
            headers={
                "cache-control": "public, max-age=86400",
                "x-content-type-options": "nosniff",
            },
        )

    return [
        Route("/sign-in", sign_in, methods=["GET", "POST"], name="dashboard_sign_in"),
        Route("/sign-out", signed_in(sign_out), methods=["POST"], name="dashboard_sign_out"),
        Route("/", signed_in(shipments), name="dashboard_shipments"),
        Route("/shipments/{shipment_id:path}", signed_in(shipment), name="dashboard_shipment"),
        Route("/events", signed_in(events), name="dashboard_events"),
        Route(
            "/events/{event_id:path}/replay",
            signed_in(replay_event),
            methods=["POST"],
            name="dashboard_replay",
        ),
        Route("/events/{event_id:path}", signed_in(event), name="dashboard_event"),
        Route("/static/dashboard.css", stylesheet_file, name="dashboard_css"),
    ]
