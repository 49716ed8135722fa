"""Rendering alerts: every kind in every form, times at the place, links, escaping per channel,
user overrides."""

from __future__ import annotations

import dataclasses
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from jinja2 import UndefinedError

from app.core.alert import KINDS, Alert, Links
from notifications.render import (
    Renderer,
    hours,
    local_time,
    markdown_text,
    slack_text,
    utc_time,
)
from tests.alerts import DEPARTED, NAME

LINKS = Links(
    shipment_url="https://flexhook.example.com/dashboard/shipments/418563",
    workflow_url="http://localhost:8233/namespaces/default/workflows/flexport-event-48262090",
    flexport_url="https://app.flexport.com/shipments/418563",
)
TRACKING = "https://flexhook.example.com/track/" + "A" * 43
TEMPLATES = Path(__file__).parents[2] / "notifications" / "templates"

# What sample 06_leg_departed.json becomes: shipment 418563 left Yantian at 21:20 local time.
ETA = dataclasses.replace(
    DEPARTED,
    kind="eta",
    event_id="48290377",
    event_type="/shipment_leg#updated_estimated_time_of_arrival",
    headline="ETA moved",
    occurred_at="2026-03-05T17:44:09.930000+00:00",
    estimated_arrival="2026-03-14T21:00:00+00:00",
    previous_estimated_arrival="2026-03-13T15:00:00+00:00",
    eta_shift_hours=30.0,
)
LOCAL = "2026-02-26 21:20 CST (UTC+08:00)"
UTC = "2026-02-26 13:20 UTC"


@pytest.fixture
def renderer() -> Renderer:
    return Renderer()


