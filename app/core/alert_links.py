"""Which links an alert carries, for whom (`app.core.audience`).

Everyone gets the shipment's tracking page (it opens without signing in). Internal readers also
get the dashboard's shipment page and the event's workflow in the Temporal UI, where they can
sign in, and Flexport's app; external readers get Flexport's app only when the operator wants it
(FLEXHOOK_EXTERNAL_FLEXPORT_LINK). No alert links to `/api`, which answers 401 to a reader.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final
from urllib.parse import quote

from app.core import ids
from app.core.alert import ESCALATION, NOTICE_KIND, Alert, Links
from app.core.audience import Audience
from app.core.ids import event_workflow_id, exception_workflow_id
from app.core.shares import track_url

DASHBOARD_SHIPMENT_PATH: Final = "/dashboard/shipments/"
INBOX_PATH: Final = "/dashboard/exceptions"  # the dashboard's inbox; an exception's page under it


def exception_page(public_url: str, exception_id: int) -> str:
    """The exception's page in the dashboard's inbox (a path without a public URL)."""
    return f"{public_url.rstrip('/')}{INBOX_PATH}/{exception_id}"


# Alerts an exception's watch sends: their workflow link is the watch's, not an event's.
WATCH_KINDS: Final = frozenset({ESCALATION, NOTICE_KIND})


@dataclass(frozen=True)
class LinkBases:
    """Where the links point: flexhook's public URL, the Temporal UI (with the namespace) and
    Flexport's app; an empty base leaves its links out."""

    public_url: str = ""
    temporal_ui_url: str = ""
    namespace: str = "default"
    flexport_app_url: str = "https://app.flexport.com"
    external_flexport_link: bool = False

    @property
    def tracking_pages(self) -> bool:
        """Whether a share token becomes a link: only with a public URL to put it under."""
        return bool(self.public_url)


def alert_links(
    bases: LinkBases,
    alert: Alert,
    *,
    audience: Audience = Audience.INTERNAL,
    share_token: str | None = None,
) -> Links:
    """Where the `audience` may look further (see the module's docstring)."""
    public_url = bases.public_url.rstrip("/")
    flexport_app_url = bases.flexport_app_url.rstrip("/")
    shipment = quote(alert.shipment_id, safe="")
    tracking_url = track_url(public_url, share_token) if public_url and share_token else ""
    flexport_url = ""
    if flexport_app_url and (audience is Audience.INTERNAL or bases.external_flexport_link):
        flexport_url = f"{flexport_app_url}/shipments/{shipment}"
    if audience is not Audience.INTERNAL:
        return Links(flexport_url=flexport_url, tracking_url=tracking_url)
    shipment_url = f"{public_url}{DASHBOARD_SHIPMENT_PATH}{shipment}" if public_url else ""
    temporal_ui_url = bases.temporal_ui_url.rstrip("/")
    workflow_id = event_workflow_id(alert.event_id)
    if alert.kind in WATCH_KINDS and alert.exception_id is not None:
        workflow_id = exception_workflow_id(alert.exception_id)  # the watch sent it
    workflow_url = ids.workflow_url(
        workflow_id, temporal_ui_url=temporal_ui_url, namespace=bases.namespace
    )
    exception_url = ""
    if public_url and alert.exception_id is not None:
        exception_url = exception_page(public_url, alert.exception_id)
    return Links(
        shipment_url=shipment_url,
        workflow_url=workflow_url,
        flexport_url=flexport_url,
        tracking_url=tracking_url,
        exception_url=exception_url,
    )
