"""The address guard, the timeout clamp and flexhook's privacy form (issue 17: H2, H3, L1):
a destination may not make the worker reach inside the network, hold a send for a day, or show
its credentials."""

from __future__ import annotations

import ipaddress

import pytest

from app.core.addresses import (
    AddressAllowlist,
    InvalidAllowlist,
    internal_kind,
    parse_allowlist,
    refused_address,
)
from app.core.privacy import VIEWER_ERROR, privacy_form, redacted_text, shown_error
from notifications.guard import MAX_SOCKET_TIMEOUT_SECONDS, dialled_host
from notifications.notifier import (
    InvalidDestination,
    Notifier,
    RefusedDestination,
    check_url,
    plugin_for,
)
from notifications.render import Renderer
from tests.alerts import DEPARTED

NOTHING = AddressAllowlist()
ALERT = DEPARTED


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("10.0.0.5", "private"),
        ("172.16.3.4", "private"),
        ("192.168.1.1", "private"),
        ("100.64.1.1", "CGNAT"),
        ("169.254.169.254", "link-local"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("::1", "loopback"),
        ("fd00::1", "private"),
        ("fe80::1", "link-local"),
        ("::ffff:127.0.0.1", "loopback"),
        ("2002:a00:5::1", "private"),  # 6to4 of 10.0.0.5
        ("64:ff9b::a9fe:a9fe", "link-local"),  # NAT64 of 169.254.169.254
        ("8.8.8.8", None),
        ("2606:4700::1111", None),
    ],
)
def test_internal_addresses_are_told_apart_from_public_ones(address: str, kind: str | None) -> None:
    assert internal_kind(ipaddress.ip_address(address)) == kind


def test_the_allowlist_takes_networks_addresses_and_host_names() -> None:
    allowlist = parse_allowlist("10.0.0.0/8, mailpit,127.0.0.1 Relay.Internal.")

    assert allowlist.allows_name("MAILPIT") and allowlist.allows_name("relay.internal")
    assert allowlist.allows_address(ipaddress.ip_address("10.2.3.4"))
    assert allowlist.allows_address(ipaddress.ip_address("::ffff:127.0.0.1"))
    assert not allowlist.allows_address(ipaddress.ip_address("127.0.0.2"))
    assert parse_allowlist("") == NOTHING
    with pytest.raises(InvalidAllowlist, match="neither a network"):
        parse_allowlist("10.0.0.0/8,http://evil/")


def test_a_host_with_one_internal_address_among_public_ones_is_refused() -> None:
    addresses = [ipaddress.ip_address("8.8.8.8"), ipaddress.ip_address("10.0.0.9")]

    assert refused_address("both.example", addresses, NOTHING) == (addresses[1], "private")
    assert refused_address("both.example", addresses, parse_allowlist("both.example")) is None


@pytest.mark.parametrize(
    "url",
    [
        # H2's probe: an "internal admin API" on loopback, any method, headers and body keys.
        "json://127.0.0.1:9999/admin/purge?method=DELETE&+X-Internal-Auth=x&:reason=pwn",
        "json://127.0.0.1:1/?method=GET",
        "json://localhost/x",
        "xml://169.254.169.254/latest/api/token?method=PUT",
        "form://[::1]:8080/",
        "jsons://100.64.0.7/hook",
        "json://2130706433/",  # 127.0.0.1 spelt as a number
        "apprise://10.0.0.5/key",
        "ntfy://192.168.1.20/topic",
        "gotify://[fd00::2]/token",
        "mailto://user:pw@example.com?smtp=10.0.0.25&to=ops@example.com",
    ],
)
def test_a_destination_at_an_internal_address_is_refused_naming_the_setting(url: str) -> None:
    with pytest.raises(RefusedDestination, match="FLEXHOOK_DESTINATION_ALLOW") as refused:
        check_url(url, allowlist=NOTHING)

    assert isinstance(refused.value, InvalidDestination)  # permanent: never retried


def test_the_allowlist_lets_an_internal_destination_through() -> None:
    allow = parse_allowlist("127.0.0.1,10.0.0.0/8")

    check_url("json://127.0.0.1:9999/hook", allowlist=allow)
    check_url("mailto://user:pw@example.com?smtp=10.0.0.25&to=ops@example.com", allowlist=allow)
    check_url("json://localhost/x", allowlist=parse_allowlist("localhost"))


