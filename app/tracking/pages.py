"""The tracking page and its refusals.

`GET|HEAD /track/<token>`: an active link's shipment, as `app.core.tracking`'s public view
(200); an unknown or tampered token 404 and a revoked or expired link 410, both as the same
plain page that names no shipment; any other method 405. A token of the wrong shape (longer,
shorter, other characters) is answered 404 before any database lookup. Opening a link counts
the view and appends an audit entry (actor `share:<id>`, action `share.view`, the shipment as
target; never the token) in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any, Final

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from app.core.shares import ShareLifetime, ShareState, looks_like_token
from app.core.tracking import TrackingView, build_view
from app.store import audit
from app.store.db import in_session
from app.store.shares import open_share
from app.store.tracking import tracking_facts
from app.tracking.follow import follow_path
from app.tracking.state import state_of

METHODS: Final = ("GET", "HEAD")
# Routed to the endpoints so that they answer 405 with the plain page; any other method gets
# Starlette's own 405, with the same headers (`app.tracking.headers`).
ROUTED_METHODS: Final = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
VIEW_ACTION: Final = "share.view"

CLOSED_TEXT: Final = {
    HTTPStatus.NOT_FOUND: (
        "This tracking link does not work",
        "Check that the whole address was copied, or ask whoever sent it for a new link.",
    ),
    HTTPStatus.GONE: (
        "This tracking link is no longer active",
        "It was switched off or has expired. Ask whoever sent it for a new link.",
    ),
    HTTPStatus.METHOD_NOT_ALLOWED: (
        "This address only shows a page",
        "Open it in a browser.",
    ),
}


@dataclass(frozen=True)
class Visit:
    """What a presented token opened: the view (200), or the status to refuse with."""

    status: HTTPStatus
    view: TrackingView | None = None


def _answer(request: Request, status: HTTPStatus, template: str, **context: Any) -> Response:
    body = state_of(request).templates.get_template(template).render(**context)
    headers = {}
    if status is HTTPStatus.METHOD_NOT_ALLOWED:
        headers["allow"] = ", ".join(METHODS)
    return HTMLResponse(body, status_code=status, headers=headers)


def closed(request: Request, status: HTTPStatus) -> Response:
    """The plain refusal page: the same shell, a heading and a sentence, no shipment."""
    heading, text = CLOSED_TEXT[status]
    return _answer(request, status, "closed.html", heading=heading, text=text)


def visit(
    session: Session, *, token: str, lifetime: ShareLifetime, now: datetime, client: str
) -> Visit:
    """Open the link (its view counted when active), audit it and build the public view."""
    opened = open_share(session, token=token, lifetime=lifetime, now=now)
    if opened.state is None or opened.shipment_id is None:
        return Visit(HTTPStatus.NOT_FOUND)
    active = opened.state is ShareState.ACTIVE
    facts = tracking_facts(session, shipment_id=opened.shipment_id) if active else None
    outcome = opened.state.value
    if active:  # a link to a shipment flexhook has not recorded (yet) shows nothing
        outcome = "ok" if facts is not None else "no_shipment"
    audit.append(
        session,
        at=now,
        actor=f"share:{opened.share_id}",
        action=VIEW_ACTION,
        target=opened.shipment_id,
        outcome=outcome,
        client=client,
    )
    if facts is None:
        return Visit(HTTPStatus.NOT_FOUND if active else HTTPStatus.GONE)
    return Visit(HTTPStatus.OK, build_view(facts))


async def track(request: Request) -> Response:
    """`/track/<token>`: the shipment's public view, or a plain refusal."""
    if request.method not in METHODS:
        return closed(request, HTTPStatus.METHOD_NOT_ALLOWED)
    token = request.path_params["token"]
    if not looks_like_token(token):  # wrong length or alphabet: no lookup at all
        return closed(request, HTTPStatus.NOT_FOUND)
    state = state_of(request)
    result = await in_session(
        state.engine,
        visit,
        commit=True,
        token=token,
        lifetime=state.lifetime,
        now=datetime.now(UTC),
        client=request.client.host if request.client else "unknown",
    )
    if result.view is None:
        return closed(request, result.status)
    follow_action = follow_path(token) if state.following else None
    return _answer(
        request, HTTPStatus.OK, "track.html", view=result.view, follow_action=follow_action
    )


async def not_found(request: Request) -> Response:
    """Any other path under `/track/`: the plain 404 (405 for other methods)."""
    if request.method not in METHODS:
        return closed(request, HTTPStatus.METHOD_NOT_ALLOWED)
    return closed(request, HTTPStatus.NOT_FOUND)
