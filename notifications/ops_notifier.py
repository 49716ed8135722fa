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
from pathlib import Path
from typing import Final
from urllib.parse import quote

import apprise

from app.core.ids import event_workflow_id
from app.core.ops_alerts import OPS_TAG, SPOOL_STUCK, OpsAlert
from notifications.notifier import (
    _BODY_FORMATS,
    _REDACTOR,
    Destination,
    NotifyError,
    _dialect,
    _plugin,
    _private_values,
    _title_is_markdown,
    load_config,
)
from notifications.render import Dialect, Renderer, markdown_text, one_line

log = logging.getLogger(__name__)

Links = list[tuple[str, str]]

_EXTENSIONS: Final = {"email": "html", "chat": "md", "text": "txt"}


def ops_destinations(destinations: list[Destination]) -> list[Destination]:
    """Those tagged `ops`. Not Apprise's `always`: ops alerts name destinations and errors, which
    are for the operators, not for every stakeholder's channel."""
    return [destination for destination in destinations if OPS_TAG in destination.tags]


class OpsNotifier:
    """Sends ops alerts to the `ops`-tagged targets of one Apprise configuration file."""

    def __init__(
        self,
        renderer: Renderer,
        *,
        config_path: Path | None,
        public_url: str = "",
        temporal_ui_url: str = "",
        namespace: str = "default",
        timeout: float = 10.0,
    ) -> None:
        """`timeout` bounds one send to one target in seconds (Apprise's service timeout)."""
        self._renderer = renderer
        self._config_path = config_path
        self._public_url = public_url.rstrip("/")
        self._temporal_ui_url = temporal_ui_url.rstrip("/")
        self._namespace = namespace
        self._asset = apprise.AppriseAsset(
            app_id="flexhook", app_desc="flexhook ops alerts", service_timeout=timeout
        )

    def destinations(self) -> list[Destination]:
        """The ops targets configured now (the file is read on every call, as for alerts)."""
        configured = load_config(self._config_path) if self._config_path else []
        return ops_destinations(configured)

    def links(self, alert: OpsAlert) -> Links:
        found: Links = []
        if alert.event_id is not None and self._public_url:
            event = quote(alert.event_id, safe="")
            found.append(("Event in flexhook", f"{self._public_url}/dashboard/events/{event}"))
        if alert.event_id is not None and self._temporal_ui_url:
            workflow = quote(event_workflow_id(alert.event_id), safe="")
            found.append(
                (
                    "Workflow in Temporal",
                    f"{self._temporal_ui_url}/namespaces/{quote(self._namespace, safe='')}"
                    f"/workflows/{workflow}",
                )
            )
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
        dialect: Dialect = _dialect(plugin) if plugin is not None else "markdown"
        body = environment.get_template(f"{form}/ops.{_EXTENSIONS[form]}").render(
            ops=alert, links=links, title=title, dialect=dialect
        )
        if form == "email":
            return title, body.strip() + "\n"
        # As for stakeholder alerts: Slack's title is plain text, which Apprise escapes itself.
        markdown_title = plugin is not None and dialect == "markdown" and _title_is_markdown(plugin)
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
        plugin = _plugin(destination.url, self._asset)
        title, body = self.render(alert, destination, plugin)
        notifier = apprise.Apprise(asset=self._asset)
        notifier.add(plugin)
        notify_type = apprise.NotifyType.SUCCESS if alert.recovered else apprise.NotifyType.FAILURE
        with (
            _REDACTOR.sending(_private_values(plugin, destination.url)),
            notifier.notify(
                body=body,
                title=title,
                body_format=_BODY_FORMATS[destination.form],
                notify_type=notify_type,
            ) as result,
        ):
            if result:
                log.info("sent ops alert %s to %s", alert.key, destination.privacy_url)
                return
            reasons = "; ".join(dict.fromkeys(entry.message for entry in result.logs()))
            problem = _REDACTOR.redact(reasons)[:500] or "no reason given"
        raise NotifyError(f"Apprise could not deliver ({result.status.name.lower()}): {problem}")
