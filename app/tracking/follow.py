"""Following a shipment by email from its tracking page (docs/alerts.md, "Following a shipment
by email").

`POST /track/{token}/follow` (form field `email`) answers the same "check your inbox" page whether
the address is new, follows already or has asked too often; only the first is mailed a
confirmation link, after the answer has gone. `GET /follow/confirm/{token}` shows a button (a link
scanner's prefetch confirms nothing), its `POST` makes the address an `external` subscription.
`GET /follow/unsubscribe/{token}` shows a button, its `POST` (the RFC 8058 one-click POST too)
ends it. Without FLEXHOOK_MAIL_URL every route answers 404. Pages carry the tracking page's
headers: no-store, no-referrer, noindex, a CSP without scripts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qs, quote

from jinja2 import Environment
from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import BaseRoute, Route

from app.core.addresses import DEFAULT_RULES, DestinationRules
from app.core.follow import (
    FollowLimits,
    InvalidAddress,
    confirm_url,
    mask_address,
    normalise_address,
)
from app.core.shares import ShareLifetime, ShareState
from app.store import audit, follows
from app.store.db import in_session
from app.store.follows import FollowState
from app.store.shares import open_share
from app.tracking.headers import SECURITY_HEADERS
from app.tracking.state import environment as environment_of_pages
from notifications.follow_mail import FollowConfirmation, FollowMailer
from notifications.render import Renderer

ACTOR: Final = "follower"
MAX_FORM_BYTES: Final = 4096
GONE_MESSAGE: Final = "This link does not work any more. Ask whoever shared it for a new one."
UNKNOWN_MESSAGE: Final = "There is nothing at this address."


@dataclass(frozen=True)
class FollowConfig:
    """The plain values following needs, read from the settings at the entry point."""

    mail_url: str = field(repr=False)  # FLEXHOOK_MAIL_URL: holds the SMTP password
    public_url: str  # FLEXHOOK_PUBLIC_URL: the links in the emails
    share_lifetime: ShareLifetime = field(default_factory=ShareLifetime)
    limits: FollowLimits = field(default_factory=FollowLimits)
    rules: DestinationRules = DEFAULT_RULES  # the mail URL's host is checked like any destination
    templates_dir: Path | None = None  # FLEXHOOK_TEMPLATES_DIR, for the confirmation email


@dataclass(frozen=True)
class Following:
    """What the endpoints serve from: kept on the application as `state.follow`."""

    engine: Engine
    config: FollowConfig
    mailer: FollowMailer
    templates: Environment
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)


def following(engine: Engine, config: FollowConfig | None) -> Following | None:
    """The state of the follow routes; None (every route answers 404) without a mail URL."""
    if config is None:
        return None
    mailer = FollowMailer(
        Renderer(config.templates_dir),
        mail_url=config.mail_url,
        destination_allow=config.rules.allowlist,
    )
    return Following(engine=engine, config=config, mailer=mailer, templates=environment_of_pages())


def _state(request: Request) -> Following | None:
    found = getattr(request.app.state, "follow", None)
    return found if isinstance(found, Following) else None


def follow_action(request: Request, share_token: str) -> str | None:
    """Where a follow page's form posts; None when following is off."""
    if _state(request) is None:
        return None
    return follow_path(share_token)


def follow_path(share_token: str) -> str:
    """Where the tracking page's follow form posts (`follow/_form.html` takes it as
    `follow_action`)."""
    return f"/track/{quote(share_token, safe='')}/follow"


def page(
    state: Following | None,
    status: int,
    heading: str,
    message: str,
    background: BackgroundTask | None = None,
    **context: Any,
) -> HTMLResponse:
    environment = state.templates if state is not None else environment_of_pages()
    html = environment.get_template("follow/page.html").render(
        heading=heading, message=message, **context
    )
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS, background=background)


def not_found(state: Following | None = None) -> HTMLResponse:
    return page(state, 404, "Not found", UNKNOWN_MESSAGE)


def gone(state: Following) -> HTMLResponse:
    return page(state, 410, "Link no longer works", GONE_MESSAGE)


