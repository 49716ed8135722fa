"""Whose alerts wait, and until when: the delivery preferences of each destination.

A destination's preferences are its recipient's (`POST /api/subscribers`), else those the
configuration file gives its tags in a `flexhook:` section beside Apprise's own `urls:`:

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
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import yaml
from sqlmodel import Session

from app.core.preferences import InvalidPreferences, Preferences, parse_preferences
from app.store.recipients import preferences_of, recipient_by_destination
from notifications.notifier import Destination

log = logging.getLogger(__name__)

SECTION: Final = "flexhook"
RULE_KEYS: Final = frozenset({"tag", "delivery", "digest_at", "timezone", "quiet_hours"})


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


class ConfigPreferences:
    """The `flexhook:` rules of the Apprise configuration file, read again when it changes."""

    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._rules: list[PreferenceRule] = []

    def rules(self) -> list[PreferenceRule]:
        if self._path is None:
            return []
        try:
            stat = self._path.stat()
        except OSError:
            return []
        stamp = (stat.st_mtime_ns, stat.st_size)
        with self._lock:
            if stamp != self._stamp:
                rules, problems = parse_rules(self._path.read_text(encoding="utf-8"))
                for problem in problems:
                    log.warning("%s: %s; those targets get alerts at once", self._path, problem)
                self._stamp, self._rules = stamp, rules
            return self._rules

    def for_tags(self, tags: frozenset[str]) -> Preferences | None:
        """The first rule's preferences whose tag the URL carries, or None."""
        return next((rule.preferences for rule in self.rules() if rule.tag in tags), None)


def preferences_for(
    session: Session, destination: Destination, config: ConfigPreferences
) -> Preferences | None:
    """The recipient's preferences for this URL, else the configuration file's for its tags;
    None when nothing ever waits for it."""
    recipient = recipient_by_destination(session, destination_id=destination.id)
    if recipient is not None:
        return preferences_of(recipient)
    return config.for_tags(destination.tags)
