"""Notifier.send over real channels: a real SMTP server, Slack and Teams at the HTTP transport,
and a real HTTP server for json://. What each channel receives: the Flexport link, and shipment
names people typed arriving as text, never as markup."""

from __future__ import annotations

import dataclasses
import json
import os
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from app.core.alert import Alert
from notifications.notifier import (
    DeliveryFailed,
    DestinationSkipped,
    Notifier,
    SendTimedOut,
    check_url,
)
from notifications.render import Renderer
from notifications.send_limits import DestinationBreaker, SendLimits
from tests.alerts import DEPARTED, NAME
from tests.integration.harness import LOCAL, Inbox, Tarpit, free_port, mailto
from tests.log_registry import register_secret

pytestmark = [
    pytest.mark.integration,
    # Apprise's email plugin imports the deprecated `imghdr` (apprise/utils/pgp.py) when it loads.
    pytest.mark.filterwarnings("ignore:'imghdr' is deprecated:DeprecationWarning"),
]

SLACK_TOKENS = ("TokenAlpha1", "TokenBravo2", "TokenCharlie3")
WORKFLOW_ID = "643e69f83c8944438d68119179a10a64"
SIGNATURE = "KODuebWbDGYFr0z0eu-6Rj8aUKz7108W3wrNJZxFE5A"
TEAMS_HOST = "prod-161.westeurope.logic.azure.com"
for credential in (*SLACK_TOKENS, SIGNATURE):  # the log watch fails the run if one is logged
    register_secret(credential)


FLEXPORT_URL = "https://app.flexport.com/shipments/418563"
FLEXHOOK_URL = "https://flexhook.example.com/dashboard/shipments/418563"
WORKFLOW_URL = "http://localhost:8233/namespaces/default/workflows/flexport-event-48262090"
# Shipment names are typed by people: both must arrive as text, the second not as a Slack link.
LESS_THAN = "Calais < UK // Part #03"
SLACK_LINK = "<https://example.com|click here>"
SLACK_URL = "slack://{}/{}/{}/#ops".format(*SLACK_TOKENS)
SLACK_HOOK = "https://hooks.slack.com/services/{}/{}/{}".format(*SLACK_TOKENS)
TEAMS_URL = f"workflows://{TEAMS_HOST}:443/{WORKFLOW_ID}/{SIGNATURE}/?pa=yes"
TEAMS_ENDPOINT = re.compile(
    rf"https://{re.escape(TEAMS_HOST)}(:443)?/powerautomate/automations/direct"
    rf"/workflows/{WORKFLOW_ID}/triggers/manual/paths/invoke"
)


def make_notifier(**options: Any) -> Notifier:
    return Notifier(
        Renderer(),
        public_url="https://flexhook.example.com",
        temporal_ui_url="http://localhost:8233",
        namespace="default",
        timeout=10,
        destination_allow=LOCAL,
        **options,
    )


@pytest.fixture
def notifier() -> Notifier:
    return make_notifier(flexport_app_url="https://app.flexport.com")


def slack_payload(call: Any) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads(call.request.body)
    return payload


def send_to_slack(notifier: Notifier, alert: Alert) -> dict[str, Any]:
    """The attachment Slack's webhook receives."""
    with responses.RequestsMock() as transport:
        transport.post(SLACK_HOOK, body="ok")
        notifier.send(check_url(SLACK_URL), alert)
        [call] = transport.calls
    [attachment] = slack_payload(call)["attachments"]
    found: dict[str, Any] = attachment
    return found


def request_body(call: Any) -> str | bytes:
    """The body an intercepted request carried."""
    body = call.request.body
    assert isinstance(body, (str, bytes)), body
    return body


def send_to_teams(notifier: Notifier, alert: Alert) -> dict[str, Any]:
    """The Adaptive Card Power Automate receives."""
    with responses.RequestsMock() as transport:
        transport.post(TEAMS_ENDPOINT, status=202)
        notifier.send(check_url(TEAMS_URL), alert)
        [call] = transport.calls
    card: dict[str, Any] = json.loads(request_body(call))["attachments"][0]["content"]
    return card


