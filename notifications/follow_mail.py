"""The confirmation email of a request to follow a shipment (`app.core.follow`): rendered from
`title/follow_confirm.txt` and `email/follow_confirm.html` (overridable like every template) and
mailed through FLEXHOOK_MAIL_URL to the one address that asked. The address guard applies to the
mail URL as to any destination; only the masked address is ever logged."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import apprise

from app.core.addresses import NOTHING_INTERNAL, AddressAllowlist
from app.core.follow import follower_mail_url, mask_address
from notifications.notifier import (
    NotifyError,
    apprise_asset,
    check_url,
    plugin_for,
    refuse_internal,
    send_message,
)
from notifications.render import Renderer, one_line
from notifications.send_limits import SendLimits

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FollowConfirmation:
    """What the confirmation email says: the shipment, the link, until when it works (ISO-8601)."""

    shipment_id: str
    confirm_url: str
    expires_at: str


class FollowMailer:
    """Mails confirmation links through one mail URL (FLEXHOOK_MAIL_URL, without `to`)."""

    def __init__(
        self,
        renderer: Renderer,
        *,
        mail_url: str,
        destination_allow: AddressAllowlist = NOTHING_INTERNAL,
        timeout: float = 30.0,
    ) -> None:
        self._renderer = renderer
        self._mail_url = mail_url
        self._destination_allow = destination_allow
        self._asset = apprise_asset("flexhook follow confirmations")
        self._limits = SendLimits(deadline=timeout)

    def render(self, confirmation: FollowConfirmation) -> tuple[str, str]:
        """(subject, HTML body)."""
        environment = self._renderer.environment
        title = one_line(
            environment.get_template("title/follow_confirm.txt").render(follow=confirmation)
        )
        html = environment.get_template("email/follow_confirm.html").render(
            follow=confirmation, title=title
        )
        return title, html.strip() + "\n"

    def send(self, address: str, confirmation: FollowConfirmation) -> bool:
        """Mail `confirmation` to `address` (normalised); False, logged, when it could not go."""
        try:
            destination = check_url(
                follower_mail_url(self._mail_url, address), allowlist=self._destination_allow
            )
            plugin = plugin_for(destination.url, self._asset)
            refuse_internal(plugin, self._destination_allow)
            title, body = self.render(confirmation)
            send_message(
                destination,
                plugin,
                title=title,
                body=body,
                notify_type=apprise.NotifyType.INFO,
                asset=self._asset,
                limits=self._limits,
            )
        except NotifyError as exc:  # its message holds no secret (the privacy form at most)
            log.warning(
                "follow confirmation to %s failed: %s", mask_address(address), type(exc).__name__
            )
            return False
        log.info(
            "sent follow confirmation for shipment %s to %s",
            confirmation.shipment_id,
            mask_address(address),
        )
        return True
