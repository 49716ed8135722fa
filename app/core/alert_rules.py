"""Which alerts an applied event deserves: news only, never history.

Kinds: `departed` and `arrived` (every leg), `delivered` (once per shipment, see
`Alert.dedup_key`), `eta` (the estimated arrival moved by at least the slip threshold), `customs`
(a hold or exam, and the release) and `exception` (Flexport's delay and exception events). An
event older than the shipment's status alerts nobody.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.core.alert import Alert
from app.core.events import Event
from app.core.facts import Location
from app.core.outcome import ShipmentChange

_MILESTONE_KINDS = {"departed": "departed", "arrived": "arrived", "delivered": "delivered"}
_LEG_KINDS = ("departed", "arrived")
# A report of the same leg's departure or arrival within this of one already recorded is the same
# fact again; further off, it corrects the time and is news once more.
SAME_FACT_WITHIN = timedelta(hours=1)


def milestone_news(
    occurred_at: datetime, earlier_reports: tuple[datetime, ...]
) -> tuple[bool, datetime | None]:
    """Whether a leg milestone at `occurred_at` is news, given the times the same milestone of
    the same leg was reported at before; and if it is a correction, the time it corrects (the
    nearest earlier report)."""
    if not earlier_reports:
        return True, None
    nearest = min(earlier_reports, key=lambda when: abs(when - occurred_at))
    if abs(nearest - occurred_at) <= SAME_FACT_WITHIN:
        return False, None
    return True, nearest


def _kind_and_headline(event: Event) -> tuple[str, str] | None:
    """`departed`/`arrived`/`delivered` for those milestones, `customs` for a hold, an exam or
    the release, `exception` for every delay and exception type; `None` for the rest."""
    classification = event.classification
    if event.milestone in _MILESTONE_KINDS:
        kind = _MILESTONE_KINDS[event.milestone]
        return kind, kind.capitalize()
    if event.milestone == "customs_cleared":
        return "customs", "Customs released"
    if event.category == "customs" and classification.urgent:
        return "customs", classification.headline
    if event.category == "exception":
        return "exception", classification.headline
    return None


def decide_alerts(
    event: Event,
    *,
    change: ShipmentChange,
    place: Location | None,
    occurred_at: datetime,
    eta_slip_hours: float,
) -> list[Alert]:
    """The alerts for `event`, given what applying it did to its shipment."""
    if change.late:
        return []
    if place is None or not place.name:
        place = change.place

    def alert(kind: str, headline: str, **extra: object) -> Alert:
        return Alert(
            kind=kind,
            event_id=event.event_id,
            event_type=event.type,
            shipment_id=change.shipment_id,
            headline=headline,
            occurred_at=occurred_at.isoformat(),
            shipment_name=change.shipment_name,
            place_name=place.name,
            place_country=place.country,
            place_timezone=place.timezone,
            estimated_arrival=_iso(change.eta_after),
            **extra,  # type: ignore[arg-type]
        )

    alerts = []
    kind_and_headline = _kind_and_headline(event)
    if kind_and_headline is not None and kind_and_headline[0] in _LEG_KINDS:
        kind, headline = kind_and_headline
        news, corrects = milestone_news(occurred_at, change.earlier_reports)
        fact_key = f"shipment-{change.shipment_id}:{kind}:{change.leg_id or '-'}:"
        fact_key += occurred_at.astimezone(UTC).isoformat()
        if news and corrects is None:
            alerts.append(alert(kind, headline, fact_key=fact_key))
        elif news and corrects is not None:
            was = f"{corrects.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
            alerts.append(
                alert(
                    kind,
                    f"{headline} (time corrected, was {was})",
                    fact_key=fact_key,
                    corrects=corrects.isoformat(),
                )
            )
    elif kind_and_headline is not None:
        alerts.append(alert(*kind_and_headline))
    before, after = change.eta_before, change.eta_after
    if before is not None and after is not None and after != before:
        shift = (after - before).total_seconds() / 3600
        if abs(shift) >= eta_slip_hours:
            alerts.append(
                alert(
                    "eta",
                    "ETA moved",
                    previous_estimated_arrival=before.isoformat(),
                    eta_shift_hours=round(shift, 1),
                )
            )
    return alerts


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