def text_blocks(card: dict[str, Any]) -> dict[str, str]:
    return {block["id"]: block["text"] for block in card["body"] if block["type"] == "TextBlock"}


def slack_shows(text: str) -> str:
    """What Slack displays of text it does not format: it decodes &amp; &lt; &gt; only."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def unescaped_links(markdown: str) -> list[str]:
    return re.findall(r"(?<!\\)\[([^\]]*)\]\((?:[^)]*)\)", markdown)


class Html(HTMLParser):
    """The text and the link targets of an HTML body."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.chunks: list[str] = []
        self.hrefs: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.hrefs += [value or "" for name, value in attrs if name == "href"]

    def handle_data(self, data: str) -> None:
        self.chunks.append(data)

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.chunks).split())


def test_email_goes_out_as_html_with_a_plain_text_part(
    smtp: tuple[Inbox, int], notifier: Notifier
) -> None:
    inbox, port = smtp
    notifier.send(check_url(mailto(port)), DEPARTED)

    [envelope] = inbox.envelopes
    assert envelope.mail_from == "flexhook@example.com"
    assert envelope.rcpt_tos == ["ops@example.com"]
    [message] = inbox.messages()
    assert message["To"] == "ops@example.com"
    assert message["Subject"] == f"Departed Yantian, CN — {NAME} (418563)"
    assert message.get_content_type() == "multipart/alternative"
    html_part = message.get_body(("html",))
    plain_part = message.get_body(("plain",))
    assert html_part is not None and plain_part is not None
    html, plain = html_part.get_content(), plain_part.get_content()
    for body in (html, plain):
        assert NAME in body
        assert "Yantian" in body
        assert "2026-02-26 21:20 CST (UTC+08:00)" in body
        # The URL is the link text, so Apprise's HTML-to-text conversion keeps it.
        assert FLEXPORT_URL in body
        assert FLEXHOOK_URL in body
    workflow_url = "http://localhost:8233/namespaces/default/workflows/flexport-event-48262090"
    assert f'<a href="{workflow_url}"' in html


def test_email_escapes_html_in_the_shipment_name(
    smtp: tuple[Inbox, int], notifier: Notifier
) -> None:
    inbox, port = smtp
    bold = dataclasses.replace(DEPARTED, shipment_name="<b>Bold</b>")
    notifier.send(check_url(mailto(port)), bold)
    [message] = inbox.messages()
    html_part = message.get_body(("html",))
    assert html_part is not None
    html = html_part.get_content()
    assert "&lt;b&gt;Bold&lt;/b&gt;" in html
    assert "<b>Bold</b>" not in html


def test_smtp_down_is_a_retryable_failure(notifier: Notifier) -> None:
    destination = check_url(mailto(free_port()))  # nothing listens there
    with pytest.raises(DeliveryFailed) as failed:
        notifier.send(destination, DEPARTED)
    assert destination.privacy_url in str(failed.value)
    assert "Connection error" in str(failed.value)


