"""Named tokens (admin): `GET /api/tokens`, `POST /api/tokens` (answers the token once, in
`token`) and `DELETE /api/tokens/{name}`. Lists show a token's last four characters only."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from app.core.access import AccessError, Role, parse_expiry
from app.store import db, tokens
from app.web.access import current_actor
from app.web.audit import changed
from app.web.errors import BadRequest, not_found
from app.web.schemas import TokenBody, read_body
from app.web.state import web_state

log = logging.getLogger("flexhook.web")


async def list_tokens(request: Request) -> Response:
    found = await db.in_session(web_state(request).engine, tokens.list_tokens)
    return JSONResponse({"tokens": [tokens.as_json(t) for t in found]})


async def _fields(request: Request) -> tuple[str, Role, timedelta | None, str | None]:
    body = await read_body(TokenBody, request)
    try:
        expires = parse_expiry(body.expires) if body.expires else None
    except AccessError as exc:
        raise BadRequest(str(exc)) from None
    return body.name, body.role, expires, body.contact


def _create(session: Session, **fields: Any) -> dict[str, Any]:
    row, token = tokens.create_token(session, now=datetime.now(UTC), **fields)
    return {**tokens.as_json(row), "token": token}


async def create_token(request: Request) -> Response:
    """201 with the token, once; 400 saying why not; 409 when the name is taken."""
    name, role, expires, contact = await _fields(request)
    created = await changed(
        request,
        _create,
        action="token.create",
        target=lambda _: f"{name} ({role})",
        name=name,
        role=role,
        expires_in=expires,
        contact=contact,
        created_by=current_actor(request).name,
    )
    log.info("token %s (%s) created by %s", name, role, current_actor(request).name)
    return JSONResponse(created, status_code=201)


async def revoke_token(request: Request) -> Response:
    """204; 404 when there is no such active token. It is refused from the next request on."""
    name = request.path_params["name"]
    revoked = await changed(
        request,
        tokens.revoke_token,
        action="token.revoke",
        target=lambda done: name if done else None,
        name=name,
        now=datetime.now(UTC),
    )
    if not revoked:
        return not_found("no such active token")
    return Response(status_code=204)
