"""Share links to one shipment's tracking page: `GET`/`POST /api/shipments/{id}/shares`,
`DELETE /api/shipments/{id}/shares/{share_id}` and `POST .../{share_id}/renew`.

A new link's token is in the answer to the `POST` that makes it, once: flexhook keeps only its
SHA-256, and lists, logs and the audit trail name a link by its id. Every change is audited."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from app.core.shares import ShareState, track_url
from app.store import db, shares
from app.web.access import current_actor
from app.web.audit import changed
from app.web.errors import error_response, not_found
from app.web.params import row_id
from app.web.state import web_state

log = logging.getLogger("flexhook.web")

NO_SUCH_SHIPMENT = "no such shipment"
NO_SUCH_LINK = "no such link to this shipment"


def _list(session: Session, *, shipment_id: str, **fields: Any) -> list[shares.ShareView] | None:
    if not shares.shipment_known(session, shipment_id=shipment_id):
        return None
    return shares.list_shares(session, shipment_id=shipment_id, **fields)


async def list_shares(request: Request) -> Response:
    """The shipment's links, newest first, without their tokens; 404 for an unknown shipment."""
    found = await db.in_session(
        web_state(request).engine,
        _list,
        shipment_id=request.path_params["id"],
        lifetime=web_state(request).config.share_lifetime,
        now=datetime.now(UTC),
    )
    if found is None:
        return not_found(NO_SUCH_SHIPMENT)
    return JSONResponse({"shares": [view.as_json() for view in found]})


async def create_share(request: Request) -> Response:
    """201 with the new link's `url` (its token, this once), `id` and `expires_at`; 404 for an
    unknown shipment; 409 `too_many_shares` at FLEXHOOK_MAX_SHARES_PER_SHIPMENT active links."""
    state, shipment_id = web_state(request), request.path_params["id"]
    actor = current_actor(request).name
    try:
        view, token = await changed(
            request,
            shares.create_link,
            action="share.create",
            target=lambda made: shares.audit_target(shipment_id, made[0].id),
            shipment_id=shipment_id,
            created_by=actor,
            lifetime=state.config.share_lifetime,
            max_active=state.config.max_shares_per_shipment,
            now=datetime.now(UTC),
        )
    except shares.ShipmentNotFound:
        return not_found(NO_SUCH_SHIPMENT)
    log.info("share link %s to shipment %s created by %s", view.id, shipment_id, actor)
    answer = {**view.as_json(), "url": track_url(state.config.public_url, token)}
    return JSONResponse(answer, status_code=201, headers={"cache-control": "no-store"})


async def revoke_share(request: Request) -> Response:
    """204, and again for a link revoked before (the first revocation stands); 404 for a link
    that is not this shipment's."""
    share_id, shipment_id = row_id(request, "share_id"), request.path_params["id"]
    if share_id is None:
        return not_found(NO_SUCH_LINK)
    now = datetime.now(UTC)
    try:
        await changed(
            request,
            shares.revoke_share,
            action="share.revoke",
            # Audited once: revoking a revoked link changes nothing.
            target=lambda view: (
                shares.audit_target(shipment_id, share_id) if view.revoked_at == now else None
            ),
            shipment_id=shipment_id,
            share_id=share_id,
            revoked_by=current_actor(request).name,
            lifetime=web_state(request).config.share_lifetime,
            now=now,
        )
    except shares.ShareNotFound:
        return not_found(NO_SUCH_LINK)
    log.info("share link %s to shipment %s revoked", share_id, shipment_id)
    return Response(status_code=204)


def renewal_refusal(view: shares.ShareView) -> str:
    """Why renewing `view` did not make it last longer."""
    if view.state is ShareState.REVOKED:
        return "a revoked link cannot be renewed"
    return (
        "renewing would not make this link last longer: it ends FLEXHOOK_SHARE_AFTER_DELIVERY "
        f"after its shipment's delivery and never past FLEXHOOK_SHARE_MAX_AGE ({view.state}, "
        f"until {view.expires_at.isoformat()})"
    )


async def renew_share(request: Request) -> Response:
    """200 with the link, its expiry pushed to FLEXHOOK_SHARE_EXPIRY from now (never past
    FLEXHOOK_SHARE_MAX_AGE after it was made); 409 when that would not make it last longer
    (revoked, or its shipment delivered); 404 for a link that is not this shipment's."""
    share_id, shipment_id = row_id(request, "share_id"), request.path_params["id"]
    if share_id is None:
        return not_found(NO_SUCH_LINK)
    try:
        view = await changed(
            request,
            shares.extend_share,
            action="share.renew",
            target=lambda _: shares.audit_target(shipment_id, share_id),
            shipment_id=shipment_id,
            share_id=share_id,
            lifetime=web_state(request).config.share_lifetime,
            now=datetime.now(UTC),
        )
    except shares.ShareNotFound:
        return not_found(NO_SUCH_LINK)
    except shares.ShareNotRenewed as refused:
        return error_response(409, "not_renewed", renewal_refusal(refused.view))
    log.info("share link %s to shipment %s renewed", share_id, shipment_id)
    return JSONResponse(view.as_json())
