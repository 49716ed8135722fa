"""Following by email, the pure rules: one plain address (nothing that becomes a header or a
second recipient), a mail URL that names no recipient, and the follower's Apprise URL with its
one recipient and RFC 8058 headers as Apprise's own email plugin reads them."""

from __future__ import annotations

import apprise
import pytest

from app.bootstrap import follow_config
from app.core.alert import Alert, Links
from app.core.follow import (
    InvalidAddress,
    InvalidMailUrl,
    check_mail_url,
    follower_mail_url,
    mask_address,
    normalise_address,
)
from app.settings import ConfigError, load_settings
from notifications.notifier import Notifier, check_url, plugin_for
from notifications.render import Renderer

MAIL_URL = "mailtos://flexhook:pa55word-not-shown@smtp.example.com?from=track@example.com"
LEAVE = "https://flexhook.example.com/follow/unsubscribe/" + "A" * 43


@pytest.mark.parametrize(
    "attempt",
    [
        "ana@example.com\r\nBcc: eve@evil.example",
        "ana@example.com\nBcc: eve@evil.example",
        "ana@example.com%0d%0aBcc:eve@evil.example",
        "ana@example.com,eve@evil.example",
        "ana@example.com eve@evil.example",
        "ana@example.com;eve@evil.example",
        "Ana <ana@example.com>",
        '"ana"@example.com',
        "ana@example.com&bcc=eve@evil.example",
        "ana@example.com?to=eve@evil.example",
        "ana@@example.com",
        "ana@localhost",
        "ana@127.0.0.1",
        "ána@example.com",
        "ana@example.com\x00",
        "a" * 65 + "@example.com",
        "ana@" + "b" * 250 + ".com",
        "",
    ],
)
def test_anything_but_one_plain_address_is_refused(attempt: str) -> None:
    with pytest.raises(InvalidAddress) as refused:
        normalise_address(attempt)
    assert attempt.strip() == "" or attempt not in str(refused.value)


def test_an_address_is_trimmed_and_its_domain_lower_cased_and_masked_for_the_logs() -> None:
    address = normalise_address("  Ana.Lopez+ship@Example.COM \t")

    assert address == "Ana.Lopez+ship@example.com"
    assert mask_address(address) == "A***@example.com"


@pytest.mark.parametrize(
    "url",
    [
        "mailto://smtp.example.com?to=ops@example.com",
        "mailto://smtp.example.com?from=a@example.com&CC=ops@example.com",
        "mailtos://smtp.example.com?bcc=ops@example.com",
        "mailto://user:pw@smtp.example.com/ops@example.com",
        "json://smtp.example.com",
        "https://smtp.example.com",
    ],
)
def test_the_mail_url_is_a_mailto_url_that_names_no_recipient(url: str) -> None:
    with pytest.raises(InvalidMailUrl) as refused:
        check_mail_url(url)
    assert url not in str(refused.value)


def test_a_bad_mail_url_is_a_config_error_that_does_not_repeat_the_password() -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings(FLEXHOOK_MAIL_URL=MAIL_URL + "&to=ops@example.com")

    assert "FLEXHOOK_MAIL_URL" in str(refused.value)
    assert "pa55word" not in str(refused.value)
    assert load_settings(FLEXHOOK_MAIL_URL=MAIL_URL).mail_url == MAIL_URL
    assert load_settings(FLEXHOOK_MAIL_URL="").mail_url is None
    assert "pa55word" not in repr(load_settings(FLEXHOOK_MAIL_URL=MAIL_URL))


def test_the_followers_url_mails_one_address_with_the_one_click_headers() -> None:
    url = follower_mail_url(MAIL_URL, "ana+ship@example.com", unsubscribe=LEAVE)

    plugin = apprise.Apprise.instantiate(url)
    assert plugin is not None
    assert list(getattr(plugin, "targets")) == [(False, "ana+ship@example.com")]  # noqa: B009
    assert getattr(plugin, "headers") == {  # noqa: B009
        "List-Unsubscribe": f"<{LEAVE}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    assert check_url(url).unsubscribe_url == LEAVE
    assert check_url(follower_mail_url(MAIL_URL, "ana@example.com")).unsubscribe_url == ""


def test_a_followers_alert_prints_the_unsubscribe_link_and_no_one_elses_does() -> None:
    alert = Alert(
        kind="departed",
        event_id="evt_1",
        event_type="shipment.leg_departed",
        shipment_id="418563",
        headline="Departed",
        occurred_at="2026-12-07T09:00:00+00:00",
    )
    renderer = Renderer()
    follower = check_url(follower_mail_url(MAIL_URL, "ana@example.com", unsubscribe=LEAVE))
    team = check_url(MAIL_URL + "&to=ops@example.com")
    notifier = Notifier(renderer)

    _, html = notifier._message(follower, plugin_for(follower.url), alert, notifier.links(alert))
    _, other = notifier._message(team, plugin_for(team.url), alert, notifier.links(alert))

    assert f'href="{LEAVE}"' in html
    assert "unsubscribe" not in other
    text = renderer.text(alert, Links(unsubscribe_url=LEAVE)).body
    assert text.endswith(f"To stop: {LEAVE}")


def test_following_is_on_with_a_mail_url_and_needs_the_public_url() -> None:
    assert follow_config(load_settings(FLEXHOOK_MAIL_URL="")) is None
    with pytest.raises(ConfigError, match="FLEXHOOK_PUBLIC_URL"):
        follow_config(load_settings(FLEXHOOK_MAIL_URL=MAIL_URL, FLEXHOOK_PUBLIC_URL=""))

    config = follow_config(
        load_settings(FLEXHOOK_MAIL_URL=MAIL_URL, FLEXHOOK_PUBLIC_URL="https://track.example.com")
    )

    assert config is not None and config.public_url == "https://track.example.com"
    assert "pa55word" not in repr(config)
