"""The dashboard's recipients page: who hears about every shipment and how (at once, in quiet
hours, or one digest a day); add one, remove one. Each POST form carries the session's CSRF
token and needs an operator; each change goes to the audit trail. URLs are only ever shown in
Apprise's privacy form, and a refused form is shown again without the URL it was given."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from typing import Any, Final

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from app.core.addresses import DestinationRules
from app.core.alert import KINDS
from app.core.ids import parse_row_id
from app.core.privacy import privacy_form
from app.dashboard.access import Visitor, changed
from app.dashboard.rendering import base_path, problem, query_string, render
from app.dashboard.session import FORM_EXPIRED, checked_form
from app.dashboard.state import state_of
from app.store import recipients as store
from app.store.db import in_session

log = logging.getLogger("flexhook.dashboard")

# The form's fields other than the URL, kept when a refused form is shown again.
KEPT: Final = (
    "shipments",
    "delivery",
    "digest_at",
    "timezone",
    "quiet_from",
    "quiet_to",
    "audience",
)
_SPLIT_RE: Final = re.compile(r"[\s,]+")


def _wanted(form: dict[str, str]) -> dict[str, Any]:
    """What `store.add_recipient` takes, from the form: no kind ticked means every kind, no
    shipment means every shipment, no time zone means UTC."""
    kinds = [kind for kind in KINDS if form.get(f"kind_{kind}")]
    shipments = [s for s in _SPLIT_RE.split(form.get("shipments", "")) if s]
    quiet_from, quiet_to = form.get("quiet_from", "").strip(), form.get("quiet_to", "").strip()
    if bool(quiet_from) != bool(quiet_to):
        raise store.InvalidRecipient("quiet hours need both a start and an end")
    delivery = form.get("delivery", "").strip() or None
    return {
        "url": form.get("url", "").strip(),
        "kinds": kinds or None,
        "shipments": shipments or None,
        "delivery": delivery,
        # The form always has a time field; it counts only with a digest.
        "digest_at": (form.get("digest_at", "").strip() or None) if delivery == "digest" else None,
        "timezone": form.get("timezone", "").strip() or None,
        "quiet_hours": f"{quiet_from}-{quiet_to}" if quiet_from else None,
        "audience": form.get("audience", "").strip() or None,
    }


def _add(session: Session, form: dict[str, str], rules: DestinationRules) -> tuple[str, str]:
    """The new recipient's id and its URL in privacy form."""
    added = store.add_recipient(session, now=datetime.now(UTC), rules=rules, **_wanted(form))
    return f"{added.id}", added.privacy_url


async def _page(
    request: Request,
    visitor: Visitor,
    *,
    status_code: int = 200,
    error: str = "",
    form: dict[str, str] | None = None,
) -> Response:
    rows = await in_session(state_of(request).engine, store.list_recipients)
    added = request.query_params.get("added", "")
    return render(
        request,
        "recipients.html",
        visitor=visitor,
        status_code=status_code,
        title="Recipients",
        nav="recipients",
        recipients=rows,
        # Rows stored before the privacy form masked paths and query values are shown so too.
        shown_urls={row.id: privacy_form(row.privacy_url) for row in rows},
        kinds=KINDS,
        error=error,
        form={name: (form or {}).get(name, "") for name in KEPT},
        ticked={kind for kind in KINDS if (form or {}).get(f"kind_{kind}")},
        added=added if added.isascii() and added.isdigit() and len(added) < 19 else "",
        removed=request.query_params.get("removed") == "1",
    )


async def recipients(request: Request, visitor: Visitor) -> Response:
    """GET: the recipients and the form to add one. POST: add (`action=add`) or remove
    (`action=remove`, `id`) one, then back here."""
    if request.method != "POST":
        return await _page(request, visitor)
    form = await checked_form(request, visitor.csrf_token)
    if form is None:
        return problem(request, visitor, 403, FORM_EXPIRED)
    here = f"{base_path(request)}/recipients"
    if form.get("action") == "remove":
        rid = form.get("id", "")
        number = parse_row_id(rid)
        removed = number is not None and await changed(
            request,
            store.remove_recipient,
            actor=visitor.actor.name,
            action="recipient.remove",
            target=lambda done: rid if done else None,
            recipient_id=number,
            now=datetime.now(UTC),
        )
        if not removed:
            return problem(request, visitor, 404, "There is no such recipient.")
        log.info("dashboard removed recipient %s", rid)
        return RedirectResponse(f"{here}{query_string(removed='1')}", status_code=303)
    try:
        rid, privacy_url = await changed(
            request,
            _add,
            actor=visitor.actor.name,
            action="recipient.add",
            target=lambda added: f"{added[0]} {added[1]}",
            form=form,
            rules=state_of(request).destination_rules,
        )
    except store.InvalidRecipient as exc:
        conflict = isinstance(exc, store.RecipientExists | store.TooManyRecipients)
        status = 409 if conflict else 400
        return await _page(request, visitor, status_code=status, error=str(exc), form=form)
    log.info("dashboard added recipient %s: %s", rid, privacy_url)
    return RedirectResponse(f"{here}{query_string(added=rid)}", status_code=303)
