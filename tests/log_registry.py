"""A watch on everything logged during the test session: no secret and no whole payload.

Tests register what must never be logged (`register_secret`: webhook secrets, API tokens, Apprise
credentials; `register_payload`: the exact bodies posted). `LogRegistry.handler` keeps every log
record it sees, formatted with its traceback, and `leaks()` names the records that contain a
registered value. The root `tests/conftest.py` has the default registry `watch` every logger for
the whole session and fails the run when `leaks()` is not empty.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote, quote_plus

# Shorter values would match ordinary words; a secret this short is a test bug in itself.
MIN_SECRET_CHARS = 6
# Shorter bodies are too close to ordinary log lines (an id, a type) to call a match a leak.
MIN_PAYLOAD_CHARS = 200

_FORMAT = logging.Formatter("%(message)s")


def mask(value: str) -> str:
    """`value` as a report may show it: enough to recognise, not enough to use."""
    return f"{value[:3]}…({len(value)} chars)"


@dataclass(frozen=True)
class Leak:
    kind: Literal["secret", "payload"]
    label: str  # what leaked, masked
    logger: str
    level: str
    records: int  # how many records held it

    def __str__(self) -> str:
        return (
            f"{self.kind} {self.label} in {self.records} record(s) of logger "
            f"{self.logger!r} at {self.level}"
        )


class _Keeper(logging.Handler):
    """Keeps each record as (logger, level, formatted text with traceback and stack)."""

    def __init__(self, registry: LogRegistry) -> None:
        super().__init__(level=1)
        self._registry = registry

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = _FORMAT.format(record)
        except Exception:  # a bad format string must not hide what was passed
            text = f"{record.msg!r} % {record.args!r}"
        self._registry._keep(record.name, record.levelname, text)


class LogRegistry:
    """Registered secrets and payloads, and the records to search for them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._secrets: dict[str, str] = {}  # needle -> masked label
        self._payloads: dict[str, str] = {}
        self._records: Counter[tuple[str, str, str]] = Counter()  # (logger, level, text)
        self.handler: logging.Handler = _Keeper(self)

    def register_secret(self, value: str) -> None:
        """`value` must appear in no log record, as is or percent-encoded."""
        if len(value) < MIN_SECRET_CHARS:
            raise ValueError(f"a secret to watch for needs {MIN_SECRET_CHARS}+ characters")
        label = mask(value)
        with self._lock:
            for needle in {value, quote(value, safe=""), quote_plus(value, safe="")}:
                self._secrets[needle] = label

    def register_payload(self, body: bytes | str) -> None:
        """The whole of `body` must appear in no log record (as text, bytes repr, or re-encoded
        JSON). Bodies under `MIN_PAYLOAD_CHARS` are not watched."""
        raw = body if isinstance(body, bytes) else body.encode("utf-8", errors="surrogatepass")
        forms = {repr(raw)[2:-1]}
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        if text is not None:
            forms.add(text)
            try:
                parsed = json.loads(text)
            except (ValueError, RecursionError):
                parsed = None
            if isinstance(parsed, dict | list):
                forms |= {repr(parsed), json.dumps(parsed), json.dumps(parsed, ensure_ascii=False)}
        label = mask(text if text is not None else repr(raw))
        with self._lock:
            for form in forms:
                if len(form) >= MIN_PAYLOAD_CHARS:
                    self._payloads.setdefault(form, f"body {label}")

    def _keep(self, logger: str, level: str, text: str) -> None:
        with self._lock:
            self._records[(logger, level, text)] += 1

    @property
    def record_count(self) -> int:
        with self._lock:
            return sum(self._records.values())

    def leaks(self) -> list[Leak]:
        """Every (logger, level, registered value) seen together, most frequent first."""
        with self._lock:
            records = list(self._records.items())
            secrets = dict(self._secrets)
            payloads = dict(self._payloads)
        shortest_payload = min(map(len, payloads), default=0)
        found: Counter[tuple[Literal["secret", "payload"], str, str, str]] = Counter()
        for (logger, level, text), seen in records:
            hits: set[tuple[Literal["secret", "payload"], str]] = {
                ("secret", label) for needle, label in secrets.items() if needle in text
            }
            if payloads and len(text) >= shortest_payload:
                hits |= {("payload", label) for needle, label in payloads.items() if needle in text}
            for kind, label in hits:
                found[(kind, label, logger, level)] += seen
        return [
            Leak(kind=kind, label=label, logger=logger, level=level, records=seen)
            for (kind, label, logger, level), seen in found.most_common()
        ]


_watching: list[LogRegistry] = []
_call_handlers = logging.Logger.callHandlers


def _call_handlers_and_keep(self: logging.Logger, record: logging.LogRecord) -> None:
    for registry in tuple(_watching):
        registry.handler.handle(record)
    _call_handlers(self, record)


def watch(registry: LogRegistry) -> Callable[[], None]:
    """Give `registry` every record any logger emits from now on; return the undo.

    A handler on the root logger would miss records of loggers that do not propagate (uvicorn
    configures its own that way, again for every server it starts) and could be removed by a
    `basicConfig(force=True)`. `Logger.callHandlers` is where every logger hands over a record
    that passed its level and filters (the notifier's redaction of Apprise is such a filter), so
    the records kept are exactly those some handler could have written.
    """
    if not _watching:
        logging.Logger.callHandlers = _call_handlers_and_keep  # type: ignore[method-assign]
    _watching.append(registry)

    def undo() -> None:
        _watching.remove(registry)
        if not _watching:
            logging.Logger.callHandlers = _call_handlers  # type: ignore[method-assign]

    return undo


# The session's registry: tests and fixtures register into it; tests/conftest.py checks it.
default = LogRegistry()


def register_secret(value: str) -> None:
    """Watch the session's logs for `value` (a webhook secret, an API token, a credential)."""
    default.register_secret(value)


def register_payload(body: bytes | str) -> None:
    """Watch the session's logs for the whole of `body` (a delivery posted by a test)."""
    default.register_payload(body)
