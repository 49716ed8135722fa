"""Notifier.send over real channels: a real SMTP server, Slack and Teams at the HTTP transport,
and a real HTTP server for json://."""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from notifications.notifier import DeliveryFailed, Notifier, check_url
from notifications.render import Renderer
from tests.alerts import DEPARTED, NAME
from tests.integration.harness import Inbox, free_port
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


@pytest.fixture
def notifier() -> Notifier:
    return Notifier(
        Renderer(),
        public_url="https://flexhook.example.com",
        temporal_ui_url="http://localhost:8233",
        namespace="default",
        timeout=10,
    )


def mailto(port: int) -> str:
    return f"mailto://127.0.0.1:{port}?from=flexhook@example.com&to=ops@example.com&mode=insecure"


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
        assert "https://flexhook.example.com/api/shipments/418563" in body
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


def slack_payload(call: Any) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads(call.request.body)
    return payload


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
    link = "<https://flexhook.example.com/api/shipments/418563|Shipment in flexhook>"
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
        f"workflows://{TEAMS_HOST}:443/{WORKFLOW_ID}/{SIGNATURE}/?pa=yes",
        f"https://{TEAMS_HOST}:443/powerautomate/automations/direct/workflows/{WORKFLOW_ID}"
        f"/triggers/manual/paths/invoke?api-version=2022-03-01-preview"
        f"&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={SIGNATURE}",
    ],
    ids=["workflows", "webhook-url"],
)
def test_teams_gets_an_adaptive_card_through_power_automate(notifier: Notifier, url: str) -> None:
    destination = check_url(url)
    assert destination.form == "chat"
    endpoint = re.compile(
        rf"https://{re.escape(TEAMS_HOST)}(:443)?/powerautomate/automations/direct"
        rf"/workflows/{WORKFLOW_ID}/triggers/manual/paths/invoke"
    )
    with responses.RequestsMock() as transport:
        transport.post(endpoint, status=202)
        notifier.send(destination, DEPARTED)
        [call] = transport.calls
    assert parse_qs(urlsplit(call.request.url).query)["sig"] == [SIGNATURE]
    card = json.dumps(json.loads(call.request.body), ensure_ascii=False)
    assert NAME in card
    assert "Departed" in card
    assert "Yantian, CN" in card


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
