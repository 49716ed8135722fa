"""The dashboard's tokens page (admin): every named token, shown by its last four characters;
a form that creates one and shows it once, on the page that answers the form; a revoke button
per active token. Each change goes to the audit trail, and a refused form is shown again
without the contact URL it was given (it may hold credentials)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from app.core.access import NAME_PATTERN, AccessError, Role, parse_expiry, parse_role
from app.dashboard.access import Visitor, changed
from app.dashboard.rendering import base_path, problem, query_string, render
from app.dashboard.session import FORM_EXPIRED, checked_form
from app.dashboard.state import state_of
from app.store import tokens as store
from app.store.db import in_session

log = logging.getLogger("flexhook.dashboard")

DEFAULT_EXPIRY: Final = "90d"
# The form's fields shown again when it is refused; never the contact URL.
KEPT: Final = ("name", "role", "expires")
NO_SUCH_TOKEN: Final = "There is no such active token."


async def _page(
    request: Request,
    visitor: Visitor,
    *,
    status_code: int = 200,
    error: str = "",
    form: dict[str, str] | None = None,
) -> Response:
    rows = await in_session(state_of(request).engine, store.list_tokens)
    now = datetime.now(UTC)
    revoked = request.query_params.get("revoked", "")
    given = form or {"role": Role.VIEWER.value, "expires": DEFAULT_EXPIRY}
    return render(
        request,
        "tokens.html",
        visitor=visitor,
        status_code=status_code,
        title="Tokens",
        nav="tokens",
        tokens=[(row, store.is_active(row, now=now)) for row in rows],
        roles=tuple(Role),
        error=error,
        form={name: given.get(name, "") for name in KEPT},
        revoked=revoked if NAME_PATTERN.match(revoked) else "",
    )


@dataclass(frozen=True)
class Created:
    """A new token as its page shows it: the token itself, which nothing keeps, once."""

    name: str
    role: str
    expires_at: datetime | None
    token: str


def _create(session: Session, **fields: Any) -> Created:
    row, token = store.create_token(session, now=datetime.now(UTC), **fields)
    return Created(name=row.name, role=row.role, expires_at=row.expires_at, token=token)


def _wanted(form: dict[str, str]) -> tuple[Role, timedelta | None, str | None]:
    """The role, lifetime (none: it never expires) and contact the form asks for."""
    expires = form.get("expires", "").strip()
    return (
        parse_role(form.get("role", "").strip()),
        parse_expiry(expires) if expires else None,
        form.get("contact", "").strip() or None,
    )


async def _create_token(request: Request, visitor: Visitor, form: dict[str, str]) -> Response:
    name = form.get("name", "").strip()
    try:
        role, expires_in, contact = _wanted(form)
        created = await changed(
            request,
            _create,
            actor=visitor.actor.name,
            action="token.create",
            target=lambda _: f"{name} ({role})",
            name=name,
            role=role,
            expires_in=expires_in,
            contact=contact,
            created_by=visitor.actor.name,
        )
    except AccessError as exc:
        status = 409 if isinstance(exc, store.TokenExists) else 400
        return await _page(request, visitor, status_code=status, error=str(exc), form=form)
    log.info("dashboard: token %s (%s) created by %s", name, role, visitor.actor.name)
    response = render(
        request,
        "token_created.html",
        visitor=visitor,
        title="Token created",
        nav="tokens",
        created=created,
    )
    response.headers["cache-control"] = "no-store"  # the token is on this page, once
    return response


async def _revoke_token(request: Request, visitor: Visitor, name: str) -> Response:
    revoked = await changed(
        request,
        store.revoke_token,
        actor=visitor.actor.name,
        action="token.revoke",
        target=lambda done: name if done else None,
        name=name,
        now=datetime.now(UTC),
    )
    if not revoked:
        return problem(request, visitor, 404, NO_SUCH_TOKEN)
    log.info("dashboard: token %s revoked by %s", name, visitor.actor.name)
    here = f"{base_path(request)}/tokens"
    return RedirectResponse(f"{here}{query_string(revoked=name)}", status_code=303)


async def tokens(request: Request, visitor: Visitor) -> Response:
    """GET: the tokens and the form to create one. POST: create one (`action=create`: name,
    role, expires, contact; answers the token once) or revoke one (`action=revoke`, `name`)."""
    if request.method != "POST":
        return await _page(request, visitor)
    form = await checked_form(request, visitor.csrf_token)
    if form is None:
        return problem(request, visitor, 403, FORM_EXPIRED)
    if form.get("action") == "revoke":
        return await _revoke_token(request, visitor, form.get("name", ""))
    return await _create_token(request, visitor, form)
