"""`GET /api/notifications`: the alert ledger. Destinations are shown in flexhook's privacy
form; a destination's own error text only to operators and admins (viewers read that delivery
failed: the text can tell what answers where inside the network)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from app.core.access import Role
from app.core.privacy import privacy_form, shown_error
from app.store import db, reads
from app.web.access import current_actor
from app.web.schemas import NotificationQuery, read_query
from app.web.state import web_state


def _shown(row: dict[str, Any], *, full: bool) -> dict[str, Any]:
    return row | {
        "destination": privacy_form(row["destination"]),
        "last_error": shown_error(row["last_error"], full=full),
    }


async def list_notifications(request: Request) -> Response:
    """Newest first; `event_id`, `shipment_id`, `status` and `limit` narrow the list."""
    query = read_query(NotificationQuery, request)
    rows = await db.in_session(
        web_state(request).engine,
        reads.list_notifications,
        event_id=query.event_id,
        shipment_id=query.shipment_id,
        status=query.status,
        limit=query.limit,
    )
    full = current_actor(request).may(Role.OPERATOR)
    return JSONResponse({"notifications": [_shown(row, full=full) for row in rows]})
