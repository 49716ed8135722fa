"""A recipient's daily digest as plain data: the day's alerts by kind, the open exceptions of the
shipments it follows, and what is in transit. Pure standard library;
`notifications/templates/<form>/digest.*` put it into words, `seen_by` decides what of it a
reader may see (`app.core.audience`)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Final

from app.core.alert import Alert
from app.core.alert_links import INBOX_PATH, exception_page
from app.core.audience import Audience
from app.core.display import span
from app.core.exception_families import family

# The inbox on the dashboard; one exception is `<this>/<id>` (shared with the dashboard).

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
class OpenException:
    """An exception not resolved yet, as a digest lists it. `shipment_id` and `shipment_name`
    are named as `Alert`'s, for the templates' `shipment` filter. `assignee` and `url` (its
    page in the inbox) are for internal readers only: `seen_by` clears them for others."""

    exception_id: int
    shipment_id: str
    shipment_name: str | None
    family: str  # the family's label: "Customs hold"
    severity: str
    state: str  # open | acknowledged | snoozed
    age: str  # since the episode opened: "2 d 4 h"
    assignee: str | None = None
    url: str = ""


def open_exception(
    *,
    exception_id: int,
    shipment_id: str,
    shipment_name: str | None,
    family_name: str,
    severity: str,
    state: str,
    opened_at: datetime,
    assignee: str | None,
    now: datetime,
) -> OpenException:
    """An unresolved exception as of `now`, its family put into words (a family this version
    no longer knows by its name)."""
    try:
        label = family(family_name).label
    except KeyError:
        label = family_name.replace("_", " ").capitalize()
    return OpenException(
        exception_id=exception_id,
        shipment_id=shipment_id,
        shipment_name=shipment_name,
        family=label,
        severity=severity,
        state=state,
        age=span(now - opened_at),
        assignee=assignee,
    )


@dataclass(frozen=True)
class Digest:
    local_date: str  # YYYY-MM-DD in `timezone`
    timezone: str
    since: str | None  # ISO-8601: when the previous digest went out, if one did
    sections: tuple[DigestSection, ...]
    in_transit: tuple[InTransit, ...]
    more_in_transit: int = 0  # in transit but not listed
    # Most severe first, then oldest; at most a page of them (`more_open_exceptions`: the rest).
    open_exceptions: tuple[OpenException, ...] = ()
    more_open_exceptions: int = 0
    inbox_url: str = ""  # the dashboard's inbox, for internal readers (`seen_by`)

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
    open_exceptions: Iterable[OpenException] = (),
    total_open_exceptions: int | None = None,
) -> Digest:
    """The digest of `alerts`: one section per kind present, in `SECTION_TITLES` order; then
    the `open_exceptions` listed (in the order given) of `total_open_exceptions`."""
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
    problems = tuple(open_exceptions)
    open_total = len(problems) if total_open_exceptions is None else total_open_exceptions
    return Digest(
        local_date=local_date,
        timezone=timezone,
        since=since,
        sections=sections,
        in_transit=listed,
        more_in_transit=max(0, total - len(listed)),
        open_exceptions=problems,
        more_open_exceptions=max(0, open_total - len(problems)),
    )


def seen_by(digest: Digest, *, audience: Audience, public_url: str) -> Digest:
    """The digest as `audience` reads it. Internal readers (the team) get each open exception's
    page in the inbox and the inbox's address (with a public URL to put them under) and who it
    is assigned to; external readers get neither a link they could not open nor a name."""
    base = public_url.rstrip("/")
    if audience is not Audience.INTERNAL:
        hidden = tuple(replace(e, assignee=None, url="") for e in digest.open_exceptions)
        return replace(digest, open_exceptions=hidden, inbox_url="")
    if not base:
        return replace(digest, inbox_url="")
    inbox = f"{base}{INBOX_PATH}"
    linked = tuple(
        replace(e, url=exception_page(base, e.exception_id)) for e in digest.open_exceptions
    )
    return replace(digest, open_exceptions=linked, inbox_url=inbox)
