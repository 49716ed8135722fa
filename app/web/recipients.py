"""Recipients of alerts about any shipment, with delivery preferences: `GET`/`POST
/api/recipients` and `DELETE /api/recipients/{id}`. Destinations are Apprise URLs; answers
show them in Apprise's privacy form only. (Subscriptions to one shipment are
`/api/shipments/{id}/subscriptions`, in `app.web.subscriptions`.)"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from app.store import db, recipients
from app.web.audit import changed
from app.web.errors import not_found
from app.web.params import row_id
from app.web.schemas import RecipientBody, read_body
from app.web.state import web_state

log = logging.getLogger("flexhook.web")


async def list_recipients(request: Request, *, key: str = "recipients") -> Response:
    """Every recipient (under `key`), URLs in privacy form."""
    found = await db.in_session(web_state(request).engine, recipients.list_recipients)
    return JSONResponse({key: [recipients.as_json(r) for r in found]})


async def _body(request: Request) -> dict[str, Any]:
    """The fields of a `RecipientBody`, shipment ids as strings; values are validated later."""
    body = await read_body(RecipientBody, request)
    fields = body.model_dump()
    if body.shipments is not None:
        fields["shipments"] = [str(s) for s in body.shipments]
    return fields


def _add(session: Session, **fields: Any) -> dict[str, Any]:
    added = recipients.add_recipient(session, now=datetime.now(UTC), **fields)
    return recipients.as_json(added)


async def add_recipient(request: Request) -> Response:
    """201 with the new recipient; 400 `bad_request` or `invalid_recipient` saying why (a host
    FLEXHOOK_DESTINATION_ALLOW does not allow included), 409 `recipient_exists` for a URL that
    is one already or `too_many_recipients` at FLEXHOOK_MAX_RECIPIENTS."""
    fields = await _body(request)
    created = await changed(
        request,
        _add,
        action="recipient.add",
        target=lambda added: f"{added['id']} {added['url']}",
        rules=web_state(request).config.destination_rules,
        **fields,
    )
    log.info("recipient %s added: %s (%s)", created["id"], created["url"], created["delivery"])
    return JSONResponse(created, status_code=201)


async def remove_recipient(request: Request) -> Response:
    """204, or 404 when there is no such recipient. What was held for it is skipped."""
    rid = row_id(request, "id")
    if rid is None:
        return not_found("no such recipient")
    removed = await changed(
        request,
        recipients.remove_recipient,
        action="recipient.remove",
        target=lambda done: str(rid) if done else None,
        recipient_id=rid,
        now=datetime.now(UTC),
    )
    if not removed:
        return not_found("no such recipient")
    log.info("recipient %s removed", rid)
    return Response(status_code=204)
