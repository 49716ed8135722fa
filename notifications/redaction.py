"""Keeping credentials out of Apprise's logs. Apprise logs through the `apprise` logger, and at
DEBUG and TRACE it logs raw configuration text, parsed URLs and webhook URLs whole; `REDACTOR`, a
filter on that logger, keeps those credentials out (`notifications.notifier` registers what to
mask while it parses and sends)."""

from __future__ import annotations

import logging
import re
import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Final
from urllib.parse import quote, unquote

import apprise


class _Redactor(logging.Filter):
    """A filter for the `apprise` logger that keeps credentials out of log records.

    - TRACE records are dropped: Apprise dumps parsed URLs whole in them, password included.
    - While a thread parses URLs or a configuration (`parsing`), its records below WARNING are
      dropped (Apprise logs a configuration's raw text at DEBUG) and the raw pieces of those
      URLs are masked in the rest (Apprise echoes values it rejects).
    - While sending (`sending`), the values Apprise marks private are masked in every record,
      whichever thread logs it: Apprise sends from its own worker threads. Registrations are
      counted so that concurrent sends to one destination do not unregister each other's.
    """

    MASK: Final = "****"

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._sending: Counter[str] = Counter()
        self._parsing: dict[int, frozenset[str]] = {}

    @contextmanager
    def sending(self, secrets: Iterable[str]) -> Iterator[None]:
        wanted = Counter({secret for secret in secrets if secret})
        with self._lock:
            self._sending.update(wanted)
        try:
            yield
        finally:
            with self._lock:
                self._sending.subtract(wanted)
                self._sending = +self._sending  # forget those at zero

    @contextmanager
    def parsing(self, secrets: Iterable[str]) -> Iterator[None]:
        thread = threading.get_ident()
        with self._lock:
            outer = self._parsing.get(thread)
            self._parsing[thread] = frozenset(secret for secret in secrets if secret) | (
                outer or frozenset()
            )
        try:
            yield
        finally:
            with self._lock:
                if outer is None:
                    del self._parsing[thread]
                else:
                    self._parsing[thread] = outer

    def redact(self, text: str, *, thread: int | None = None) -> str:
        """`text` with every secret known now (and those `thread` is parsing) masked."""
        with self._lock:
            known = set(self._sending) | self._parsing.get(thread or threading.get_ident(), set())
        for secret in sorted(known, key=len, reverse=True):  # longest first
            text = text.replace(secret, self.MASK)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.DEBUG:
            return False
        with self._lock:
            parsing = record.thread in self._parsing
        if parsing and record.levelno < logging.WARNING:
            return False
        message = record.getMessage()
        redacted = self.redact(message, thread=record.thread)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text, thread=record.thread)
        return True


REDACTOR: Final = _Redactor()
_URL_PART_RE: Final = re.compile(r"[/?#&=:@;,\s]+")
URL_IN_TEXT_RE: Final = re.compile(r"[a-z0-9]{1,32}://\S+", re.IGNORECASE)


def guard_apprise_logs() -> None:
    logging.getLogger(apprise.LOGGER_NAME).addFilter(REDACTOR)  # no-op when already there


def url_parts(url: str) -> set[str]:
    """Every piece of a raw URL that could be a secret, for while Apprise parses it.

    Broad on purpose: before parsing nobody knows which piece is the password or the token, and
    Apprise echoes rejected values in its warnings. Pieces shorter than four characters are left
    alone so that log lines stay readable.
    """
    rest = url.split("://", 1)[-1]
    address, _, query = rest.partition("?")
    pieces = _URL_PART_RE.split(address)
    pieces += [value for pair in query.split("&") for value in pair.split("=")[1:]]
    parts = {piece for piece in pieces if len(piece) >= 4 and not piece.isdigit()}
    return parts | {unquote(part) for part in parts}


def private_values(plugin: apprise.NotifyBase, url: str) -> set[str]:
    """What Apprise itself marks private in this plugin (passwords, tokens, signatures)."""
    names: set[str] = set()
    for table in (getattr(plugin, "template_tokens", {}), getattr(plugin, "template_args", {})):
        for name, spec in table.items():
            if isinstance(spec, dict) and spec.get("private"):
                names.add(spec.get("map_to", name))
    values: set[str] = {url}
    for name in names:
        value = getattr(plugin, name, None)
        items = value if isinstance(value, list | tuple | set | frozenset) else [value]
        values.update(item for item in items if isinstance(item, str) and item)
    return values | {quote(value, safe="") for value in values}
