"""Turn an `Alert` into words: an HTML email, a Markdown chat message or plain text.

One Jinja2 `Environment` serves every form. Templates are looked up first in the user's directory
(`FLEXHOOK_TEMPLATES_DIR`), then in the packaged `notifications/templates`, so a user file of the
same name replaces the packaged one. Only `.html` templates are autoescaped; Markdown and text are
not HTML and must not be HTML-escaped.

Template names, per form (`<kind>` is `Alert.kind`; `alert` is the fallback for any other kind):
  title/<kind>.txt          one line: the email subject, the chat title, the text title
  email/<kind>.html         extends email/layout.html (facts.html and links.html are shared),
                            which, like the digest and ops emails, extends email/page.html
  chat/<kind>.md            extends chat/layout.md (facts.md and links.md are shared)
  text/<kind>.txt           extends text/layout.txt (facts.txt and links.txt are shared)
Each template sees `alert` (an `Alert`), `links` (a `Links`) and, in the bodies, `title`; chat
templates also `dialect`.

Chat messages are Markdown, and event data (shipment names, headlines, places: text people type
into Flexport) must never become markup there. Every value a chat template prints goes through the
`chat_text` filter, which escapes it for the `dialect` of the service the message is rendered for:
`slack_text` for Slack, `markdown_text` for Teams and the other Markdown services (both are
filters too, for a template written for one service). Only the links' URLs, flexhook's own, are
printed as they are. A chat title is plain text; the notifier escapes it where a service reads it
as Markdown. Email needs no filter: `.html` templates are autoescaped, attributes included.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jinja2 import (
    BaseLoader,
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PackageLoader,
    StrictUndefined,
    pass_context,
    select_autoescape,
)
from jinja2.runtime import Context

from app.core.alert import Alert, Links

log = logging.getLogger(__name__)

# How a chat service reads Markdown: "slack" through Apprise's conversion to Slack's mrkdwn,
# "markdown" as CommonMark (Teams' Adaptive Cards, Discord, Mattermost and the rest).
Dialect = Literal["slack", "markdown"]


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    html: str


@dataclass(frozen=True)
class RenderedChat:
    title: str
    markdown: str


@dataclass(frozen=True)
class RenderedText:
    title: str
    body: str


def _moment(value: str) -> datetime:
    """An ISO-8601 string as an aware datetime; a naive value is taken to be UTC."""
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _zone(name: str | None) -> tzinfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        # An unknown zone must not cost the alert; the UTC time is still right.
        log.warning("unknown time zone %r; showing UTC instead", name)
        return None


def utc_time(value: str) -> str:
    """`2026-02-26 13:20 UTC`."""
    return _moment(value).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def local_time(value: str, timezone: str | None) -> str:
    """The time at the place: `2026-02-26 21:20 CST (UTC+08:00)`; UTC when the zone is unknown."""
    zone = _zone(timezone)
    if zone is None:
        return utc_time(value)
    local = _moment(value).astimezone(zone)
    offset = local.strftime("%z")  # "+0800"
    offset = f"UTC{offset[:3]}:{offset[3:]}"
    name = local.tzname() or ""
    # Some zones have no abbreviation and name themselves by offset ("+04"); say it once.
    if not name or name[0] in "+-":
        return f"{local:%Y-%m-%d %H:%M} ({offset})"
    return f"{local:%Y-%m-%d %H:%M} {name} ({offset})"


def hours(value: float) -> str:
    """A signed shift in hours: `+30 h`, `-26 h`, `+1.5 h`, `0 h`."""
    rounded = round(value, 1)
    if rounded == 0:
        return "0 h"
    text = f"{rounded:+.1f}".removesuffix(".0")
    return f"{text} h"


def place(alert: Alert) -> str:
    """`Yantian, CN`; empty when the alert names no place."""
    return ", ".join(part for part in (alert.place_name, alert.place_country) if part)


def shipment(alert: Alert) -> str:
    """`SS26 Apparel - Yantian to LA #3 (418563)`, or `Shipment 418563` when it has no name."""
    if alert.shipment_name:
        return f"{alert.shipment_name} ({alert.shipment_id})"
    return f"Shipment {alert.shipment_id}"


def one_line(value: str) -> str:
    """Collapse whitespace, newlines included: titles go into email headers and chat headers."""
    return " ".join(value.split())


# Apprise converts a Markdown body to Slack's mrkdwn itself (`_commonmark_to_slack` in
# apprise/plugins/slack.py), [t](u) into a live <u|t> included. It turns \< and \> into &lt; and
# &gt;, a bare & into &amp; (Slack's own escaping), \[ \] \( \) \# into the bare character, and
# keeps every other backslash pair as it is. Slack has no escape for * _ ~ `: a backslash keeps
# Apprise (which turns *x* into _x_) and Slack from formatting them, and Slack shows it. Inside a
# word _ and ~ never format, so they are left alone: PO_1234_A reads as typed.
_SLACK_SPECIAL: Final = re.compile(r"[\\`*<>\[\]()#]|(?<![^\W_])[_~]|[_~](?![^\W_])")
# CommonMark lets any ASCII punctuation be backslash-escaped. These are the ones that format,
# link or mention (Apprise makes a Teams mention of <at>..</at>) anywhere in a line; & only where
# it would start an entity, so that "Smith & Co" stays as typed.
_MARKDOWN_SPECIAL: Final = re.compile(r"[\\`*_\[\]()#<>|~]|&(?=#?\w+;)")
# What would start a list, a heading underline or a rule if the value began a line.
_MARKDOWN_BLOCK_START: Final = re.compile(r"^(?:[-+=](?=[\s=-]|$)|\d+[.)](?=\s|$))")


def slack_text(value: str) -> str:
    """`value` as text in a Slack message that Apprise converts from Markdown: never a link, a
    mention or formatting; & < > reach Slack as &amp; &lt; &gt;, exactly as Slack's docs ask."""
    return _SLACK_SPECIAL.sub(r"\\\g<0>", one_line(value))


