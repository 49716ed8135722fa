"""Apprise delivery: check destination URLs, read the Apprise configuration, route and send.

Every destination is an Apprise URL. Its full form carries credentials, so only its privacy form
(`Destination.privacy_url`) ever reaches a log line or an exception message; Apprise's own log
lines go through `notifications.redaction.REDACTOR`. Each send runs within `SendLimits` (a hard
deadline, a breaker per destination: `notifications.send_limits`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal

import apprise
from opentelemetry.trace import Tracer

from app.core.addresses import NOTHING_INTERNAL, AddressAllowlist
from app.core.alert import Alert, Links
from app.core.alert_links import LinkBases, alert_links
from app.core.audience import EXTERNAL_TAG, Audience
from app.core.privacy import privacy_form
from notifications.guard import harden, refusal, run_time_refusal, schemes_of
from notifications.redaction import (
    REDACTOR,
    URL_IN_TEXT_RE,
    guard_apprise_logs,
    private_values,
    url_parts,
)
from notifications.render import Dialect, Renderer, markdown_text
from notifications.send_limits import Crowded, Overdue, SendLimits, Skipped
from notifications.tracing import NO_TRACING, send_span

log = logging.getLogger(__name__)

Form = Literal["email", "chat", "text"]

# Services that get the Markdown chat message. Email gets HTML; everything else plain text.
EMAIL_SCHEMES: Final = frozenset({"mailto", "mailtos"})
CHAT_SCHEMES: Final = frozenset(
    {
        "slack",
        "workflow",
        "workflows",
        "discord",
        "gchat",
        "mmost",
        "mmosts",
        "rocket",
        "rockets",
        "wxteams",
        "webex",
        "matrix",
        "matrixs",
        "zulip",
    }
)
# Chat services whose Markdown Apprise converts to Slack's mrkdwn; the rest read CommonMark.
SLACK_SCHEMES: Final = frozenset({"slack"})
# Teams shows the title in an Adaptive Card TextBlock, which is Markdown like the body.
_MARKDOWN_TITLE_SCHEMES: Final = frozenset({"workflow", "workflows"})
_BODY_FORMATS: Final[dict[Form, apprise.NotifyFormat]] = {
    "email": apprise.NotifyFormat.HTML,
    "chat": apprise.NotifyFormat.MARKDOWN,
    "text": apprise.NotifyFormat.TEXT,
}
_NOTIFY_TYPES: Final = {
    "delivered": apprise.NotifyType.SUCCESS,
    "exception": apprise.NotifyType.WARNING,
}
# Schemes people still try although Apprise dropped them, with what to use instead.
_SCHEME_HINTS: Final = {
    "msteams": "Teams now goes through Power Automate: use workflows://HOST:PORT/WORKFLOW/"
    "SIGNATURE/?pa=yes, or the https://...logic.azure.com/... webhook URL itself",
}
_SCHEME_RE: Final = re.compile(r"^\s*([a-z0-9][a-z0-9+.-]*)://", re.IGNORECASE)


class NotifyError(Exception):
    """Base of the errors of this module."""


class InvalidDestination(NotifyError):
    """Apprise does not accept the URL; permanent. The message says why and holds no secret."""


class RefusedDestination(InvalidDestination):
    """The host is internal and FLEXHOOK_DESTINATION_ALLOW does not allow it (`guard`)."""


class DeliveryFailed(NotifyError):
    """Apprise accepted the URL but could not deliver; worth retrying."""


class SendTimedOut(DeliveryFailed):
    """The send did not finish within its deadline (`notifications.send_limits`). Its thread
    may still deliver the message: the outcome is unknown, so it is not sent again."""


class DestinationSkipped(DeliveryFailed):
    """The destination's breaker is open: it was not tried (`notifications.send_limits`)."""


@dataclass(frozen=True)
class Destination:
    """One Apprise URL to alert, with the form of message it takes, its routing tags and who
    reads it (`audience`: which links its alerts may carry)."""

    id: str  # "url-" + 16 hex of sha256(url); the same URL is the same destination
    url: str = field(repr=False)  # carries credentials: never log it
    privacy_url: str  # what Apprise shows of it: secrets elided
    form: Form
    tags: frozenset[str] = frozenset()
    # The URL its `List-Unsubscribe` header names (a follower's mail: `app.core.follow`); "": none.
    unsubscribe_url: str = ""
    audience: Audience = Audience.INTERNAL


