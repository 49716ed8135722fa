"""Who may do what: roles, named tokens and the words the audit trail uses. Pure standard
library: the store keeps tokens and the web layer asks these functions.

A token is `fxh_` and 43 URL-safe characters (256 random bits): the prefix lets secret scanners
recognise a leaked one. Only its SHA-256 is stored; a token of that much entropy needs no salt
or slow hash, and its digest finds its row.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Final


class Role(StrEnum):
    """What a token may do; each role may do everything the ones before it may."""

    VIEWER = "viewer"  # every read, API and dashboard
    OPERATOR = "operator"  # also redrives, subscriptions, recipients, reconcile
    ADMIN = "admin"  # also tokens and the audit trail


_RANK: Final = {Role.VIEWER: 0, Role.OPERATOR: 1, Role.ADMIN: 2}

TOKEN_PREFIX: Final = "fxh_"
# `FLEXHOOK_API_TOKEN`, the break-glass admin, must be at least this long.
MIN_ENVIRONMENT_TOKEN_LENGTH: Final = 32
# The audit trail's actors that are not a named token.
ENVIRONMENT_ADMIN: Final = "environment admin"  # whoever holds FLEXHOOK_API_TOKEN
SYSTEM: Final = "system"
NAME_PATTERN: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
_DURATION: Final = re.compile(r"^(\d{1,6})([mhdw])$")
_UNITS: Final = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class AccessError(ValueError):
    """A token's name, role or expiry cannot be used; the message says why."""


@dataclass(frozen=True)
class Actor:
    """Who is asking: a named token's name and role, or the environment admin."""

    name: str
    role: Role

    def may(self, needed: Role) -> bool:
        return allows(self.role, needed)


def allows(held: Role, needed: Role) -> bool:
    """Whether a token with role `held` may do what needs `needed`."""
    return _RANK[held] >= _RANK[needed]


def parse_role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        raise AccessError(f"role must be one of {[r.value for r in Role]}") from None


def check_name(name: str) -> str:
    """A token's name: a person or a machine, 1-64 letters, digits and `._@-`."""
    if not NAME_PATTERN.match(name) or name == ENVIRONMENT_ADMIN:
        raise AccessError("name must be 1-64 letters, digits, '.', '_', '@' or '-'")
    return name


def parse_expiry(value: str) -> timedelta:
    """`90d`, `12h`, `30m`, `2w`: how long a new token lives."""
    match = _DURATION.match(value.strip())
    if match is None or int(match.group(1)) == 0:
        raise AccessError("expires must be a positive count of m, h, d or w, e.g. 90d")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def new_token() -> str:
    """A fresh token, shown once."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """What is stored of a token (hex SHA-256), and how a presented one is looked up."""
    return hashlib.sha256(token.encode("utf-8", errors="replace")).hexdigest()


def last_four(token: str) -> str:
    return token[-4:]