async def _email_field(request: Request) -> str:
    """The form's `email`, read without trusting the body's size; "" when absent or too big."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return ""
    fields = parse_qs(body.decode("utf-8", errors="replace"), max_num_fields=10)
    return next(iter(fields.get("email", [])), "")


def _client(request: Request) -> str | None:
    return request.client.host if request.client else None


async def _shipment_of(state: Following, token: str, now: datetime) -> str | HTMLResponse:
    """The shipment an active share link opens, or the page to answer instead (404, 410)."""
    opened = await in_session(
        state.engine,
        open_share,
        commit=True,
        token=token,
        lifetime=state.config.share_lifetime,
        now=now,
    )
    if opened.state is None or opened.shipment_id is None:
        return not_found(state)
    if opened.state is not ShareState.ACTIVE:
        return gone(state)
    return opened.shipment_id


def _ask(
    session: Session,
    *,
    shipment_id: str,
    email: str,
    limits: FollowLimits,
    now: datetime,
    client: str | None,
) -> follows.Asked:
    asked = follows.ask_to_follow(
        session, shipment_id=shipment_id, email=email, limits=limits, now=now
    )
    audit.append(
        session,
        at=now,
        actor=ACTOR,
        action="follow.request",
        target=f"shipment {shipment_id} {mask_address(email)}",
        outcome=asked.reason,
        client=client,
    )
    return asked


async def ask(request: Request) -> HTMLResponse:
    """`POST /track/{token}/follow`: the same answer for every acceptable address."""
    state = _state(request)
    if state is None:
        return not_found()
    share_token = request.path_params["token"]
    now = state.clock()
    shipment_id = await _shipment_of(state, share_token, now)
    if isinstance(shipment_id, HTMLResponse):
        return shipment_id
    try:
        email = normalise_address(await _email_field(request))
    except InvalidAddress as exc:
        return page(
            state,
            400,
            "Follow this shipment",
            "That is not an email address we can use.",
            follow_action=follow_action(request, share_token),
            follow_error=str(exc),
        )
    limits = state.config.limits
    asked = await in_session(
        state.engine,
        _ask,
        commit=True,
        shipment_id=shipment_id,
        email=email,
        limits=limits,
        now=now,
        client=_client(request),
    )
    background = None
    if asked.token is not None:
        confirmation = FollowConfirmation(
            shipment_id=shipment_id,
            confirm_url=confirm_url(state.config.public_url, asked.token),
            expires_at=(now + limits.confirm_within).isoformat(),
        )
        background = BackgroundTask(state.mailer.send, email, confirmation)
    return page(
        state,
        200,
        "Check your inbox",
        "If this address can follow the shipment, an email with a confirmation link is on its "
        "way. Nothing more is sent until the link is used.",
        background=background,
    )


async def show_confirm(request: Request) -> HTMLResponse:
    """`GET /follow/confirm/{token}`: a button, never the confirmation itself."""
    state = _state(request)
    if state is None:
        return not_found()
    found = await in_session(
        state.engine,
        follows.find_confirmation,
        token=request.path_params["token"],
        now=state.clock(),
    )
    if found.state is None:
        return not_found(state)
    if found.state is not FollowState.PENDING:
        return gone(state)
    return page(
        state,
        200,
        "Confirm",
        f"Follow shipment {found.shipment_id} by email? Every email has a link to stop.",
        button_action=str(request.url.path),
        button_label="Yes, follow this shipment",
    )


def _confirm(
    session: Session, *, token: str, config: FollowConfig, now: datetime, client: str | None
) -> follows.Found:
    found = follows.confirm_follow(
        session,
        token=token,
        mail_url=config.mail_url,
        public_url=config.public_url,
        rules=config.rules,
        now=now,
    )
    if found.state in (FollowState.CONFIRMED, FollowState.FULL):
        audit.append(
            session,
            at=now,
            actor=ACTOR,
            action="follow.confirm",
            target=f"shipment {found.shipment_id} {mask_address(found.email or '')}",
            outcome="ok" if found.state is FollowState.CONFIRMED else "shipment full",
            client=client,
        )
    return found


async def confirm(request: Request) -> HTMLResponse:
    """`POST /follow/confirm/{token}`: the request becomes an external subscription, once."""
    state = _state(request)
    if state is None:
        return not_found()
    found = await in_session(
        state.engine,
        _confirm,
        commit=True,
        token=request.path_params["token"],
        config=state.config,
        now=state.clock(),
        client=_client(request),
    )
    if found.state is None:
        return not_found(state)
    if found.state is FollowState.FULL:
        return page(state, 409, "Not now", "This shipment has as many followers as it may have.")
    if found.state is not FollowState.CONFIRMED:
        return gone(state)
    return page(
        state,
        200,
        "You follow this shipment",
        f"Emails about shipment {found.shipment_id} will come to this address: its milestones, "
        "changes of its arrival estimate and problems. Each one has a link to stop.",
    )


async def show_unsubscribe(request: Request) -> HTMLResponse:
    """`GET /follow/unsubscribe/{token}`: a button (a prefetch unsubscribes nobody)."""
    state = _state(request)
    if state is None:
        return not_found()
    found = await in_session(
        state.engine, follows.find_follower, token=request.path_params["token"]
    )
    if found.state is None:
        return not_found(state)
    return page(
        state,
        200,
        "Stop following",
        f"Stop emails about shipment {found.shipment_id} to this address?",
        button_action=str(request.url.path),
        button_label="Stop following",
    )


def _leave(session: Session, *, token: str, now: datetime, client: str | None) -> follows.Found:
    found, removed = follows.unsubscribe(session, token=token)
    if removed:
        audit.append(
            session,
            at=now,
            actor=ACTOR,
            action="follow.unsubscribe",
            target=f"shipment {found.shipment_id} {mask_address(found.email or '')}",
            client=client,
        )
    return found


async def leave(request: Request) -> HTMLResponse:
    """`POST /follow/unsubscribe/{token}`, the page's button and RFC 8058's one-click POST
    (body `List-Unsubscribe=One-Click`) alike: the token is the whole credential."""
    state = _state(request)
    if state is None:
        return not_found()
    found = await in_session(
        state.engine,
        _leave,
        commit=True,
        token=request.path_params["token"],
        now=state.clock(),
        client=_client(request),
    )
    if found.state is None:
        return not_found(state)
    return page(
        state,
        200,
        "You no longer follow this shipment",
        f"No more emails about shipment {found.shipment_id} will come to this address.",
    )


FOLLOW_ROUTES: Final[list[BaseRoute]] = [
    Route("/track/{token}/follow", ask, methods=["POST"]),
    Route("/follow/confirm/{token}", show_confirm, methods=["GET"]),
    Route("/follow/confirm/{token}", confirm, methods=["POST"]),
    Route("/follow/unsubscribe/{token}", show_unsubscribe, methods=["GET"]),
    Route("/follow/unsubscribe/{token}", leave, methods=["POST"]),
]