def _scheme(url: str) -> str | None:
    match = _SCHEME_RE.match(url)
    return match.group(1).lower() if match else None


def plugin_for(url: str, asset: apprise.AppriseAsset | None = None) -> apprise.NotifyBase:
    """The plugin that sends to `url` (timeouts and redirects: `guard.harden`) or why not."""
    return harden(_parsed(url, asset))


def _parsed(url: str, asset: apprise.AppriseAsset | None = None) -> apprise.NotifyBase:
    """`url` as Apprise parses it, what ids are computed from; or InvalidDestination."""
    guard_apprise_logs()
    scheme = _scheme(url)
    if scheme is None:
        raise InvalidDestination("not an Apprise URL: it does not start with a scheme://")
    with REDACTOR.parsing(url_parts(url)):
        plugin = apprise.Apprise.instantiate(url, asset=asset)
    if plugin is not None:
        return plugin
    if scheme in _SCHEME_HINTS:
        raise InvalidDestination(
            f"Apprise does not know the scheme {scheme}://; {_SCHEME_HINTS[scheme]}"
        )
    plugins = apprise.NotificationManager()  # type: ignore[no-untyped-call]
    if scheme not in plugins:
        raise InvalidDestination(f"Apprise does not know the scheme {scheme}://")
    if not plugins[scheme].enabled:
        raise InvalidDestination(
            f"Apprise's {scheme}:// support is disabled here (a dependency may be missing)"
        )
    raise InvalidDestination(f"Apprise does not accept this {scheme}:// URL")


def _form(plugin: apprise.NotifyBase) -> Form:
    protocols = schemes_of(plugin)
    if protocols & EMAIL_SCHEMES:
        return "email"
    if protocols & CHAT_SCHEMES:
        return "chat"
    return "text"


def chat_dialect(plugin: apprise.NotifyBase) -> Dialect:
    return "slack" if schemes_of(plugin) & SLACK_SCHEMES else "markdown"


def title_is_markdown(plugin: apprise.NotifyBase) -> bool:
    """Whether the service reads a chat title as Markdown: Teams' card, or any service whose
    title Apprise blends into the body (no title of its own: `title_maxlen` 0)."""
    title_maxlen: int = plugin.title_maxlen
    return title_maxlen <= 0 or bool(schemes_of(plugin) & _MARKDOWN_TITLE_SCHEMES)


def _plugin_url(plugin: apprise.NotifyBase, *, privacy: bool) -> str:
    """The plugin's URL as Apprise writes it; with `privacy`, secrets elided."""
    url: str = plugin.url(privacy=privacy)  # type: ignore[no-untyped-call]
    return url


def _destination(url: str, plugin: apprise.NotifyBase, tags: Iterable[str]) -> Destination:
    # The id hashes Apprise's own normal form of the URL, so one target written two ways (in the
    # configuration file and in a subscription, say) is one destination and hears an alert once.
    canonical = _plugin_url(plugin, privacy=False)
    lowered = frozenset(str(tag).lower() for tag in tags)
    return Destination(
        id="url-" + hashlib.sha256(canonical.encode()).hexdigest()[:16],
        url=url,
        privacy_url=privacy_form(_plugin_url(plugin, privacy=True)),
        form=_form(plugin),
        tags=lowered,
        audience=Audience.EXTERNAL if EXTERNAL_TAG in lowered else Audience.INTERNAL,
        unsubscribe_url=unsubscribe_link(plugin),
    )


def unsubscribe_link(plugin: apprise.NotifyBase) -> str:
    """The web link of an email destination's `List-Unsubscribe` header (Apprise's `+Header=`
    arguments), which its alerts print too; "" when it has none."""
    headers = getattr(plugin, "headers", None)
    if not isinstance(headers, dict):
        return ""
    value = next((str(v) for k, v in headers.items() if k.lower() == "list-unsubscribe"), "")
    link = value.strip().removeprefix("<").removesuffix(">")
    return link if link.startswith(("https://", "http://")) else ""


