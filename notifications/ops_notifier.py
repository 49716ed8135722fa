"""Ops alerts: render an `OpsAlert` and send it to every target of the Apprise configuration
tagged `ops`, with the same machinery as stakeholder alerts (URL checks, forms, the credential
redaction on Apprise's logger).

Templates, per form, beside the stakeholder ones and overridable the same way:
  title/ops.txt  email/ops.html  chat/ops.md  text/ops.txt
Each sees `ops` (an `OpsAlert`), `links` ((label, URL) pairs, only those known) and, in the
bodies, `title`; chat templates also `dialect`, for the `chat_text` filter.
"""

from __future__ import annotations

import logging
from typing import Final
from urllib.parse import quote

import apprise

from app.core.addresses import NOTHING_INTERNAL, AddressAllowlist
from app.core.ids import event_workflow_url
from app.core.ops_alerts import OPS_TAG, SPOOL_STUCK, OpsAlert
from notifications.destinations import NotifyConfig
from notifications.notifier import (
    Destination,
    NotifyError,
    apprise_asset,
    chat_dialect,
    plugin_for,
    refuse_internal,
    send_message,
    title_is_markdown,
)
from notifications.render import Dialect, Renderer, markdown_text, one_line
from notifications.send_limits import SendLimits

log = logging.getLogger(__name__)

# (label, URL) pairs; stakeholder alerts carry `app.core.alert.Links` instead.
OpsLinks = list[tuple[str, str]]

_EXTENSIONS: Final = {"email": "html", "chat": "md", "text": "txt"}


class OpsNotifier:
    """Sends ops alerts to the `ops`-tagged targets of the Apprise configuration."""

    def __init__(
        self,
        renderer: Renderer,
        *,
        config: NotifyConfig,
        public_url: str = "",
        temporal_ui_url: str = "",
        namespace: str = "default",
        timeout: float = 10.0,
        destination_allow: AddressAllowlist = NOTHING_INTERNAL,
    ) -> None:
        """`timeout` bounds one send to one target in seconds (a hard deadline). Ops targets
        have limits of their own: a stakeholder destination's breaker never silences them.
        `destination_allow` is FLEXHOOK_DESTINATION_ALLOW, checked at each send as for alerts."""
        self._destination_allow = destination_allow
        self._renderer = renderer
        self._config = config
        self._public_url = public_url.rstrip("/")
        self._temporal_ui_url = temporal_ui_url.rstrip("/")
        self._namespace = namespace
        self._asset = apprise_asset("flexhook ops alerts")
        self._limits = SendLimits(deadline=timeout)

    def destinations(self) -> list[Destination]:
        """The ops targets configured now: those tagged `ops`. Not Apprise's `always`: ops alerts
        name destinations and errors, which are for the operators, not for every stakeholder's
        channel."""
        return self._config.tagged([OPS_TAG])

    def links(self, alert: OpsAlert) -> OpsLinks:
        found: OpsLinks = []
        if alert.event_id is not None and self._public_url:
            event = quote(alert.event_id, safe="")
            found.append(("Event in flexhook", f"{self._public_url}/dashboard/events/{event}"))
        if alert.event_id is not None and self._temporal_ui_url:
            workflow = event_workflow_url(
                alert.event_id, temporal_ui_url=self._temporal_ui_url, namespace=self._namespace
            )
            found.append(("Workflow in Temporal", workflow))
        if alert.key == SPOOL_STUCK and not alert.recovered and self._public_url:
            found.append(("Queued events", f"{self._public_url}/dashboard/events?status=queued"))
        return found

    def render(
        self, alert: OpsAlert, destination: Destination, plugin: apprise.NotifyBase | None = None
    ) -> tuple[str, str]:
        """(title, body) in the form `destination` takes, escaped for its service."""
        environment = self._renderer.environment
        links = self.links(alert)
        title = one_line(environment.get_template("title/ops.txt").render(ops=alert, links=links))
        form = destination.form
        dialect: Dialect = chat_dialect(plugin) if plugin is not None else "markdown"
        body = environment.get_template(f"{form}/ops.{_EXTENSIONS[form]}").render(
            ops=alert, links=links, title=title, dialect=dialect
        )
        if form == "email":
            return title, body.strip() + "\n"
        # As for stakeholder alerts: Slack's title is plain text, which Apprise escapes itself.
        markdown_title = plugin is not None and dialect == "markdown" and title_is_markdown(plugin)
        if form == "chat" and markdown_title:
            title = markdown_text(title)
        return title, body.strip()

    def send(self, alert: OpsAlert) -> bool | None:
        """Send `alert` to every ops target, each once. True when at least one took it, False
        when none did, None when no target is tagged `ops`. Never raises for a target's
        trouble: it is logged, by its privacy form."""
        destinations = self.destinations()
        if not destinations:
            log.info("ops alert %s: no Apprise target is tagged %s", alert.key, OPS_TAG)
            return None
        delivered = False
        for destination in destinations:
            try:
                self._send_one(destination, alert)
            except NotifyError as exc:  # its message holds no secret
                log.warning(
                    "ops alert %s to %s failed: %s", alert.key, destination.privacy_url, exc
                )
            except Exception as exc:  # anything else's message might quote the URL: not shown
                log.warning(
                    "ops alert %s to %s failed: %s",
                    alert.key,
                    destination.privacy_url,
                    type(exc).__name__,
                )
            else:
                delivered = True
        return delivered

    def _send_one(self, destination: Destination, alert: OpsAlert) -> None:
        plugin = plugin_for(destination.url, self._asset)
        refuse_internal(plugin, self._destination_allow)
        title, body = self.render(alert, destination, plugin)
        notify_type = apprise.NotifyType.SUCCESS if alert.recovered else apprise.NotifyType.FAILURE
        send_message(
            destination,
            plugin,
            title=title,
            body=body,
            notify_type=notify_type,
            asset=self._asset,
            limits=self._limits,
        )
        log.info("sent ops alert %s to %s", alert.key, destination.privacy_url)
