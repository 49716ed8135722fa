"""Share links on a shipment's page: everyone signed in sees the list (state, who made it, when
it expires, its views), an operator makes, revokes and renews links. A new link's address, with
its token, is shown once, on the page that answers the form; flexhook keeps only its SHA-256.
Each change goes to the audit trail, naming the link by its id."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Final

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from app.core.ids import parse_row_id
from app.core.shares import ShareState, track_url
from app.dashboard.access import Visitor, changed
from app.dashboard.formatting import segment
from app.dashboard.rendering import base_path, problem, query_string, render
from app.dashboard.session import FORM_EXPIRED, checked_form
from app.dashboard.state import state_of
from app.store import shares as store
from app.store.db import in_session

log = logging.getLogger("flexhook.dashboard")

NO_SUCH_SHIPMENT: Final = "There is no such shipment."
NO_SUCH_LINK: Final = "This shipment has no such link."
REVOKED_LINK: Final = "A revoked link cannot be renewed; make a new one."
NOT_EXTENDED: Final = (
    "Renewing would not make this link last longer: once its shipment is delivered it ends a "
    "set time after the delivery, and never past its maximum age. Make a new one if needed."
)
# What a change's redirect may say on the shipment's page (`?link=`), and nothing else.
NOTICES: Final = {
    "revoked": "Link revoked: it no longer opens the tracking page.",
    "renewed": "Link renewed.",
}


def renewal_refusal(view: store.ShareView) -> str:
    """Why renewing `view` did not make it last longer."""
    return REVOKED_LINK if view.state is ShareState.REVOKED else NOT_EXTENDED


def notice(value: str | None) -> str:
    """The sentence a change's redirect asked for, if it is one of ours."""
    return NOTICES.get(value or "", "")


async def list_links(request: Request, shipment_id: str) -> list[store.ShareView]:
    """The shipment's links, newest first, as the shipment's page lists them."""
    return await in_session(
        state_of(request).engine,
        store.list_shares,
        shipment_id=shipment_id,
        lifetime=state_of(request).share_lifetime,
        now=datetime.now(UTC),
    )


async def _create_link(request: Request, visitor: Visitor, shipment_id: str) -> Response:
    state = state_of(request)
    try:
        view, token = await changed(
            request,
            store.create_link,
            actor=visitor.actor.name,
            action="share.create",
            target=lambda made: store.audit_target(shipment_id, made[0].id),
            shipment_id=shipment_id,
            created_by=visitor.actor.name,
            lifetime=state.share_lifetime,
            max_active=state.max_shares_per_shipment,
            now=datetime.now(UTC),
        )
    except store.ShipmentNotFound:
        return problem(request, visitor, 404, NO_SUCH_SHIPMENT)
    except store.TooManyShares as refused:
        return problem(request, visitor, 409, f"{str(refused)[:1].upper()}{str(refused)[1:]}.")
    log.info(
        "dashboard: share link %s to shipment %s created by %s",
        view.id,
        shipment_id,
        visitor.actor.name,
    )
    response = render(
        request,
        "share_created.html",
        visitor=visitor,
        title="Share link created",
        nav="shipments",
        shipment_id=shipment_id,
        link=view,
        url=track_url(state.public_url, token),
    )
    response.headers["cache-control"] = "no-store"  # the token is on this page, once
    return response


def _back(request: Request, shipment_id: str, *, done: str) -> Response:
    """Back to the shipment's share section, saying what was done."""
    here = f"{base_path(request)}/shipments/{segment(shipment_id)}"
    return RedirectResponse(f"{here}{query_string(link=done)}#shares", status_code=303)


async def _revoke_link(
    request: Request, visitor: Visitor, shipment_id: str, share_id: int
) -> Response:
    now = datetime.now(UTC)
    try:
        await changed(
            request,
            store.revoke_share,
            actor=visitor.actor.name,
            action="share.revoke",
            # Audited once: revoking a revoked link changes nothing.
            target=lambda view: (
                store.audit_target(shipment_id, share_id) if view.revoked_at == now else None
            ),
            shipment_id=shipment_id,
            share_id=share_id,
            revoked_by=visitor.actor.name,
            lifetime=state_of(request).share_lifetime,
            now=now,
        )
    except store.ShareNotFound:
        return problem(request, visitor, 404, NO_SUCH_LINK)
    log.info("dashboard: share link %s to shipment %s revoked", share_id, shipment_id)
    return _back(request, shipment_id, done="revoked")


async def _renew_link(
    request: Request, visitor: Visitor, shipment_id: str, share_id: int
) -> Response:
    try:
        await changed(
            request,
            store.extend_share,
            actor=visitor.actor.name,
            action="share.renew",
            target=lambda _: store.audit_target(shipment_id, share_id),
            shipment_id=shipment_id,
            share_id=share_id,
            lifetime=state_of(request).share_lifetime,
            now=datetime.now(UTC),
        )
    except store.ShareNotFound:
        return problem(request, visitor, 404, NO_SUCH_LINK)
    except store.ShareNotRenewed as refused:
        return problem(request, visitor, 409, renewal_refusal(refused.view))
    log.info("dashboard: share link %s to shipment %s renewed", share_id, shipment_id)
    return _back(request, shipment_id, done="renewed")


async def shares(request: Request, visitor: Visitor) -> Response:
    """POST (an operator's, CSRF-checked): make a link (`action=create`; its address is shown
    once), revoke one or renew one (`action=revoke` or `renew`, `share_id`)."""
    shipment_id = request.path_params["shipment_id"]
    form = await checked_form(request, visitor.csrf_token)
    if form is None:
        return problem(request, visitor, 403, FORM_EXPIRED)
    action = form.get("action", "")
    if action == "create":
        return await _create_link(request, visitor, shipment_id)
    if action not in ("revoke", "renew"):
        return problem(request, visitor, 400, "The form asks for no known change.")
    share_id = parse_row_id(form.get("share_id", ""))
    if share_id is None:
        return problem(request, visitor, 404, NO_SUCH_LINK)
    if action == "revoke":
        return await _revoke_link(request, visitor, shipment_id, share_id)
    return await _renew_link(request, visitor, shipment_id, share_id)