def markdown_text(value: str) -> str:
    """`value` as literal text in CommonMark (Teams and the other Markdown chat services)."""
    text = _MARKDOWN_SPECIAL.sub(r"\\\g<0>", one_line(value))
    return _MARKDOWN_BLOCK_START.sub(lambda start: start[0][:-1] + "\\" + start[0][-1], text)


_CHAT_TEXT: Final = {"slack": slack_text, "markdown": markdown_text}


@pass_context
def chat_text(context: Context, value: str) -> str:
    """`value` escaped for the dialect of the chat message being rendered; as is elsewhere."""
    escape = _CHAT_TEXT.get(context.get("dialect"))
    return escape(value) if escape else value


# Helpers are filters rather than macros on purpose: a filter returns a plain string, which an
# HTML template escapes, whereas a macro imported from a non-HTML template returns text the
# calling HTML template would treat as safe markup.
FILTERS: dict[str, Any] = {
    "utc_time": utc_time,
    "local_time": local_time,
    "hours": hours,
    "place": place,
    "shipment": shipment,
    "chat_text": chat_text,
    "slack_text": slack_text,
    "markdown_text": markdown_text,
}


class Renderer:
    """Renders alerts with the packaged templates, overridden file by file from `templates_dir`."""

    def __init__(self, templates_dir: Path | None = None) -> None:
        loaders: list[BaseLoader] = []
        if templates_dir is not None:
            if not templates_dir.is_dir():
                raise NotADirectoryError(f"templates directory {templates_dir} does not exist")
            loaders.append(FileSystemLoader(templates_dir))
        loaders.append(PackageLoader("notifications", "templates"))
        self.environment = Environment(
            loader=ChoiceLoader(loaders),
            undefined=StrictUndefined,
            autoescape=select_autoescape(["html"]),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.environment.filters.update(FILTERS)

    def _render(self, form: str, extension: str, alert: Alert, **context: object) -> str:
        template = self.environment.select_template(
            [f"{form}/{alert.kind}.{extension}", f"{form}/alert.{extension}"]
        )
        return template.render(alert=alert, **context)

    def _title(self, alert: Alert, links: Links) -> str:
        return one_line(self._render("title", "txt", alert, links=links))

    def email(self, alert: Alert, links: Links) -> RenderedEmail:
        subject = self._title(alert, links)
        html = self._render("email", "html", alert, links=links, title=subject)
        return RenderedEmail(subject=subject, html=html.strip() + "\n")

    def chat(self, alert: Alert, links: Links, *, dialect: Dialect = "markdown") -> RenderedChat:
        """The chat message for a service of `dialect`; the title is plain text."""
        title = self._title(alert, links)
        markdown = self._render("chat", "md", alert, links=links, title=title, dialect=dialect)
        return RenderedChat(title=title, markdown=markdown.strip())

    def text(self, alert: Alert, links: Links) -> RenderedText:
        title = self._title(alert, links)
        body = self._render("text", "txt", alert, links=links, title=title)
        return RenderedText(title=title, body=body.strip())
