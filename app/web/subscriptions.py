"""Subscriptions to one shipment's alerts: `GET`/`POST /api/shipments/{id}/subscriptions` and
`DELETE /api/shipments/{id}/subscriptions/{sid}`. Destinations are Apprise URLs; answers show
them in Apprise's privacy form only."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from app.core.addresses import DestinationRules
from app.store import db, subscriptions
from app.web.audit import changed
from app.web.errors import not_found
from app.web.params import row_id
from app.web.schemas import SubscriptionBody, read_body
from app.web.state import web_state

log = logging.getLogger("flexhook.web")


async def list_subscriptions(request: Request, *, key: str = "subscriptions") -> Response:
    found = await db.in_session(
        web_state(request).engine,
        subscriptions.list_subscriptions,
        shipment_id=request.path_params["id"],
    )
    return JSONResponse({key: [subscriptions.as_json(s) for s in found]})


def _add(
    session: Session,
    *,
    shipment_id: str,
    url: str,
    kinds: list[str] | None,
    audience: str | None,
    rules: DestinationRules,
) -> dict[str, Any]:
    added = subscriptions.add_subscription(
        session,
        shipment_id=shipment_id,
        url=url,
        kinds=kinds,
        audience=audience,
        rules=rules,
        now=datetime.now(UTC),
    )
    return subscriptions.as_json(added)


async def add_subscription(request: Request) -> Response:
    """201 with the new subscription; 400 `bad_request` or `invalid_subscription` otherwise (a
    host FLEXHOOK_DESTINATION_ALLOW does not allow included); 409 `too_many_subscriptions` at
    FLEXHOOK_MAX_SUBSCRIPTIONS_PER_SHIPMENT."""
    shipment_id = request.path_params["id"]
    body = await read_body(SubscriptionBody, request)
    created = await changed(
        request,
        _add,
        action="subscription.add",
        target=lambda added: f"shipment {shipment_id}: {added['id']} {added['url']}",
        shipment_id=shipment_id,
        url=body.url,
        kinds=body.kinds,
        audience=body.audience,
        rules=web_state(request).config.destination_rules,
    )
    log.info("subscription %s added to shipment %s", created["id"], shipment_id)
    return JSONResponse(created, status_code=201)


async def remove_subscription(request: Request) -> Response:
    """204, or 404 when the shipment has no such subscription."""
    sid = row_id(request, "sid")
    if sid is None:
        return not_found("no such subscription")
    shipment_id = request.path_params["id"]
    removed = await changed(
        request,
        subscriptions.remove_subscription,
        action="subscription.remove",
        target=lambda done: f"shipment {shipment_id}: {sid}" if done else None,
        shipment_id=shipment_id,
        subscription_id=sid,
    )
    if not removed:
        return not_found("no such subscription")
    return Response(status_code=204)