def visible_text(html: str) -> str:
    """The text a reader sees, tags dropped and entities decoded."""

    class Collector(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.chunks: list[str] = []

        def handle_data(self, data: str) -> None:
            self.chunks.append(data)

    collector = Collector()
    collector.feed(html)
    return " ".join(" ".join(collector.chunks).split())


def read_markdown(markdown: str) -> str:
    """The text a CommonMark reader sees of escaped text: each backslash escape undone."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", markdown)


def test_filters_format_times_and_shifts() -> None:
    assert local_time("2026-02-26T13:20:00+00:00", "Asia/Shanghai") == LOCAL
    assert local_time("2026-02-26T13:20:00Z", "America/Los_Angeles") == (
        "2026-02-26 05:20 PST (UTC-08:00)"
    )
    assert utc_time("2026-02-26T21:20:00+08:00") == UTC
    # No zone, or one zoneinfo does not know: the UTC time, never a failed alert.
    assert local_time("2026-02-26T13:20:00+00:00", None) == UTC
    assert local_time("2026-02-26T13:20:00+00:00", "Mars/Olympus_Mons") == UTC
    assert [hours(h) for h in (30.0, -26.0, 1.5, 0.04)] == ["+30 h", "-26 h", "+1.5 h", "0 h"]


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_names_shipment_place_and_times_in_every_form(
    renderer: Renderer, kind: str
) -> None:
    alert = dataclasses.replace(ETA if kind == "eta" else DEPARTED, kind=kind)
    email = renderer.email(alert, LINKS)
    chat = renderer.chat(alert, LINKS)
    slack = renderer.chat(alert, LINKS, dialect="slack")
    text = renderer.text(alert, LINKS)
    bodies = (visible_text(email.html), read_markdown(chat.markdown), text.body)
    for body in bodies:
        assert NAME in body
        assert "418563" in body
        assert alert.headline in body
        assert "Yantian, CN" in body
        assert LINKS.flexport_url in body
        assert LINKS.shipment_url in body
    for body in (visible_text(email.html), text.body):
        assert LINKS.workflow_url in body
    for markdown in (chat.markdown, slack.markdown):
        assert f"[Workflow in Temporal]({LINKS.workflow_url})" in markdown
    occurred = alert.occurred_at
    for body in bodies:
        assert local_time(occurred, "Asia/Shanghai") in body
        assert utc_time(occurred) in body
    assert email.subject == chat.title == text.title
    assert NAME in email.subject
    assert "\n" not in email.subject


def test_departed_wording(renderer: Renderer) -> None:
    text = renderer.text(DEPARTED, LINKS)
    assert text.title == f"Departed Yantian, CN — {NAME} (418563)"
    assert text.body.splitlines()[0] == f"{NAME} (418563) departed Yantian, CN on {LOCAL}."
    assert f"When: {LOCAL} / {UTC}" in text.body
    assert "ETA: 2026-03-13 15:00 UTC" in text.body
    chat = renderer.chat(DEPARTED, LINKS)
    # "#" and the parentheses are escaped: CommonMark readers show them as they are.
    name = r"SS26 Apparel - Yantian to LA \#3 \(418563\)"
    local = r"2026-02-26 21:20 CST \(UTC+08:00\)"
    assert chat.markdown.startswith(f"**{name}** departed Yantian, CN on {local}.")
    assert f"- **When:** {local} · {UTC}" in chat.markdown


def test_eta_alert_says_old_new_and_signed_shift(renderer: Renderer) -> None:
    move = "2026-03-13 15:00 UTC → 2026-03-14 21:00 UTC (+30 h)"
    text = renderer.text(ETA, LINKS)
    assert text.title == f"ETA moved +30 h — {NAME} (418563)"
    assert f"ETA: {move}" in text.body
    assert f"- **ETA:** {move}" in read_markdown(renderer.chat(ETA, LINKS).markdown)
    assert move in visible_text(renderer.email(ETA, LINKS).html)
    earlier = dataclasses.replace(ETA, eta_shift_hours=-26.0)
    assert "ETA moved -26 h" in renderer.text(earlier, LINKS).title


def test_every_form_links_the_shipment_in_flexport_first(renderer: Renderer) -> None:
    flexport = LINKS.flexport_url
    assert renderer.chat(DEPARTED, LINKS).markdown.endswith(
        f"[Shipment in Flexport]({flexport}) · [Shipment in flexhook]({LINKS.shipment_url})"
        f" · [Workflow in Temporal]({LINKS.workflow_url})"
    )
    assert (
        f"[Shipment in Flexport]({flexport}) · "
        in renderer.chat(DEPARTED, LINKS, dialect="slack").markdown
    )
    text = renderer.text(DEPARTED, LINKS).body
    assert f"\n\nShipment in Flexport: {flexport}\nShipment in flexhook: " in text
    html = renderer.email(DEPARTED, LINKS).html
    assert f'<a href="{flexport}" style="color:#1d4ed8;">{flexport}</a>' in html
    assert html.index(flexport) < html.index(LINKS.shipment_url)


def test_every_form_offers_the_tracking_page_first(renderer: Renderer) -> None:
    links = dataclasses.replace(LINKS, tracking_url=TRACKING)
    chat = renderer.chat(DEPARTED, links).markdown
    assert f"\n\n[Track this shipment]({TRACKING}) · [Shipment in Flexport](" in chat
    text = renderer.text(DEPARTED, links).body
    assert f"\n\nTrack this shipment: {TRACKING}\nShipment in Flexport: " in text
    html = renderer.email(DEPARTED, links).html
    assert f'<a href="{TRACKING}" style="color:#1d4ed8;">{TRACKING}</a>' in html
    assert "Track this shipment" in visible_text(html)
    assert html.index(TRACKING) < html.index(LINKS.flexport_url)
    alone = Links(tracking_url=TRACKING)
    assert renderer.chat(DEPARTED, alone).markdown.endswith(
        f"\n\n[Track this shipment]({TRACKING})"
    )
    assert renderer.text(DEPARTED, alone).body.endswith(f"\n\nTrack this shipment: {TRACKING}")


def test_links_are_left_out_when_unknown(renderer: Renderer) -> None:
    text = renderer.text(DEPARTED, Links()).body
    chat = renderer.chat(DEPARTED, Links()).markdown
    html = renderer.email(DEPARTED, Links()).html
    for body in (text, chat, html):
        assert "in Flexport" not in body and "flexhook:" not in body and "Temporal" not in body
    assert "](" not in chat
    assert "href" not in html
    only_shipment = Links(shipment_url=LINKS.shipment_url)
    assert renderer.chat(DEPARTED, only_shipment).markdown.endswith(
        f"\n\n[Shipment in flexhook]({LINKS.shipment_url})"
    )
    only_flexport = Links(flexport_url=LINKS.flexport_url)
    assert renderer.chat(DEPARTED, only_flexport).markdown.endswith(
        f"\n\n[Shipment in Flexport]({LINKS.flexport_url})"
    )
    assert renderer.text(DEPARTED, only_flexport).body.endswith(
        f"\n\nShipment in Flexport: {LINKS.flexport_url}"
    )


def test_alert_without_name_place_or_zone_still_renders(renderer: Renderer) -> None:
    bare = Alert(
        kind="exception",
        event_id="1",
        event_type="/exception#created",
        shipment_id="418563",
        headline="Delay",
        occurred_at="2026-02-26T13:20:00+00:00",
    )
    text = renderer.text(bare, Links())
    assert text.title == "Exception: Delay — Shipment 418563"
    assert f"When: {UTC}" in text.body
    assert "Where" not in text.body and "ETA" not in text.body


def test_html_escapes_shipment_name_while_text_does_not(renderer: Renderer) -> None:
    evil = dataclasses.replace(DEPARTED, shipment_name='<script>alert("x")</script> & co')
    html = renderer.email(evil, LINKS).html
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; co" in html
    text = renderer.text(evil, LINKS)
    assert '<script>alert("x")</script> & co' in text.body
    assert "&lt;" not in text.body and "&lt;" not in text.title
    # The subject is a header, not HTML: left as is.
    assert renderer.email(evil, LINKS).subject.endswith('<script>alert("x")</script> & co (418563)')


def test_html_has_no_external_assets(renderer: Renderer) -> None:
    html = renderer.email(DEPARTED, LINKS).html
    assert "<link" not in html and "<img" not in html and "<style" not in html
    assert "src=" not in html and "url(" not in html


def test_rendering_is_deterministic(renderer: Renderer) -> None:
    assert renderer.email(ETA, LINKS) == Renderer().email(ETA, LINKS)
    assert renderer.chat(ETA, LINKS) == renderer.chat(ETA, LINKS)


def test_user_template_wins_and_the_rest_stay_packaged(tmp_path: Path) -> None:
    (tmp_path / "chat").mkdir()
    (tmp_path / "chat" / "departed.md").write_text(
        "Off it goes: {{ alert.shipment_name }} from {{ alert|place }}\n"
    )
    renderer = Renderer(tmp_path)
    assert renderer.chat(DEPARTED, LINKS).markdown == f"Off it goes: {NAME} from Yantian, CN"
    assert renderer.chat(ETA, LINKS).markdown.startswith("The estimated arrival of")
    assert renderer.text(DEPARTED, LINKS).body.startswith(f"{NAME} (418563) departed")


def test_user_override_can_reuse_packaged_layout(tmp_path: Path) -> None:
    (tmp_path / "text").mkdir()
    (tmp_path / "text" / "arrived.txt").write_text(
        '{% extends "text/layout.txt" %}\n'
        "{% block lede %}Landed: {{ alert.place_name }}{% endblock %}\n"
    )
    arrived = dataclasses.replace(DEPARTED, kind="arrived", headline="Arrived")
    body = Renderer(tmp_path).text(arrived, LINKS).body
    assert body.startswith("Landed: Yantian\n\nShipment: ")


def test_unknown_variable_in_a_template_raises(tmp_path: Path) -> None:
    (tmp_path / "chat").mkdir()
    (tmp_path / "chat" / "departed.md").write_text("{{ alert.shipment_name }} {{ vessel_name }}\n")
    with pytest.raises(UndefinedError, match="vessel_name"):
        Renderer(tmp_path).chat(DEPARTED, LINKS)


def test_missing_templates_dir_is_refused(tmp_path: Path) -> None:
    with pytest.raises(NotADirectoryError):
        Renderer(tmp_path / "nope")


# Shipment names are typed by people; these must reach every channel as text.
LESS_THAN = "Calais < UK // Part #03"
SLACK_LINK = "<https://example.com|click here>"


@pytest.mark.parametrize(
    ("value", "escaped"),
    [
        (LESS_THAN, r"Calais \< UK // Part \#03"),
        (SLACK_LINK, r"\<https://example.com|click here\>"),
        ("[click](https://example.com)", r"\[click\]\(https://example.com\)"),
        ("Smith & Co | *rush* `x`", r"Smith & Co | \*rush\* \`x\`"),
        # Slack never formats an underscore or tilde inside a word: left as typed.
        ("PO_1234_A ~5 _italic_ ~struck~", r"PO_1234_A \~5 \_italic\_ \~struck\~"),
        ("back\\slash", r"back\\slash"),
        ("one\n> two\n\n# three", r"one \> two \# three"),
    ],
)
def test_slack_text_escapes_what_apprise_or_slack_would_read_as_markup(
    value: str, escaped: str
) -> None:
    assert slack_text(value) == escaped


@pytest.mark.parametrize(
    ("value", "escaped"),
    [
        (LESS_THAN, r"Calais \< UK // Part \#03"),
        (SLACK_LINK, r"\<https://example.com\|click here\>"),
        ("[click](https://example.com)", r"\[click\]\(https://example.com\)"),
        ("*bold* _it_ PO_1 `code` ~~no~~", r"\*bold\* \_it\_ PO\_1 \`code\` \~\~no\~\~"),
        ("<at>boss</at>", r"\<at\>boss\</at\>"),
        # & matters only where it starts an entity.
        ("Smith & Co &amp; &#60;", r"Smith & Co \&amp; \&\#60;"),
        ("back\\slash", r"back\\slash"),
        # A value never opens a block, wherever a template puts it.
        ("one\n> two\n\n# three", r"one \> two \# three"),
        ("- item", r"\- item"),
        ("1. first", r"1\. first"),
        ("---", r"\---"),
        ("+30 h", "+30 h"),
        ("-26 h", "-26 h"),
    ],
)
def test_markdown_text_escapes_every_markdown_control_character(value: str, escaped: str) -> None:
    assert markdown_text(value) == escaped
    assert read_markdown(escaped) == " ".join(value.split())


def test_chat_escapes_event_data_for_each_dialect_but_not_our_links(renderer: Renderer) -> None:
    alert = dataclasses.replace(
        DEPARTED, shipment_name=SLACK_LINK, headline="Departed *early*", place_name="[Yantian]"
    )
    markdown = renderer.chat(alert, LINKS).markdown
    assert markdown.startswith(
        r"**\<https://example.com\|click here\> \(418563\)** departed \[Yantian\], CN on "
    )
    assert r"- **What:** Departed \*early\*" in markdown
    slack = renderer.chat(alert, LINKS, dialect="slack").markdown
    assert slack.startswith(
        r"**\<https://example.com|click here\> \(418563\)** departed \[Yantian\], CN on "
    )
    for body in (markdown, slack):
        # The only links are ours.
        assert re.findall(r"(?<!\\)\[([^\]]*)\]\(", body) == [
            "Shipment in Flexport",
            "Shipment in flexhook",
            "Workflow in Temporal",
        ]
        assert not re.search(r"(?<!\\)<", body)  # no < but escaped ones
    # The title is plain text; the notifier escapes it where a service reads it as Markdown.
    assert renderer.chat(alert, LINKS).title.endswith(f"— {SLACK_LINK} (418563)")


def test_every_value_in_the_packaged_chat_templates_is_escaped() -> None:
    for path in sorted((TEMPLATES / "chat").glob("*.md")):
        text = path.read_text()
        for printed in re.finditer(r"\{\{(.*?)\}\}", text):
            value = printed[1].strip()
            escaped = value.endswith("|chat_text")
            # Link targets flexhook builds: tracking links, and its inbox's pages (public URL
            # plus an integer id, `app.core.digest.seen_by`).
            ours = ("url", "problem.url", "digest.inbox_url")
            link_url = text[printed.start() - 2 : printed.start()] == "](" and value in ours
            separator = re.fullmatch(r'"[^"]*" if not loop\.first else ""', value)
            assert escaped or link_url or separator, f"{path.name}: {printed[0]}"


def test_html_puts_event_data_in_text_only_and_escapes_attributes(renderer: Renderer) -> None:
    class Attributes(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.found: list[tuple[str, str]] = []

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            self.found += [(name, value or "") for name, value in attrs]

    evil = dataclasses.replace(DEPARTED, shipment_name='x" onclick="alert(1)', place_name="<b>")
    odd = Links(flexport_url='https://app.flexport.com/shipments/1"><b>')
    html = renderer.email(evil, odd).html
    assert "<b>" not in html
    assert 'href="https://app.flexport.com/shipments/1&#34;&gt;&lt;b&gt;"' in html
    parser = Attributes()
    parser.feed(html)
    assert [value for name, value in parser.found if name == "href"] == [odd.flexport_url]
    assert not [value for _name, value in parser.found if "onclick" in value]
    assert "onclick" not in {name for name, _value in parser.found}


def test_user_chat_template_can_use_the_escaping_filters(tmp_path: Path) -> None:
    (tmp_path / "chat").mkdir()
    (tmp_path / "chat" / "departed.md").write_text(
        "{{ alert.shipment_name|chat_text }} / {{ alert.shipment_name|slack_text }}"
        " / {{ alert.shipment_name|markdown_text }}\n"
    )
    renderer = Renderer(tmp_path)
    alert = dataclasses.replace(DEPARTED, shipment_name="a_b *c*")
    assert renderer.chat(alert, LINKS).markdown == r"a\_b \*c\* / a_b \*c\* / a\_b \*c\*"
    assert renderer.chat(alert, LINKS, dialect="slack").markdown == (
        r"a_b \*c\* / a_b \*c\* / a\_b \*c\*"
    )
