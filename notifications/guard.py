"""The address guard: a destination may not make the worker reach inside the network.

For every Apprise plugin whose URL names the host the worker connects to (json://, xml://,
form://, apprise://, ntfy:// on a server of its own, gotify://, mailto://'s SMTP server and the
like), that host is resolved and refused when any of its addresses is internal
(`app.core.addresses`) and not allowed by `FLEXHOOK_DESTINATION_ALLOW`. Plugins whose URL "host"
is a token (`slack://TokenA/...`, `discord://id/token`) reach their service's fixed public host
and are not looked up. Checked when a destination is added and again before each send: DNS can
change. Such plugins also stop following HTTP redirects (`plugin_for`), so a public host cannot
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
# Each address of a look-up is one (family, type, proto, canonname, sockaddr).
_ADDRESS_FAMILIES: Final = (socket.AF_INET, socket.AF_INET6)


class RefusedAddress(Exception):
    """The destination's host is internal and not allowed; the message says so without naming
    the address it resolved to."""


def _schemes(plugin: apprise.NotifyBase) -> set[str]:
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
    if _schemes(plugin) & _ACCOUNT_HOST_SCHEMES or getattr(plugin, "mode", None) == "cloud":
        return None  # ntfy://topic posts to ntfy.sh
    templates = " ".join(str(template) for template in getattr(plugin, "templates", ()))
    host = getattr(plugin, "host", None)
    if "{host}" not in templates or not isinstance(host, str) or not host:
        return None
    return host


def guarded(plugin: apprise.NotifyBase) -> bool:
    """Whether the plugin's URL chooses the host it connects to."""
    return dialled_host(plugin) is not None


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


def check_address(plugin: apprise.NotifyBase, allowlist: AddressAllowlist) -> None:
    """Raise `RefusedAddress` when the plugin would connect to an internal address that
    `allowlist` does not allow. A host that does not resolve passes: nothing is reached."""
    host = dialled_host(plugin)
    if host is None or allowlist.allows_name(host):
        return
    refused = refused_address(host, resolve(host), allowlist)
    if refused is None:
        return
    _, kind = refused
    log.warning("destination host %s refused: a %s address (%s)", host, kind, SETTING)
    raise RefusedAddress(
        "the destination's host is an internal address (loopback, private, link-local or "
        f"reserved); flexhook sends there only when {SETTING} lists that host or network"
    )