def test_slack_gets_the_chat_message(notifier: Notifier, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(1, logger="apprise")
    destination = check_url("slack://{}/{}/{}/#ops".format(*SLACK_TOKENS))
    with responses.RequestsMock() as transport:
        hook = transport.post(
            "https://hooks.slack.com/services/{}/{}/{}".format(*SLACK_TOKENS), body="ok"
        )
        notifier.send(destination, DEPARTED)
        calls = list(transport.calls)  # the mock forgets its calls on exit
    assert hook.call_count == 1
    [call] = calls
    payload = slack_payload(call)
    assert payload["channel"] == "#ops"
    [attachment] = payload["attachments"]
    assert attachment["title"] == f"Departed Yantian, CN — {NAME} (418563)"
    # Apprise turns the Markdown into Slack's mrkdwn: *bold* and <url|label>.
    assert attachment["text"].startswith(f"*{NAME} (418563)* departed Yantian, CN on ")
    link = "<https://flexhook.example.com/dashboard/shipments/418563|Shipment in flexhook>"
    assert link in attachment["text"]
    # Apprise logs the webhook URL at DEBUG; the tokens must not be in it.
    assert "Slack POST URL" in caplog.text
    for token in SLACK_TOKENS:
        assert token not in caplog.text


def test_slack_refusing_is_a_retryable_failure_without_tokens(
    notifier: Notifier, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(1, logger="apprise")
    destination = check_url("slack://{}/{}/{}/#ops".format(*SLACK_TOKENS))
    with responses.RequestsMock() as transport:
        hook = "https://hooks.slack.com/services/{}/{}/{}".format(*SLACK_TOKENS)
        transport.post(hook, status=500)
        with pytest.raises(DeliveryFailed, match="error=500") as failed:
            notifier.send(destination, DEPARTED)
    for token in SLACK_TOKENS:
        assert token not in str(failed.value)
        assert token not in caplog.text


@pytest.mark.parametrize(
    "url",
    [
        TEAMS_URL,
        f"https://{TEAMS_HOST}:443/powerautomate/automations/direct/workflows/{WORKFLOW_ID}"
        f"/triggers/manual/paths/invoke?api-version=2022-03-01-preview"
        f"&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={SIGNATURE}",
    ],
    ids=["workflows", "webhook-url"],
)
def test_teams_gets_an_adaptive_card_through_power_automate(notifier: Notifier, url: str) -> None:
    destination = check_url(url)
    assert destination.form == "chat"
    with responses.RequestsMock() as transport:
        transport.post(TEAMS_ENDPOINT, status=202)
        notifier.send(destination, DEPARTED)
        [call] = transport.calls
    assert parse_qs(urlsplit(str(call.request.url)).query)["sig"] == [SIGNATURE]
    blocks = text_blocks(json.loads(request_body(call))["attachments"][0]["content"])
    # "#" escaped: Teams shows the name as it is.
    name = r"SS26 Apparel - Yantian to LA \#3 \(418563\)"
    assert blocks["title"] == f"Departed Yantian, CN — {name}"
    assert blocks["body"].startswith(f"**{name}** departed Yantian, CN on ")


def test_json_endpoint_gets_plain_text(
    json_endpoint: tuple[list[dict[str, Any]], int], notifier: Notifier
) -> None:
    received, port = json_endpoint
    destination = check_url(f"json://127.0.0.1:{port}/alerts")
    assert destination.form == "text"
    notifier.send(destination, DEPARTED)
    [request] = received
    assert request["path"] == "/alerts"
    assert request["content_type"] == "application/json"
    body = request["body"]
    assert body["title"] == f"Departed Yantian, CN — {NAME} (418563)"
    assert body["message"].startswith(f"{NAME} (418563) departed Yantian, CN on 2026-02-26 21:20")
    workflow = "Workflow in Temporal: http://localhost:8233/namespaces/default/workflows/"
    assert workflow in body["message"]
    assert "**" not in body["message"] and "<" not in body["message"]


@pytest.mark.parametrize(
    ("name", "in_slack"),
    [
        (LESS_THAN, "Calais &lt; UK // Part #03"),
        (SLACK_LINK, "&lt;https://example.com|click here&gt;"),
    ],
    ids=["less-than", "slack-link"],
)
def test_slack_shows_the_name_people_typed_as_text(
    notifier: Notifier, name: str, in_slack: str
) -> None:
    attachment = send_to_slack(notifier, dataclasses.replace(DEPARTED, shipment_name=name))

    assert attachment["title"] == f"Departed Yantian, CN — {in_slack} (418563)"
    lede, _blank, shipment, *_ = attachment["text"].splitlines()
    assert (
        lede == f"*{in_slack} (418563)* departed Yantian, CN on 2026-02-26 21:20 CST (UTC+08:00)."
    )
    assert shipment == f"- *Shipment:* {in_slack} (418563)"
    assert slack_shows(shipment) == f"- *Shipment:* {name} (418563)"
    # <...> is Slack's markup for links and mentions: the only ones are flexhook's links.
    assert re.findall(r"<[^>]*>", attachment["text"]) == [
        f"<{FLEXPORT_URL}|Shipment in Flexport>",
        f"<{FLEXHOOK_URL}|Shipment in flexhook>",
        f"<{WORKFLOW_URL}|Workflow in Temporal>",
    ]


def test_slack_gets_no_link_from_markdown_in_a_name(notifier: Notifier) -> None:
    name = "[click here](https://example.com) *rush* PO_12_A"
    attachment = send_to_slack(notifier, dataclasses.replace(DEPARTED, shipment_name=name))
    # Slack has no escape for *: the backslash keeps Apprise and Slack from making it bold.
    assert (
        r"- *Shipment:* [click here](https://example.com) \*rush\* PO_12_A (418563)"
        in (attachment["text"])
    )
    assert "example.com|" not in attachment["text"]


@pytest.mark.parametrize(
    ("name", "in_teams"),
    [
        (LESS_THAN, r"Calais \< UK // Part \#03"),
        (SLACK_LINK, r"\<https://example.com\|click here\>"),
    ],
    ids=["less-than", "slack-link"],
)
def test_teams_gets_the_name_people_typed_as_escaped_markdown(
    notifier: Notifier, name: str, in_teams: str
) -> None:
    blocks = text_blocks(send_to_teams(notifier, dataclasses.replace(DEPARTED, shipment_name=name)))

    # The card's title is a Markdown TextBlock too.
    assert blocks["title"] == rf"Departed Yantian, CN — {in_teams} \(418563\)"
    lede, _blank, shipment, *_ = blocks["body"].splitlines()
    assert lede == (
        rf"**{in_teams} \(418563\)** departed Yantian, CN on 2026-02-26 21:20 CST \(UTC+08:00\)."
    )
    assert shipment == rf"- **Shipment:** {in_teams} \(418563\)"
    assert blocks["body"].endswith(
        f"[Shipment in Flexport]({FLEXPORT_URL}) · [Shipment in flexhook]({FLEXHOOK_URL})"
        f" · [Workflow in Temporal]({WORKFLOW_URL})"
    )


def test_teams_gets_no_link_or_mention_from_a_name(notifier: Notifier) -> None:
    name = "<at>ceo@example.com</at> [click here](https://example.com) **rush**"
    card = send_to_teams(notifier, dataclasses.replace(DEPARTED, shipment_name=name))
    blocks = text_blocks(card)
    # Apprise turns <at>...</at> in the body into a Teams mention; escaped, it is text.
    assert "entities" not in card["msteams"]
    for text in blocks.values():
        assert (
            r"\<at\>ceo@example.com\</at\> \[click here\]\(https://example.com\) \*\*rush\*\*"
            in (text)
        )
    assert unescaped_links(blocks["title"]) == []
    assert unescaped_links(blocks["body"]) == [
        "Shipment in Flexport",
        "Shipment in flexhook",
        "Workflow in Temporal",
    ]


@pytest.mark.parametrize("name", [LESS_THAN, SLACK_LINK], ids=["less-than", "slack-link"])
def test_email_holds_the_name_as_text_and_links_flexport(
    smtp: tuple[Inbox, int], notifier: Notifier, name: str
) -> None:
    inbox, port = smtp
    notifier.send(check_url(mailto(port)), dataclasses.replace(DEPARTED, shipment_name=name))

    [message] = inbox.messages()
    assert message["Subject"] == f"Departed Yantian, CN — {name} (418563)"
    html_part = message.get_body(("html",))
    plain_part = message.get_body(("plain",))
    assert html_part is not None and plain_part is not None
    html = Html(html_part.get_content())
    assert f"{name} (418563) departed Yantian, CN on" in html.text
    assert f"Shipment {name} (418563)" in html.text
    assert html.hrefs == [FLEXPORT_URL, FLEXHOOK_URL, WORKFLOW_URL]
    plain = plain_part.get_content().replace("\r\n", "\n")
    assert f"\n{name} (418563) departed Yantian, CN on" in plain
    assert f"Shipment in Flexport\n{FLEXPORT_URL}\n" in plain


def test_json_text_links_flexport(
    json_endpoint: tuple[list[dict[str, Any]], int], notifier: Notifier
) -> None:
    received, port = json_endpoint
    notifier.send(check_url(f"json://127.0.0.1:{port}/alerts"), DEPARTED)
    [request] = received
    assert f"\nShipment in Flexport: {FLEXPORT_URL}\n" in request["body"]["message"]


def test_no_flexport_link_anywhere_when_the_setting_is_empty(
    smtp: tuple[Inbox, int], json_endpoint: tuple[list[dict[str, Any]], int]
) -> None:
    inbox, port = smtp
    received, json_port = json_endpoint
    notifier = make_notifier(flexport_app_url="")

    notifier.send(check_url(mailto(port)), DEPARTED)
    notifier.send(check_url(f"json://127.0.0.1:{json_port}/alerts"), DEPARTED)
    slack = send_to_slack(notifier, DEPARTED)
    teams = send_to_teams(notifier, DEPARTED)

    [message] = inbox.messages()
    html_part = message.get_body(("html",))
    plain_part = message.get_body(("plain",))
    assert html_part is not None and plain_part is not None
    received_texts = {
        "email html": html_part.get_content(),
        "email text": plain_part.get_content(),
        "json": json.dumps(received[0]["body"]),
        "slack": json.dumps(slack),
        "teams": json.dumps(teams),
    }
    for channel, text in received_texts.items():
        assert "app.flexport.com" not in text, channel
        assert "in Flexport" not in text, channel
        assert "Shipment in flexhook" in text, channel  # the other links stay


# -- a destination that never answers (security review H3) ----------------------------------------

# More sends than Apprise's process-wide pool has threads (min(32, cores + 4)).
BEYOND_APPRISE_POOL = (os.cpu_count() or 1) + 5


@pytest.fixture
def tarpit() -> Iterator[Tarpit]:
    with Tarpit() as server:
        yield server


def test_sends_to_a_tarpit_time_out_and_never_hold_up_a_healthy_destination(
    json_endpoint: tuple[list[dict[str, Any]], int], tarpit: Tarpit
) -> None:
    received, port = json_endpoint
    no_breaker = SendLimits(deadline=0.5, breaker=DestinationBreaker(threshold=0))
    notifier = Notifier(Renderer(), limits=no_breaker, destination_allow=LOCAL)
    hung = check_url(f"json://127.0.0.1:{tarpit.port}/hook")
    healthy = check_url(f"json://127.0.0.1:{port}/alerts")

    for sent in range(1, BEYOND_APPRISE_POOL + 1):
        with pytest.raises(SendTimedOut, match="did not finish within"):
            notifier.send(hung, DEPARTED)
        notifier.send(healthy, DEPARTED)
        assert len(received) == sent

    assert tarpit.accepted == BEYOND_APPRISE_POOL
    assert no_breaker.overdue == BEYOND_APPRISE_POOL  # left to end with the tarpit's sockets


def test_a_destination_that_keeps_timing_out_is_skipped_without_being_tried(
    tarpit: Tarpit,
) -> None:
    limits = SendLimits(deadline=0.5, breaker=DestinationBreaker(threshold=2, cooldown=600))
    notifier = Notifier(Renderer(), limits=limits, destination_allow=LOCAL)
    hung = check_url(f"json://127.0.0.1:{tarpit.port}/hook")
    for _ in range(2):
        with pytest.raises(SendTimedOut):
            notifier.send(hung, DEPARTED)

    with pytest.raises(DestinationSkipped, match="the last 2 sends to this destination") as skip:
        notifier.send(hung, DEPARTED)

    assert str(skip.value).startswith(hung.privacy_url)
    assert notifier.skip_reason(hung) is not None
    assert tarpit.accepted == 2