def check_url(
    url: str, *, tags: Iterable[str] = (), allowlist: AddressAllowlist | None = None
) -> Destination:
    """`url`'s destination, or InvalidDestination why not (`allowlist`: its host too)."""
    plugin = _parsed(url)
    if allowlist is not None:  # added at run time: only hosts that can be checked, checked
        if (reason := run_time_refusal(plugin)) is not None:
            raise RefusedDestination(reason)
        refuse_internal(plugin, allowlist)
    return _destination(url, plugin, tags)


def refuse_internal(plugin: apprise.NotifyBase, allowlist: AddressAllowlist) -> None:
    """RefusedDestination when `plugin` would connect to an internal address not allowed."""
    if (reason := refusal(plugin, allowlist)) is not None:
        raise RefusedDestination(reason)


def load_config(path: Path) -> list[Destination]:
    """Every URL of an Apprise configuration file (YAML or TEXT) with its tags; [] if no file.

    Apprise skips a URL it does not accept and logs why (and a TEXT file with a line it cannot
    parse yields nothing at all); those entries are simply absent here.
    """
    if not path.is_file():
        return []
    content = path.read_text(encoding="utf-8")
    guard_apprise_logs()
    config = apprise.AppriseConfig()
    secrets = set().union(*(url_parts(url) for url in URL_IN_TEXT_RE.findall(content)))
    with REDACTOR.parsing(secrets):
        config.add_config(content)
        plugins = config.services()
    # plugin.url() gives the full URL back, credentials included, as Apprise normalises it.
    return [
        _destination(_plugin_url(plugin, privacy=False), plugin, plugin.tags) for plugin in plugins
    ]


class Notifier:
    """Renders an alert in the form a destination takes and sends it there with Apprise."""

    def __init__(
        self,
        renderer: Renderer,
        *,
        public_url: str = "",
        temporal_ui_url: str = "",
        namespace: str = "default",
        flexport_app_url: str = "https://app.flexport.com",
        external_flexport_link: bool = False,
        timeout: float = 60.0,
        limits: SendLimits | None = None,
        destination_allow: AddressAllowlist = NOTHING_INTERNAL,
        tracer: Tracer = NO_TRACING,
    ) -> None:
        """`flexport_app_url` is where Flexport's app shows a shipment at `/shipments/<id>`
        (empty: no link); `external_flexport_link`: external readers get that link too
        (FLEXHOOK_EXTERNAL_FLEXPORT_LINK). `limits` bound each send (its hard deadline, the
        destinations' breaker; share one per process); None: limits of its own with a deadline
        of `timeout` seconds.
        The activity that calls `send` needs a longer start-to-close timeout.
        `destination_allow` is FLEXHOOK_DESTINATION_ALLOW; `tracer`: a span per send."""
        self._renderer = renderer
        self._tracer = tracer
        self._destination_allow = destination_allow
        self._link_bases = LinkBases(
            public_url=public_url,
            temporal_ui_url=temporal_ui_url,
            namespace=namespace,
            flexport_app_url=flexport_app_url,
            external_flexport_link=external_flexport_link,
        )
        self.limits = limits or SendLimits(deadline=timeout)
        self._asset = apprise_asset("flexhook shipment alerts")

    def skip_reason(self, destination: Destination) -> str | None:
        """Why `destination` is skipped now (its breaker is open), or None."""
        return self.limits.skip_reason(destination.id)

    @property
    def links_tracking_pages(self) -> bool:
        """Whether a share token becomes a link: only with a public URL to put it under."""
        return self._link_bases.tracking_pages

    def links(
        self,
        alert: Alert,
        *,
        audience: Audience = Audience.INTERNAL,
        share_token: str | None = None,
    ) -> Links:
        """Where the `audience` may look further (`app.core.alert_links`)."""
        return alert_links(self._link_bases, alert, audience=audience, share_token=share_token)

    def _message(
        self, destination: Destination, plugin: apprise.NotifyBase, alert: Alert, links: Links
    ) -> tuple[str, str]:
        """(title, body) in the form the destination takes, escaped for its service."""
        form = destination.form
        if destination.unsubscribe_url:
            links = dataclasses.replace(links, unsubscribe_url=destination.unsubscribe_url)
        if form == "email":
            email = self._renderer.email(alert, links)
            return email.subject, email.html
        if form == "chat":
            dialect = chat_dialect(plugin)
            chat = self._renderer.chat(alert, links, dialect=dialect)
            # Slack's title is plain text, which Apprise escapes itself.
            if dialect == "markdown" and title_is_markdown(plugin):
                return markdown_text(chat.title), chat.markdown
            return chat.title, chat.markdown
        text = self._renderer.text(alert, links)
        return text.title, text.body

    def send(
        self,
        destination: Destination,
        alert: Alert,
        *,
        share_token: str | None = None,
        private: Iterable[str] = (),
    ) -> None:
        """Deliver `alert` to `destination` with the links its audience may have
        (`share_token`: the shipment's alerts link, for the tracking page) or raise. Neither
        the token nor the `private` values of the message ever reach a log line.

        InvalidDestination: Apprise no longer accepts the URL, or its host is internal (permanent).
        DeliveryFailed: the service did not take the message (retryable).
        """
        refuse_internal(_parsed(destination.url), self._destination_allow)
        plugin = plugin_for(destination.url, self._asset)
        links = self.links(alert, audience=destination.audience, share_token=share_token)
        title, body = self._message(destination, plugin, alert, links)
        notify_type = _NOTIFY_TYPES.get(alert.kind, apprise.NotifyType.INFO)
        with send_span(self._tracer, destination.id, _scheme(destination.url), alert):
            send_message(
                destination,
                plugin,
                title=title,
                body=body,
                notify_type=notify_type,
                asset=self._asset,
                limits=self.limits,
                private=[*private, share_token] if share_token else private,
            )
        log.info(
            "sent %s alert for shipment %s to %s",
            alert.kind,
            alert.shipment_id,
            destination.privacy_url,
        )


