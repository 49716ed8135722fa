"""Pages as responses: the Jinja2 environment, the security headers, links inside the dashboard.

Templates come from `app/dashboard/templates/`, autoescaped, with `StrictUndefined`. Every page
carries a Content-Security-Policy that allows no script and no asset from elsewhere.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from http import HTTPStatus
from importlib import resources
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from app.core.access import Role
from app.core.privacy import privacy_form, shown_error
from app.core.statuses import EventStatus
from app.core.taxonomy import MILESTONES
from app.dashboard import formatting
from app.dashboard.access import Visitor
from app.dashboard.state import state_of

# No script at all, styles only from our own stylesheet, nothing framed, forms post only to us.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
# Set on a signed-in GET's scope by `session.signed_in`: how many exceptions are not resolved,
# counted up to `NAV_COUNT_CAP + 1` (the nav link then says `99+`).
OPEN_EXCEPTIONS_KEY = "flexhook.dashboard.open_exceptions"
NAV_COUNT_CAP = 99
SECURITY_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}


def environment(*, temporal_ui_url: str, namespace: str) -> Environment:
    """The templates with their filters; `workflow_url` links into this Temporal UI, if any."""
    env = Environment(
        loader=PackageLoader("app.dashboard", "templates"),
        autoescape=select_autoescape(default_for_string=True, default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        when=formatting.show_time,
        utc=formatting.show_utc,
        day=formatting.show_date,
        iso=formatting.iso,
        shift=formatting.show_shift,
        label=formatting.label,
        container_size=formatting.container_size,
        segment=formatting.segment,
        safe_href=formatting.safe_href,
        # Destinations in flexhook's privacy form; a destination's own error for operators only.
        privacy=privacy_form,
        ledger_error=shown_error,
    )
    # Macros see globals, not the page's context.
    env.globals.update(
        ago=formatting.show_ago,
        milestones=MILESTONES,
        EventStatus=EventStatus,
        workflow_url=functools.partial(
            formatting.workflow_url, temporal_ui_url=temporal_ui_url, namespace=namespace
        ),
    )
    return env


def read_stylesheet() -> bytes:
    """The dashboard's one stylesheet, as packaged."""
    return resources.files("app.dashboard").joinpath("templates", "dashboard.css").read_bytes()


def base_path(request: Request) -> str:
    """The dashboard's path prefix (the mount's root path), e.g. `/dashboard`."""
    return str(request.scope.get("root_path", "")).rstrip("/")


def query_string(**params: str | None) -> str:
    """`?name=value&...` of the params that are set; empty if none is."""
    kept = {name: value for name, value in params.items() if value}
    return f"?{urlencode(kept)}" if kept else ""


def harden(response: Response) -> Response:
    """`response` with the security headers it does not set itself."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def render(
    request: Request,
    template: str,
    *,
    visitor: Visitor | None,
    status_code: int = 200,
    **context: Any,
) -> Response:
    """The page `template` over `context`, for `visitor` (None when signed out): the header
    names who is signed in, and pages offer only what their role may do."""
    state = state_of(request)
    base = base_path(request)
    html = state.templates.get_template(template).render(
        base=base,
        css_href=f"{base}/static/dashboard.css?v={state.css_version}",
        csrf_token=visitor.csrf_token if visitor else "",
        signed_in=visitor is not None,
        actor=visitor.actor if visitor else None,
        may_operate=visitor is not None and visitor.may(Role.OPERATOR),
        may_admin=visitor is not None and visitor.may(Role.ADMIN),
        now=datetime.now(UTC),
        open_exceptions=request.scope.get(OPEN_EXCEPTIONS_KEY),
        nav_count_cap=NAV_COUNT_CAP,
        **context,
    )
    return harden(HTMLResponse(html, status_code=status_code))


def problem(request: Request, visitor: Visitor | None, status_code: int, message: str) -> Response:
    """A page that says what went wrong, under the status code's phrase."""
    return render(
        request,
        "problem.html",
        visitor=visitor,
        status_code=status_code,
        title=HTTPStatus(status_code).phrase,
        message=message,
        nav="",
    )
