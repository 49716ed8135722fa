"""Where alerts can go, read once: the Apprise configuration file and the stored URLs.

`NotifyConfig` reads the configuration file once per process and again only when it changes
(its modification time or size), parses each URL once and indexes the destinations by tag and by
id, so routing an alert costs what it finds, not what the file holds. The same read gives the
`flexhook:` section beside Apprise's own `urls:`, the delivery preferences by tag:

    flexhook:
      preferences:
        - tag: morning-digest          # every URL tagged morning-digest
          delivery: digest
          digest_at: "08:00"
          timezone: Europe/Berlin
        - tag: night-owls
          quiet_hours: "22:00-07:00"
          timezone: America/Chicago

Apprise reads only its own root keys (`urls`, `include`, `tag`, `groups`, `asset`, `version`,
`template`) and passes over this section without a word; a key written under a URL, by contrast,
would be handed to that URL's plugin as an argument (where `tz`, `format` and the like already
mean something), so flexhook's keys stay out of the URL entries. A rule that cannot be read is
left out, with one warning per version of the file: its targets then hear everything at once.

URLs stored in the database (subscriptions, recipients) are checked through `stored_destination`,
which parses each distinct URL once per process.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import yaml

from app.core.alert import ESCALATION
from app.core.preferences import InvalidPreferences, Preferences, parse_preferences
from notifications.notifier import Destination, check_url, load_config

log = logging.getLogger(__name__)

SECTION: Final = "flexhook"
RULE_KEYS: Final = frozenset({"tag", "delivery", "digest_at", "timezone", "quiet_hours"})
# Distinct stored URLs whose check is remembered; past it the oldest are checked again.
STORED_URLS_KEPT: Final = 4096


@dataclass(frozen=True)
class PreferenceRule:
    """The preferences of every configured URL that carries `tag`."""

    tag: str
    preferences: Preferences


def _rule(entry: Any) -> PreferenceRule:
    if not isinstance(entry, dict):
        raise InvalidPreferences("expected a mapping with a tag and preferences")
    unknown = sorted(str(key) for key in set(entry) - RULE_KEYS)
    if unknown:
        raise InvalidPreferences(f"unknown keys {unknown}; expected {sorted(RULE_KEYS)}")
    tag = entry.get("tag")
    if not isinstance(tag, str) or not tag.strip():
        raise InvalidPreferences("tag must name the Apprise tag of the URLs it applies to")
    preferences = parse_preferences(
        delivery=entry.get("delivery"),
        digest_at=entry.get("digest_at"),
        timezone=entry.get("timezone"),
        quiet_hours=entry.get("quiet_hours"),
    )
    return PreferenceRule(tag=tag.strip().lower(), preferences=preferences)


def parse_rules(content: str) -> tuple[list[PreferenceRule], list[str]]:
    """The rules of a configuration file's `flexhook:` section, and why others were left out.
    A TEXT configuration, or YAML without the section, has none."""
    try:
        document = yaml.safe_load(content)
    except yaml.YAMLError:
        return [], []  # Apprise says what is wrong with the file
    if not isinstance(document, dict) or SECTION not in document:
        return [], []
    section = document[SECTION]
    entries = section.get("preferences") if isinstance(section, dict) else None
    if not isinstance(entries, list):
        return [], [f"{SECTION}: expected `preferences:` with a list of rules"]
    rules, problems = [], []
    for number, entry in enumerate(entries, start=1):
        try:
            rules.append(_rule(entry))
        except InvalidPreferences as exc:
            tag = entry.get("tag") if isinstance(entry, dict) else None
            problems.append(f"{SECTION}.preferences #{number} (tag {tag!r}): {exc}")
    return rules, problems


@dataclass(frozen=True)
class _Snapshot:
    """One version of the configuration file, parsed and indexed."""

    destinations: tuple[Destination, ...] = ()
    rules: tuple[PreferenceRule, ...] = ()
    by_id: dict[str, Destination] = field(default_factory=dict)
    by_tag: dict[str, tuple[int, ...]] = field(default_factory=dict)  # positions, in file order

    @classmethod
    def of(cls, destinations: list[Destination], rules: list[PreferenceRule]) -> _Snapshot:
        by_id: dict[str, Destination] = {}
        by_tag: dict[str, list[int]] = {}
        for position, destination in enumerate(destinations):
            by_id.setdefault(destination.id, destination)
            for tag in destination.tags:
                by_tag.setdefault(tag, []).append(position)
        return cls(
            destinations=tuple(destinations),
            rules=tuple(rules),
            by_id=by_id,
            by_tag={tag: tuple(positions) for tag, positions in by_tag.items()},
        )


class NotifyConfig:
    """The Apprise configuration file (`FLEXHOOK_NOTIFY_CONFIG`), one per process, shared by
    everything that routes: alerts, held alerts and digests, ops alerts. Thread-safe."""

    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._snapshot = _Snapshot()

    def _current(self) -> _Snapshot:
        """The file as it is now: parsed again only when its modification time or size moved."""
        if self._path is None:
            return self._snapshot
        try:
            stat = self._path.stat()
        except OSError:
            stamp = None
        else:
            stamp = (stat.st_mtime_ns, stat.st_size)
        with self._lock:
            if stamp != self._stamp:
                self._snapshot = self._read() if stamp is not None else _Snapshot()
                self._stamp = stamp
            return self._snapshot

    def _read(self) -> _Snapshot:
        assert self._path is not None
        destinations = load_config(self._path)
        rules, problems = parse_rules(self._path.read_text(encoding="utf-8"))
        for problem in problems:
            log.warning("%s: %s; those targets get alerts at once", self._path, problem)
        return _Snapshot.of(destinations, rules)

    def tagged(self, tags: Iterable[str]) -> list[Destination]:
        """The configured destinations carrying any of `tags`, in the file's order, each once."""
        snapshot = self._current()
        positions = sorted({p for tag in tags for p in snapshot.by_tag.get(tag.lower(), ())})
        found: dict[str, Destination] = {}
        for position in positions:
            destination = snapshot.destinations[position]
            found.setdefault(destination.id, destination)
        return list(found.values())

    def route(self, *, kind: str, shipment_id: str) -> list[Destination]:
        """Those that hear an alert of `kind` about `shipment_id` (`routing_tags`)."""
        return self.tagged(routing_tags(kind=kind, shipment_id=shipment_id))

    def find(self, destination_id: str) -> Destination | None:
        """The configured destination with this id, if the file still has it."""
        return self._current().by_id.get(destination_id)

    def preferences_for(self, tags: frozenset[str]) -> Preferences | None:
        """The first rule's preferences whose tag the URL carries, or None."""
        rules = self._current().rules
        return next((rule.preferences for rule in rules if rule.tag in tags), None)


def routing_tags(*, kind: str, shipment_id: str) -> frozenset[str]:
    """The tags that route an alert of `kind` about `shipment_id` to a configured URL: the kind,
    `shipment-<id>`, or Apprise's `always`; an escalation only by its own tag (the team's
    clocks are no shipment's news)."""
    if kind == ESCALATION:
        return frozenset({ESCALATION})
    return frozenset({kind.lower(), f"shipment-{shipment_id}".lower(), "always"})


def wanted_by(destination: Destination, *, kind: str, shipment_id: str) -> bool:
    """Whether a configured destination's tags route this alert to it."""
    return bool(destination.tags & routing_tags(kind=kind, shipment_id=shipment_id))


@functools.lru_cache(maxsize=STORED_URLS_KEPT)
def stored_destination(url: str) -> Destination:
    """`check_url(url)` for a URL kept in the database, parsed once per process
    (`InvalidDestination`, never remembered, when Apprise no longer accepts it)."""
    return check_url(url)