def apprise_asset(description: str) -> apprise.AppriseAsset:
    """Apprise's settings for flexhook's sends. No service timeout: with one, Apprise hands every
    send to its one process-wide pool (six threads on two cores), where a destination that never
    answers keeps a thread for good and every other send queues behind it. Without one, Apprise
    sends on the calling thread, which `SendLimits.run` starts for each send and stops waiting
    for at the deadline."""
    return apprise.AppriseAsset(app_id="flexhook", app_desc=description, service_timeout=0)


def send_message(
    destination: Destination,
    plugin: apprise.NotifyBase,
    *,
    title: str,
    body: str,
    notify_type: apprise.NotifyType,
    asset: apprise.AppriseAsset,
    limits: SendLimits,
    private: Iterable[str] = (),
) -> None:
    """Hand one rendered message to Apprise for `destination` (whose `plugin_for` is `plugin`)
    within `limits`, or raise DeliveryFailed with Apprise's reasons, credentials masked:
    SendTimedOut past the deadline, DestinationSkipped while its breaker is open. `private`:
    values of the message no log line may show either (a tracking link's token)."""
    hidden = private_values(plugin, destination.url) | set(private)
    try:
        limits.run(
            destination.id,
            lambda: _notify(
                destination,
                plugin,
                title=title,
                body=body,
                notify_type=notify_type,
                asset=asset,
                hidden=hidden,
            ),
        )
    except Skipped as exc:
        raise DestinationSkipped(f"{destination.privacy_url}: {exc}") from None
    except Crowded as exc:  # never started: known unsent, worth retrying
        raise DeliveryFailed(f"{destination.privacy_url}: {exc}") from None
    except Overdue as exc:
        raise SendTimedOut(f"{destination.privacy_url}: {exc}") from None


def _notify(
    destination: Destination,
    plugin: apprise.NotifyBase,
    *,
    title: str,
    body: str,
    notify_type: apprise.NotifyType,
    asset: apprise.AppriseAsset,
    hidden: set[str],
) -> None:
    """Apprise's notify on this thread (see `apprise_asset`), `hidden` masked in its logs."""
    notifier = apprise.Apprise(asset=asset)
    notifier.add(plugin)
    with (
        REDACTOR.sending(hidden),
        notifier.notify(
            body=body,
            title=title,
            body_format=_BODY_FORMATS[destination.form],
            notify_type=notify_type,
        ) as result,
    ):
        if result:
            return
        # Apprise's own warnings say what went wrong; they passed through REDACTOR.
        reasons = "; ".join(dict.fromkeys(entry.message for entry in result.logs()))
        problem = REDACTOR.redact(reasons)[:500] or "no reason given"
    raise DeliveryFailed(
        f"{destination.privacy_url}: Apprise could not deliver "
        f"({result.status.name.lower()}): {problem}"
    )
