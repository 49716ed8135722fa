"""Ops incidents: one row per key, and the claims that make each alert go out once.

Every step that may lead to an alert is a conditional UPDATE (or an insert on the primary key):
of two workers or web replicas doing the same step at the same moment, one changes the row and
may alert, the other changes nothing and stays quiet. Keyword-only functions over a caller's
session; the caller commits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.core.ops_alerts import Incident, OpsKind
from app.store import db
from app.store.models import OpsIncident

T = TypeVar("T")

# The columns, for conditions.
_key: Any = col(OpsIncident.key)
_alerted: Any = col(OpsIncident.alerted_at)
_recovered: Any = col(OpsIncident.recovered_at)
_recovery_alerted: Any = col(OpsIncident.recovery_alerted_at)
_opened: Any = col(OpsIncident.opened_at)
# An incident's kind: the start of its key (`app.core.ops_alerts`: `event-failed:<event id>`).
_kind: Any = sa.case(
    *((_key.startswith(kind.value), kind.value) for kind in OpsKind), else_="other"
)


def find(session: Session, *, key: str) -> Incident | None:
    """The incident of `key` as the database has it now (refreshed past the session's identity
    map, since the other functions change rows with plain UPDATEs)."""
    statement = select(OpsIncident).where(_key == key).execution_options(populate_existing=True)
    row = session.exec(statement).first()
    if row is None:
        return None
    return Incident(
        key=row.key,
        opened_at=row.opened_at,
        alerted_at=row.alerted_at,
        recovered_at=row.recovered_at,
        recovery_alerted_at=row.recovery_alerted_at,
    )


def _update(session: Session, key: str, *conditions: Any, **values: Any) -> bool:
    """UPDATE the row of `key` where `conditions` hold; whether it changed."""
    statement = sa.update(OpsIncident).where(_key == key, *conditions).values(**values)
    return bool(session.exec(statement).rowcount)


def open_incident(session: Session, *, key: str, opened_at: datetime) -> Incident:
    """Open `key`'s incident at `opened_at` unless it is open already; return it as it stands.

    A recovered incident whose recovery was never announced goes on where it was (the operators
    never heard it was over, so they hear nothing new); one that is over and announced starts
    afresh, to be alerted again.
    """
    if find(session, key=key) is None:
        try:
            with session.begin_nested():  # another process may insert it meanwhile
                session.add(OpsIncident(key=key, opened_at=opened_at))
        except IntegrityError:
            pass
    elif not _update(
        session,
        key,
        _recovered.is_not(None),
        _alerted.is_not(None),
        _recovery_alerted.is_(None),
        recovered_at=None,
    ):
        _update(
            session,
            key,
            _recovered.is_not(None),
            opened_at=opened_at,
            alerted_at=None,
            recovered_at=None,
            recovery_alerted_at=None,
        )
    found = find(session, key=key)
    assert found is not None
    return found


def claim_alert(session: Session, *, key: str, now: datetime) -> bool:
    """Take the right to send the opening alert of `key`'s open incident; False if another
    process took it, or the incident is not open."""
    return _update(session, key, _recovered.is_(None), _alerted.is_(None), alerted_at=now)


def release_alert(session: Session, *, key: str, claimed_at: datetime) -> None:
    """Give the claim back: the alert reached nobody, so the next occasion tries again."""
    _update(session, key, _alerted == claimed_at, _recovery_alerted.is_(None), alerted_at=None)


def recover(session: Session, *, key: str, now: datetime) -> Incident | None:
    """Close `key`'s incident if it is open. Return it when the caller has won the right to
    announce the recovery (it had been alerted and no one has announced it), else None."""
    _update(session, key, _recovered.is_(None), recovered_at=now)
    claimed = _update(
        session,
        key,
        _recovered.is_not(None),
        _alerted.is_not(None),
        _recovery_alerted.is_(None),
        recovery_alerted_at=now,
    )
    return find(session, key=key) if claimed else None


def release_recovery(session: Session, *, key: str, claimed_at: datetime) -> None:
    """Give the recovery claim back: its alert reached nobody."""
    _update(session, key, _recovery_alerted == claimed_at, recovery_alerted_at=None)


def has_news(session: Session, *, key: str) -> bool:
    """Whether `recover` could change anything for `key`: a cheap read for hot paths."""
    incident = find(session, key=key)
    return incident is not None and (incident.is_open or incident.recovery_unannounced)


@dataclass(frozen=True)
class OpenIncidents:
    """Incidents not over, by kind; those of them whose opening alert has not gone out (not due
    yet, or its send failed and was released), by kind; when the oldest of those opened."""

    open: dict[str, int]
    unalerted: dict[str, int]
    oldest_unalerted_at: datetime | None


def count_open(session: Session) -> OpenIncidents:
    """One grouped read of the incidents not over (`/metrics`). The table holds one row per
    key ever opened: a row per destination and per event that ever failed, not per event."""
    kind = _kind.label("kind")
    unalerted = _alerted.is_(None).label("unalerted")
    rows = session.exec(
        select(kind, unalerted, sa.func.count(), sa.func.min(_opened))
        .where(_recovered.is_(None))
        .group_by(sa.text("kind"), sa.text("unalerted"))  # by name: one CASE, not two
    ).all()
    open_by_kind: dict[str, int] = {}
    unalerted_by_kind: dict[str, int] = {}
    oldest: datetime | None = None
    for row_kind, row_unalerted, count, opened_at in rows:
        open_by_kind[row_kind] = open_by_kind.get(row_kind, 0) + int(count)
        if row_unalerted:
            unalerted_by_kind[row_kind] = int(count)
            oldest = opened_at if oldest is None else min(oldest, opened_at)
    return OpenIncidents(open_by_kind, unalerted_by_kind, oldest)


class IncidentBook:
    """The incidents of one database, each step in a transaction of its own: what
    `notifications.ops_reporter.OpsReporter` is given to keep its claims in."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def _committed(self, step: Callable[..., T], **kwargs: Any) -> T:
        with Session(self._engine) as session:
            result = step(session, **kwargs)
            session.commit()
        return result

    def open(self, *, key: str, opened_at: datetime) -> Incident:
        return self._committed(open_incident, key=key, opened_at=opened_at)

    def claim(self, *, key: str, now: datetime, open_first: bool) -> bool:
        """`claim_alert`, after opening the incident now when `open_first`."""

        def step(session: Session) -> bool:
            if open_first:
                open_incident(session, key=key, opened_at=now)
            return claim_alert(session, key=key, now=now)

        return self._committed(step)

    def release_alert(self, *, key: str, claimed_at: datetime) -> None:
        self._committed(release_alert, key=key, claimed_at=claimed_at)

    def recover(self, *, key: str, now: datetime) -> Incident | None:
        return self._committed(recover, key=key, now=now)

    def release_recovery(self, *, key: str, claimed_at: datetime) -> None:
        self._committed(release_recovery, key=key, claimed_at=claimed_at)

    def has_news(self, *, key: str) -> bool:
        """`has_news` in a read-only transaction (no write lock on SQLite)."""
        with Session(self._engine) as session:
            session.connection(execution_options={db.READ_ONLY: True})
            return has_news(session, key=key)
