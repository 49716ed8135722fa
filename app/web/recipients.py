"""Recipients of alerts about any shipment, with delivery preferences: `GET`/`POST
/api/recipients` and `DELETE /api/recipients/{id}`. Destinations are Apprise URLs; answers
show them in Apprise's privacy form only. (Subscriptions to one shipment are
`/api/shipments/{id}/subscriptions`, in `app.web.subscriptions`.)"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any, Final

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from app.store import db, recipients
from app.web.audit import record
from app.web.errors import BadRequest, not_found
from app.web.params import row_id
from app.web.state import web_state

log = logging.getLogger("flexhook.web")

TEXT_FIELDS: Final = ("delivery", "digest_at", "timezone", "quiet_hours")
FIELDS: Final = frozenset({"url", "kinds", "shipments", *TEXT_FIELDS})
SHAPE: Final = (
    '{"url": "<apprise url>", "kinds": [...], "shipments": [...], "delivery": "instant" | '
    '"digest", "digest_at": "HH:MM", "timezone": "<IANA name>", "quiet_hours": "HH:MM-HH:MM"}'
)


async def list_recipients(request: Request, *, key: str = "recipients") -> Response:
    """Every recipient (under `key`), URLs in privacy form."""
    found = await db.in_session(web_state(request).engine, recipients.list_recipients)
    return JSONResponse({key: [recipients.as_json(r) for r in found]})


def _strings(body: dict[str, Any], name: str) -> list[str] | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, list) or not all(
        isinstance(v, str) or (isinstance(v, int) and not isinstance(v, bool)) for v in value
    ):
        raise BadRequest(f"{name} must be a list of strings")
    return [str(v) for v in value]


async def _body(request: Request) -> dict[str, Any]:
    """The checked fields of a recipient body (see `SHAPE`); values are validated later."""
    try:
        body = await request.json()
    except (ValueError, RecursionError):
        raise BadRequest("body is not JSON") from None
    if not isinstance(body, dict) or not isinstance(body.get("url"), str):
        raise BadRequest(f"expected {SHAPE}")
    unknown = sorted(set(body) - FIELDS)
    if unknown:
        raise BadRequest(f"unknown fields {unknown}; expected {SHAPE}")
    fields: dict[str, Any] = {"url": body["url"]}
    fields["kinds"], fields["shipments"] = _strings(body, "kinds"), _strings(body, "shipments")
    for name in TEXT_FIELDS:
        if body.get(name) is not None and not isinstance(body[name], str):
            raise BadRequest(f"{name} must be a string")
        fields[name] = body.get(name)
    return fields


def _add(session: Session, **fields: Any) -> dict[str, Any]:
    added = recipients.add_recipient(session, now=datetime.now(UTC), **fields)
    return recipients.as_json(added)


async def add_recipient(request: Request) -> Response:
    """201 with the new recipient; 400 `bad_request` or `invalid_recipient` saying why, 409
    `recipient_exists` for a URL that is one already."""
    fields = await _body(request)
    created = await db.in_session(web_state(request).engine, _add, commit=True, **fields)
    log.info("recipient %s added: %s (%s)", created["id"], created["url"], created["delivery"])
    await record(request, action="recipient.add", target=f"{created['id']} {created['url']}")
    return JSONResponse(created, status_code=201)


async def remove_recipient(request: Request) -> Response:
    """204, or 404 when there is no such recipient. What was held for it is skipped."""
    rid = row_id(request, "id")
    if rid is None:
        return not_found("no such recipient")
    removed = await db.in_session(
        web_state(request).engine,
        recipients.remove_recipient,
        commit=True,
        recipient_id=rid,
        now=datetime.now(UTC),
    )
    if not removed:
        return not_found("no such recipient")
    log.info("recipient %s removed", rid)
    await record(request, action="recipient.remove", target=str(rid))
    return Response(status_code=204)
