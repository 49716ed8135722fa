"""Ops alerts in words, per form: email (HTML, escaped), chat (Markdown, escaped), plain text."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.core import ops_alerts
from notifications.destinations import NotifyConfig
from notifications.notifier import check_url
from notifications.ops_notifier import OpsNotifier
from notifications.render import Renderer

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
FAILED = ops_alerts.event_failed(
    event_id="48262090",
    event_type="/shipment_leg#departed",
    shipment_id="418563",
    error="bad value <b>*soon*</b>_x_",
    failed_at=NOW,
)


def notifier(templates_dir: Path | None = None) -> OpsNotifier:
    return OpsNotifier(
        Renderer(templates_dir),
        config=NotifyConfig(None),
        public_url="http://flexhook.test/",
        temporal_ui_url="http://127.0.0.1:8233",
    )


def test_the_email_is_escaped_html_with_facts_and_links() -> None:
    destination = check_url("mailto://127.0.0.1:25?from=a@example.com&to=b@example.com")

    title, html = notifier().render(FAILED, destination)

    assert title == "flexhook: event 48262090 failed processing"
    assert "<b>*soon*</b>" not in html
    assert "&lt;b&gt;*soon*&lt;/b&gt;" in html
    assert "/shipment_leg#departed" in html
    assert "http://flexhook.test/dashboard/events/48262090" in html
    assert "http://127.0.0.1:8233/namespaces/default/workflows/flexport-event-48262090" in html


def test_the_chat_message_never_formats_what_it_quotes() -> None:
    destination = check_url("json://127.0.0.1:9/hook")
    chat = type(destination)(
        id=destination.id, url=destination.url, privacy_url=destination.privacy_url, form="chat"
    )

    _, markdown = notifier().render(FAILED, chat)

    assert r"\*soon\*" in markdown and r"\_x\_" in markdown
    assert "- **Shipment:** 418563" in markdown
    assert "[Event in flexhook](http://flexhook.test/dashboard/events/48262090)" in markdown


def test_plain_text_lists_the_facts_one_a_line() -> None:
    destination = check_url("json://127.0.0.1:9/hook")

    _, text = notifier().render(FAILED, destination)

    assert destination.form == "text"
    assert text.splitlines()[0].startswith("Event 48262090 (/shipment_leg#departed) could not")
    assert "Error: bad value <b>*soon*</b>_x_" in text
    assert "Event in flexhook: http://flexhook.test/dashboard/events/48262090" in text


def test_a_template_of_the_same_name_in_the_users_folder_wins(tmp_path: Path) -> None:
    (tmp_path / "text").mkdir()
    (tmp_path / "text" / "ops.txt").write_text("OPS {{ ops.key }}\n", encoding="utf-8")

    _, text = notifier(tmp_path).render(FAILED, check_url("json://127.0.0.1:9/hook"))

    assert text == "OPS event-failed:48262090"


def test_only_targets_tagged_ops_hear_ops_alerts(tmp_path: Path) -> None:
    path = tmp_path / "notifications.yml"
    path.write_text(
        "urls:\n"
        '  - "json://127.0.0.1:9/a":\n      tag: ops\n'
        '  - "json://127.0.0.1:9/b":\n      tag: departed, always\n'
        '  - "json://127.0.0.1:9/c":\n      tag: OPS, eta\n',
        encoding="utf-8",
    )
    ops = OpsNotifier(Renderer(), config=NotifyConfig(path))

    names = [d.url.split("?")[0].rsplit("/", 1)[-1] for d in ops.destinations()]
    assert names == ["a", "c"]


def test_an_ops_target_on_an_internal_address_is_refused_at_send_time(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "notifications.yml"
    # Port 9 (discard): were the guard not there, the send would fail differently (a refused
    # connection), and the log would not name the setting's refusal.
    path.write_text('urls:\n  - "json://127.0.0.1:9/ops":\n      tag: ops\n', encoding="utf-8")
    ops = OpsNotifier(Renderer(), config=NotifyConfig(path))

    with caplog.at_level(logging.WARNING, logger="notifications.ops_notifier"):
        assert ops.send(FAILED) is False

    assert "FLEXHOOK_DESTINATION_ALLOW" in caplog.text