@pytest.mark.parametrize(
    "url",
    [
        "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ",
        "discord://4174216298/JHMHI8qBe7bk2ZwO5U711o3dV_js",
        "ntfy://flexhook-alerts",  # ntfy.sh's own topic
        "mailgun://noreply@localhost/apikey/ops@example.com",  # the sender's domain, not a host
    ],
)
def test_services_whose_url_host_is_a_token_are_not_looked_up(url: str) -> None:
    plugin = plugin_for(url)

    assert dialled_host(plugin) is None
    check_url(url, allowlist=NOTHING)


@pytest.mark.parametrize(
    "url",
    [
        # Reads a file or URL named in a parameter: the worker would fetch the metadata service.
        "vapid://me@example.com/abc?subfile=http://169.254.169.254/latest/meta-data/",
        "vapid://me@example.com/abc?subfile=/etc/passwd",
        # Azure Communication Services: the endpoint host sits in the path.
        "acs://me@example.com/a2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2s=/metadata.google.internal/x@example.com",
        "syslog://",  # the worker's own machine
    ],
)
def test_schemes_whose_url_does_not_name_the_host_they_reach_are_not_added_at_run_time(
    url: str,
) -> None:
    plugin_for(url)  # Apprise takes them: an operator may list them in the configuration file

    with pytest.raises(RefusedDestination, match="FLEXHOOK_NOTIFY_CONFIG"):
        check_url(url, allowlist=parse_allowlist("0.0.0.0/0,::/0"))


def test_the_smtp_host_is_what_a_mailto_url_dials() -> None:
    assert dialled_host(plugin_for("mailtos://user:pw@gmail.com")) == "smtp.gmail.com"
    assert dialled_host(plugin_for("mailto://u:p@example.com?smtp=relay.example")) == (
        "relay.example"
    )


def test_sending_checks_the_address_again_and_refuses_for_good() -> None:
    """DNS can change after a destination was added: the send looks again."""
    destination = check_url("json://127.0.0.1:9/hook")  # added before the guard, say

    with pytest.raises(RefusedDestination, match="FLEXHOOK_DESTINATION_ALLOW") as refused:
        Notifier(Renderer()).send(destination, ALERT)
    assert "127.0.0.1" not in str(refused.value)  # the reason does not tell what it resolved to


def test_url_timeouts_are_clamped_and_guarded_plugins_follow_no_redirect() -> None:
    """H3's probe: `?rto=86400` would hold a send (and a pool thread) for a day."""
    plugin = plugin_for("json://hooks.example.test/?rto=86400&cto=99")

    assert plugin.socket_read_timeout == MAX_SOCKET_TIMEOUT_SECONDS
    assert plugin.socket_connect_timeout == MAX_SOCKET_TIMEOUT_SECONDS
    assert plugin.redirects is False
    email = plugin_for("mailto://user:pw@example.com")  # Apprise's default connect is 15 s
    assert email.socket_connect_timeout <= MAX_SOCKET_TIMEOUT_SECONDS
    assert plugin_for("json://hooks.example.test/?rto=2").socket_read_timeout == 2


def test_clamping_does_not_change_a_destinations_id() -> None:
    """Ledger rows and recipients are keyed by the id: it stays what it was."""
    destination = check_url("mailto://user:pw@example.com?to=ops@example.com")
    assert destination.id == "url-" + _id_before_the_clamp(destination.url)


def _id_before_the_clamp(url: str) -> str:
    import hashlib

    import apprise

    plugin = apprise.Apprise.instantiate(url)
    assert plugin is not None
    return hashlib.sha256(plugin.url(privacy=False).encode()).hexdigest()[:16]  # type: ignore[no-untyped-call]


def test_the_privacy_form_hides_headers_parameters_paths_and_users() -> None:
    """L1's probe: Apprise's own privacy form shows json:// header values in clear."""
    url = "json://user:pw@hooks.example.test:8443/x/y?+Authorization=Bearer%20SECRET123&-p=s3c"

    shown = check_url(url).privacy_url

    assert "SECRET123" not in shown and "s3c" not in shown and "pw" not in shown
    assert shown.startswith("json://****:****@hooks.example.test:8443/****/****?")
    assert privacy_form(shown) == shown
    slack = check_url("slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ").privacy_url
    assert "T1JJ3T3L2" not in slack and "TIiajkdnlazkcOXrIdevi7FQ" not in slack


def test_viewers_read_that_delivery_failed_and_operators_the_redacted_text() -> None:
    text = "json://h.example/x?+Auth=SECRET9: A Connection error occurred sending to 10.0.0.5."

    assert shown_error(text, full=False) == VIEWER_ERROR
    assert shown_error(None, full=False) is None
    full = shown_error(text, full=True)
    assert full is not None and "SECRET9" not in full and "10.0.0.5" in full
    assert redacted_text("no url here") == "no url here"
