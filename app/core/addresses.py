"""Which network addresses a destination may reach, and what destinations added at run time
must keep to. Pure standard library: the DNS look-up is `notifications.guard`'s.

A destination whose host resolves to an internal address (loopback, RFC 1918, CGNAT, link-local
with the cloud metadata address, unique local, unspecified, multicast or reserved) is refused
unless `FLEXHOOK_DESTINATION_ALLOW` lists its host name or a network holding the address:

    FLEXHOOK_DESTINATION_ALLOW=10.0.0.0/8,mailpit,127.0.0.1
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

SETTING: Final = "FLEXHOOK_DESTINATION_ALLOW"
_CGNAT: Final = ipaddress.ip_network("100.64.0.0/10")
_NAT64: Final = ipaddress.ip_network("64:ff9b::/96")


class InvalidAllowlist(ValueError):
    """An entry of the allowlist is neither a network nor a host name; the message says which."""


@dataclass(frozen=True)
class AddressAllowlist:
    """Internal networks and host names destinations may reach all the same."""

    networks: tuple[Network, ...] = ()
    names: frozenset[str] = frozenset()

    def allows_name(self, host: str) -> bool:
        return normal_host(host) in self.names

    def allows_address(self, address: Address) -> bool:
        address = _unmapped(address)
        return any(address in network for network in self.networks)


# The default: no internal host at all.
NOTHING_INTERNAL: Final = AddressAllowlist()


def normal_host(host: str) -> str:
    """`Host.Example.` and `host.example` are one name; `[::1]` is `::1`."""
    return host.strip().strip("[]").rstrip(".").lower()


def parse_allowlist(text: str) -> AddressAllowlist:
    """`10.0.0.0/8,mailpit,127.0.0.1` (commas or spaces): networks (a bare address is one
    address) and host names. Empty: nothing internal is allowed."""
    networks: list[Network] = []
    names: set[str] = set()
    for entry in text.replace(",", " ").split():
        try:
            networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            continue
        except ValueError:
            pass
        name = normal_host(entry)
        if not name or any(not (c.isalnum() or c in "-.") for c in name) or "/" in entry:
            raise InvalidAllowlist(f"{entry!r} is neither a network (10.0.0.0/8) nor a host name")
        names.add(name)
    return AddressAllowlist(networks=tuple(networks), names=frozenset(names))


def _unmapped(address: Address) -> Address:
    """The IPv4 address an IPv6 one carries: `::ffff:127.0.0.1` (mapped), `2002:7f00:1::`
    (6to4) and `64:ff9b::7f00:1` (NAT64) all reach 127.0.0.1."""
    if not isinstance(address, ipaddress.IPv6Address):
        return address
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.ipv4_mapped or address.sixtofour or address


def internal_kind(address: Address) -> str | None:
    """What kind of internal address this is (`loopback`, `private`, ...), or None for a
    public one."""
    address = _unmapped(address)
    checks = (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),  # 169.254.169.254, the cloud metadata, too
        ("multicast", address.is_multicast),
        ("CGNAT", isinstance(address, ipaddress.IPv4Address) and address in _CGNAT),
        ("reserved", address.is_reserved),
        ("private", address.is_private),  # RFC 1918, ULA fc00::/7 and the like
        ("reserved", not address.is_global),  # documentation, benchmarking and the rest
    )
    return next((kind for kind, hit in checks if hit), None)


def refused_address(
    host: str, addresses: Iterable[Address], allowlist: AddressAllowlist
) -> tuple[Address, str] | None:
    """The first of `host`'s addresses a destination may not reach, with its kind; None when
    the host name is allowed or every address is public or allowed."""
    if allowlist.allows_name(host):
        return None
    for address in addresses:
        kind = internal_kind(address)
        if kind is not None and not allowlist.allows_address(address):
            return address, kind
    return None


def literal_address(host: str) -> Address | None:
    """The address `host` spells, if it is one (`127.0.0.1`, `[::1]`)."""
    try:
        return ipaddress.ip_address(normal_host(host))
    except ValueError:
        return None


@dataclass(frozen=True)
class DestinationRules:
    """What a destination added at run time must keep to: internal hosts only as
    `allowlist` allows (FLEXHOOK_DESTINATION_ALLOW), at most `max_recipients` recipients
    (FLEXHOOK_MAX_RECIPIENTS) and `max_subscriptions_per_shipment` subscriptions to one shipment
    (FLEXHOOK_MAX_SUBSCRIPTIONS_PER_SHIPMENT)."""

    allowlist: AddressAllowlist = AddressAllowlist()
    max_recipients: int = 200
    max_subscriptions_per_shipment: int = 20


DEFAULT_RULES: Final = DestinationRules()
