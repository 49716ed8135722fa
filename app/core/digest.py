"""A recipient's daily digest as plain data: the day's alerts by kind, and what is in transit.
Pure standard library; `notifications/templates/<form>/digest.*` put it into words."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from app.core.alert import Alert

# In the order a digest lists them; a kind not named here comes last, under its own name.
SECTION_TITLES: Final = {
    "departed": "Departed",
    "arrived": "Arrived",
    "delivered": "Delivered",
    "eta": "ETA moved",
    "eta_missed": "ETA missed",
    "customs": "Customs",
    "exception": "Exceptions",
}


@dataclass(frozen=True)
class DigestSection:
    kind: str
    title: str
    alerts: tuple[Alert, ...]  # in the order they happened


@dataclass(frozen=True)
class InTransit:
    """A shipment on its way. Fields are named as `Alert`'s, so that the templates' `shipment`
    and `place` filters read both."""

    shipment_id: str
    shipment_name: str | None
    status: str
    place_name: str | None = None
    place_country: str | None = None
    place_timezone: str | None = None
    estimated_arrival: str | None = None  # ISO-8601
    status_at: str | None = None  # ISO-8601: since when it has had this status


@dataclass(frozen=True)
class Digest:
    local_date: str  # YYYY-MM-DD in `timezone`
    timezone: str
    since: str | None  # ISO-8601: when the previous digest went out, if one did
    sections: tuple[DigestSection, ...]
    in_transit: tuple[InTransit, ...]
    more_in_transit: int = 0  # in transit but not listed

    @property
    def count(self) -> int:
        """How many alerts the digest carries."""
        return sum(len(section.alerts) for section in self.sections)


def _when(alert: Alert) -> datetime:
    moment = datetime.fromisoformat(alert.occurred_at)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def compose_digest(
    alerts: Iterable[Alert],
    *,
    local_date: str,
    timezone: str,
    since: str | None,
    in_transit: Iterable[InTransit] = (),
    total_in_transit: int | None = None,
) -> Digest:
    """The digest of `alerts`: one section per kind present, in `SECTION_TITLES` order."""
    by_kind: dict[str, list[Alert]] = {}
    for alert in alerts:
        by_kind.setdefault(alert.kind, []).append(alert)
    order = [*SECTION_TITLES, *sorted(set(by_kind) - set(SECTION_TITLES))]
    sections = tuple(
        DigestSection(
            kind=kind,
            title=SECTION_TITLES.get(kind, kind.replace("_", " ").capitalize()),
            alerts=tuple(sorted(by_kind[kind], key=_when)),
        )
        for kind in order
        if kind in by_kind
    )
    listed = tuple(in_transit)
    total = len(listed) if total_in_transit is None else total_in_transit
    return Digest(
        local_date=local_date,
        timezone=timezone,
        since=since,
        sections=sections,
        in_transit=listed,
        more_in_transit=max(0, total - len(listed)),
    )
