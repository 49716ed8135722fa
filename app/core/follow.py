"""Following a shipment by email: what an address may be, how it is shown, how often it may be
asked for, and the Apprise URL a confirmed follower's alerts go to. Pure standard library.

A visitor of a tracking page asks to follow; flexhook mails a confirmation link (its token: 256
random bits, of which only the SHA-256 is kept); a confirmed address becomes an `external`
subscription whose Apprise URL is `FLEXHOOK_MAIL_URL` plus `to=<address>` and the RFC 8058
headers (`List-Unsubscribe`, `List-Unsubscribe-Post`), so that every alert mailed to it can be
left with one click.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Final
from urllib.parse import parse_qsl, quote, urlsplit

# The paths the links in the emails open: `<public url>/follow/confirm/<token>`, `.../unsubscribe/`.
CONFIRM_PATH: Final = "/follow/confirm/"
UNSUBSCRIBE_PATH: Final = "/follow/unsubscribe/"
# 32 random bytes, URL-safe base64: 43 characters (as share links').
TOKEN_BYTES: Final = 32
TOKEN_LENGTH: Final = 43
_TOKEN_RE: Final = re.compile(r"[A-Za-z0-9_-]{43}")
# What a follower hears of: the milestones, the ETA's moves, customs and exceptions (every kind).
FOLLOW_KINDS: Final = (
    "arrived",
    "customs",
    "delivered",
    "departed",
    "eta",
    "eta_missed",
    "exception",
)
MAX_ADDRESS_LENGTH: Final = 254  # RFC 5321's path limit, less the angle brackets
# One address, ASCII only: a dot-atom local part and a domain of at least two labels. No
# quoted local parts, comments, spaces, commas, angle brackets or control characters, so that
# nothing of it can become a second recipient or a header of its own.
_LOCAL_RE: Final = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
)
_LABEL_RE: Final = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_MAIL_SCHEMES: Final = frozenset({"mailto", "mailtos"})
# Query arguments of a mail URL that name recipients: FLEXHOOK_MAIL_URL may hold none of them.
_RECIPIENT_ARGUMENTS: Final = frozenset({"to", "cc", "bcc"})
ONE_CLICK: Final = "List-Unsubscribe=One-Click"


class InvalidAddress(ValueError):
    """Not one plain email address; the message says why and never repeats the input."""


class InvalidMailUrl(ValueError):
    """FLEXHOOK_MAIL_URL is not a `mailto://` or `mailtos://` URL without recipients."""


@dataclass(frozen=True)
class FollowLimits:
    """How often following may be asked for, counted in the database over `window` (so that every
    web process counts the same requests), and how long a confirmation link lives."""

    per_address: int = 3
    per_shipment: int = 20
    window: timedelta = timedelta(hours=1)
    confirm_within: timedelta = timedelta(hours=24)


def normalise_address(text: str) -> str:
    """`text` as one email address, the domain lower-cased; `InvalidAddress` for anything else:
    control characters (CR, LF: header injection), commas, spaces, angle brackets, more than one
    `@`, non-ASCII, or longer than 254 characters."""
    address = text.strip()
    if not address or len(address) > MAX_ADDRESS_LENGTH or not address.isascii():
        raise InvalidAddress("enter one email address, such as ana@example.com")
    local, at, domain = address.rpartition("@")
    labels = domain.split(".")
    if (
        not at
        or len(local) > 64
        or not _LOCAL_RE.fullmatch(local)
        or len(labels) < 2
        or not all(_LABEL_RE.fullmatch(label) for label in labels)
        or labels[-1].isdigit()
    ):
        raise InvalidAddress("enter one email address, such as ana@example.com")
    return f"{local}@{domain.lower()}"


def mask_address(address: str) -> str:
    """`a***@example.com`: what the audit trail and the logs show of a follower."""
    local, _, domain = address.rpartition("@")
    return f"{local[:1]}***@{domain}"


def new_token() -> str:
    """A fresh random token (256 bits) for a confirmation or an unsubscribe link."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def looks_like_token(text: str) -> bool:
    return _TOKEN_RE.fullmatch(text) is not None


def token_digest(token: str) -> str:
    """What is kept of a token: its hex SHA-256."""
    return hashlib.sha256(token.encode()).hexdigest()


def confirm_url(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}{CONFIRM_PATH}{token}"


def unsubscribe_url(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}{UNSUBSCRIBE_PATH}{token}"


def check_mail_url(url: str) -> str:
    """`url` if it is a `mailto://` or `mailtos://` URL naming no recipient (no `to`, `cc` or
    `bcc` argument, no address in its path); `InvalidMailUrl` otherwise. The message never
    repeats the URL, which holds the SMTP password."""
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in _MAIL_SCHEMES:
        raise InvalidMailUrl("must be an Apprise mailto:// or mailtos:// URL")
    arguments = {key.lower() for key, _ in parse_qsl(parts.query, keep_blank_values=True)}
    if arguments & _RECIPIENT_ARGUMENTS or parts.path.strip("/"):
        raise InvalidMailUrl(
            "must name no recipient (no to=, cc=, bcc= or address in its path): flexhook adds "
            "each follower's address itself"
        )
    if any(character in url for character in "\r\n"):
        raise InvalidMailUrl("must be one line")
    return url.strip()


def follower_mail_url(mail_url: str, address: str, *, unsubscribe: str | None = None) -> str:
    """The Apprise URL that mails `address` (already `normalise_address`d) through `mail_url`;
    with `unsubscribe`, the RFC 8058 headers that let the mail be left with one click (Apprise's
    email plugin takes `+Header=value` arguments as extra headers)."""
    separator = "&" if urlsplit(mail_url).query else "?"
    arguments = [f"to={quote(address, safe='@')}"]
    if unsubscribe is not None:
        arguments += [
            f"+List-Unsubscribe={quote(f'<{unsubscribe}>', safe='')}",
            f"+List-Unsubscribe-Post={quote(ONE_CLICK, safe='')}",
        ]
    return mail_url + separator + "&".join(arguments)
