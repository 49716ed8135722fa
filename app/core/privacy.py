"""How destinations and their errors are shown: flexhook's own privacy form, stricter than
Apprise's (which leaves json:// headers, GET parameters and paths in clear). Pure standard
library.
"""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import parse_qsl, quote, urlsplit

MASK: Final = "****"
# What a viewer reads instead of a destination's own error text, which can tell what answers
# where inside the network; operators and admins read the text itself.
VIEWER_ERROR: Final = "delivery failed"
_URL_IN_TEXT_RE: Final = re.compile(r"[a-z][a-z0-9+.-]{0,31}://[^\s\"'<>]+", re.IGNORECASE)


def privacy_form(url: str) -> str:
    """How a destination URL is shown: `scheme://host[:port]`, then `****` for each path
    segment, each query value and any user or password: `json://hooks.example/****?a=****`.

    Meant for a URL whose host is already safe to show (Apprise's privacy form masks a token
    that sits in the host, as in `slack://T...A/...`); applying it twice changes nothing."""
    scheme, _, rest = url.partition("://")
    if not rest:
        return MASK
    parts = urlsplit(f"x://{rest}")
    userinfo, at, address = parts.netloc.rpartition("@")
    shown = f"{scheme}://"
    if at:
        shown += MASK + (f":{MASK}" if ":" in userinfo else "") + "@"
    shown += address
    segments = [segment for segment in parts.path.split("/") if segment]
    shown += "".join(f"/{MASK}" for _ in segments) + ("/" if parts.path.endswith("/") else "")
    keys = [key for key, _ in parse_qsl(parts.query, keep_blank_values=True)]
    if keys:
        shown += "?" + "&".join(f"{quote(key, safe='')}={MASK}" for key in keys)
    return shown


def redacted_text(text: str) -> str:
    """`text` with every URL in it in privacy form."""
    return _URL_IN_TEXT_RE.sub(lambda match: privacy_form(match.group(0)), text)


def shown_error(text: str | None, *, full: bool) -> str | None:
    """A ledger row's error as a reader sees it: with `full` (operators, admins) the text with
    URLs in privacy form, otherwise only that delivery failed."""
    if not text:
        return text
    return redacted_text(text) if full else VIEWER_ERROR
