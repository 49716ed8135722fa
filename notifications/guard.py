"""The address guard: a destination may not make the worker reach inside the network.

For every Apprise plugin whose URL names the host the worker connects to (json://, xml://,
form://, apprise://, ntfy:// on a server of its own, gotify://, mailto://'s SMTP server and the
like), that host is resolved and refused when any of its addresses is internal
(`app.core.addresses`) and not allowed by `FLEXHOOK_DESTINATION_ALLOW`. Plugins whose URL "host"
is a token (`slack://TokenA/...`, `discord://id/token`) reach their service's fixed public host
and are not looked up. Checked when a destination is added and again before each send: DNS can
change. Such plugins also stop following HTTP redirects (`harden`), so a public host cannot
send the worker on inside.
"""

from __future__ import annotations

import logging
import socket
from typing import Final

import apprise

from app.core.addresses import (
    SETTING,
    Address,
    AddressAllowlist,
    literal_address,
    normal_host,
    refused_address,
)

log = logging.getLogger(__name__)

# Plugins whose URL host is the sender's mail domain or account, while they post to the
# service's fixed API host.
_ACCOUNT_HOST_SCHEMES: Final = frozenset({"mailgun", "sparkpost", "smtp2go", "sendpulse", "wechat"})
_ADDRESS_FAMILIES: Final = (socket.AF_INET, socket.AF_INET6)
# Services whose URL does not choose the host they post to, each posting to its own fixed public
# API, that may be added at run time (API, dashboard, command line). Every other scheme whose URL
# does not name the host the worker connects to is for the operator-written configuration file
# only: desktop and syslog targets act on the worker's own machine, and some read an address or a
# file from a parameter (vapid's `subfile`, acs's endpoint in the path) that no host check sees.
RUN_TIME_SERVICES: Final = frozenset(
    {
        "slack", "msteams", "discord", "gchat", "tgram", "pover", "pbul", "opsgenie",
        "pagerduty", "pagertree", "splunk", "victorops", "signl4", "squadcast", "ilert",
        "incidentio", "webex", "wxteams", "zulip", "twilio", "sendgrid", "ses", "sns", "line",
        "whatsapp", "prowl", "psafer", "psafers", "ryver", "flock", "join", "dingtalk",
        "feishu", "lark", "wecombot", "cliq", "zcliq", "zohocliq", "guilded", "revolt",
        "twist", "spike", "zoom", "ntfy", "ntfys", "mailgun", "sparkpost", "smtp2go",
        "sendpulse",
    }
)  # fmt: skip
# The longest a send waits to connect, and for each read (`cto`/`rto` in a URL ask for more).
MAX_SOCKET_TIMEOUT_SECONDS: Final = 10.0


def schemes_of(plugin: apprise.NotifyBase) -> set[str]:
    """Every scheme `plugin` answers to (plain and secure), lower case."""
    found: set[str] = set()
    for value in (getattr(plugin, "protocol", None), getattr(plugin, "secure_protocol", None)):
        if isinstance(value, str):
            found.add(value.lower())
        elif isinstance(value, tuple | list):
            found.update(str(item).lower() for item in value)
    return found


def dialled_host(plugin: apprise.NotifyBase) -> str | None:
    """The host the plugin connects to when its URL chooses it, else None (a service's own
    fixed host)."""
    smtp_host = getattr(plugin, "smtp_host", None)
    if isinstance(smtp_host, str) and smtp_host:  # mailto://, mailtos://
        return smtp_host
    if schemes_of(plugin) & _ACCOUNT_HOST_SCHEMES or getattr(plugin, "mode", None) == "cloud":
        return None  # ntfy://topic posts to ntfy.sh
    templates = " ".join(str(template) for template in getattr(plugin, "templates", ()))
    host = getattr(plugin, "host", None)
    if "{host}" not in templates or not isinstance(host, str) or not host:
        return None
    return host


def guarded(plugin: apprise.NotifyBase) -> bool:
    """Whether the plugin's URL chooses the host it connects to."""
    return dialled_host(plugin) is not None


def run_time_refusal(plugin: apprise.NotifyBase) -> str | None:
    """Why `plugin` may not be added at run time (its URL does not name the host it reaches,
    and it is not a service of `RUN_TIME_SERVICES`); None when it may."""
    if guarded(plugin) or schemes_of(plugin) & RUN_TIME_SERVICES:
        return None
    scheme = min(schemes_of(plugin)) if schemes_of(plugin) else "this"
    return (
        f"{scheme}:// destinations are not added through the API, the dashboard or the command "
        "line (the host they reach is not checked); an operator can list one in the Apprise "
        "configuration file (FLEXHOOK_NOTIFY_CONFIG)"
    )


def harden(plugin: apprise.NotifyBase) -> apprise.NotifyBase:
    """`plugin` with its socket timeouts at most MAX_SOCKET_TIMEOUT_SECONDS whatever `rto`/`cto`
    its URL asks for (a tarpit holds a send that long at most), following no HTTP redirect when
    its URL chooses its host. Only for sending: a destination's id is computed before this."""
    connect, read = float(plugin.socket_connect_timeout), float(plugin.socket_read_timeout)
    plugin.socket_connect_timeout = min(connect, MAX_SOCKET_TIMEOUT_SECONDS)
    plugin.socket_read_timeout = min(read, MAX_SOCKET_TIMEOUT_SECONDS)
    if guarded(plugin):
        plugin.redirects = False
    return plugin


def resolve(host: str) -> list[Address]:
    """Every address `host` resolves to ([] when it does not resolve)."""
    literal = literal_address(host)
    if literal is not None:
        return [literal]
    try:
        found = socket.getaddrinfo(normal_host(host), None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return []
    addresses: list[Address] = []
    for family, _, _, _, sockaddr in found:
        if family in _ADDRESS_FAMILIES:
            address = literal_address(str(sockaddr[0]).split("%", 1)[0])
            if address is not None:
                addresses.append(address)
    return addresses


def refusal(plugin: apprise.NotifyBase, allowlist: AddressAllowlist) -> str | None:
    """Why the plugin may not send, when it would connect to an internal address `allowlist`
    does not allow (without naming the address); else None. A host that does not resolve
    passes: nothing is reached."""
    host = dialled_host(plugin)
    if host is None or allowlist.allows_name(host):
        return None
    refused = refused_address(host, resolve(host), allowlist)
    if refused is None:
        return None
    _, kind = refused
    log.warning("destination host %s refused: a %s address (%s)", host, kind, SETTING)
    return (
        "the destination's host is an internal address (loopback, private, link-local or "
        f"reserved); flexhook sends there only when {SETTING} lists that host or network"
    )
