"""The database's counts behind `/metrics`' gauges of the event log and the alert ledger, read
at each refresh of the gauges (`app.web.metrics.read_counts`), each bounded whatever the log's
size.

Events that never settle (failed and ignored ones, unknown types, reconciled events) grow with
the log: their counts are kept in `event_tally` by triggers on `event` (migration 0015), in the
transaction of each write, and read here as a few rows. Queued and processing events, and alerts
neither sent nor skipped, are the working set: counted from the ranges of
`ix_event_status_received` and `ix_notification_status_kind` holding just them.
"""

from __future__ import annotations

from typing import Final

from sqlmodel import Session, col, func, select

from app.core.statuses import EventStatus, NotificationStatus
from app.store.models import EventRecord, EventTally, Notification

# Events and alerts still in motion or in trouble: what the metrics count. Processed events,
# and alerts sent or skipped, grow with the log; their totals are not counted at all.
IN_MOTION_EVENT_STATUSES: Final = (EventStatus.QUEUED, EventStatus.PROCESSING)
UNSETTLED_ALERT_STATUSES: Final = (
    NotificationStatus.PENDING,
    NotificationStatus.HELD,
    NotificationStatus.SENDING,
    NotificationStatus.FAILED,
)
# Types are Flexport's (only signed events are stored), but bound the label set all the same.
MAX_UNKNOWN_TYPES: Final = 50


def _tally(session: Session, metric: str) -> list[tuple[str, int]]:
    """`event_tally`'s rows of `metric` with events, the largest first."""
    rows = session.exec(
        select(EventTally.label, EventTally.n)
        .where(col(EventTally.metric) == metric, col(EventTally.n) > 0)
        .order_by(col(EventTally.n).desc(), col(EventTally.label))
    ).all()
    return [(label, int(n)) for label, n in rows]


def count_unsettled_events(session: Session) -> dict[str, int]:
    """Logged events by status, but for processed ones: queued and processing ones from their
    ranges of `ix_event_status_received`, failed and ignored ones from the tally."""
    rows = session.exec(
        select(EventRecord.status, func.count())
        .where(col(EventRecord.status).in_(IN_MOTION_EVENT_STATUSES))
        .group_by(col(EventRecord.status))
    ).all()
    return {status: int(count) for status, count in rows} | dict(_tally(session, "status"))


def count_unknown_types(session: Session) -> dict[str, int]:
    """Logged events of types flexhook does not know, by type (the most frequent ones)."""
    most = _tally(session, "unknown_type")[:MAX_UNKNOWN_TYPES]
    return {event_type[:120]: n for event_type, n in most}


def count_reconciled_events(session: Session) -> int:
    """Events in the log that reconciliation found missing and started (`source = reconcile`)."""
    return sum(n for _, n in _tally(session, "reconciled"))


def count_unsettled_alerts(session: Session) -> dict[tuple[str, str], int]:
    """Ledger rows neither sent nor skipped, by (kind, status), from
    `ix_notification_status_kind` alone."""
    rows = session.exec(
        select(Notification.kind, Notification.status, func.count())
        .where(col(Notification.status).in_(UNSETTLED_ALERT_STATUSES))
        .group_by(col(Notification.status), col(Notification.kind))
    ).all()
    return {(kind, status): int(count) for kind, status, count in rows}
