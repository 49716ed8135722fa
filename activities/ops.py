"""Ops alerts, once per incident: claim in the database, send, give the claim back if nobody got
it. The worker's activities report through this (an event marked failed, a destination whose
retries ran out, and their recoveries), and so does the web process's spool watch
(`app.ingest.spool_watch`), which must alert while Temporal is away.

Best effort: nothing here raises, and a send is waited for `wait` at most, so that an ops alert
never fails or holds up the activity that reports it; a slower send finishes on its own thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.core.ops_alerts import OpsAlert
from app.store import db, ops_incidents
from app.store.ops_incidents import Incident
from notifications.ops_notifier import OpsNotifier

log = logging.getLogger("flexhook.ops")

Release = Callable[[Session], None]


class OpsReporter:
    """Opens, alerts and recovers ops incidents over one engine and one `OpsNotifier`."""

    def __init__(
        self, engine: Engine, notifier: OpsNotifier, *, wait: timedelta = timedelta(seconds=10)
    ) -> None:
        self._engine = engine
        self._notifier = notifier
        self._wait = wait.total_seconds()
        self._sender = ThreadPoolExecutor(max_workers=2, thread_name_prefix="ops-alert")

    def open(self, key: str, *, opened_at: datetime) -> Incident | None:
        """Open `key`'s incident unless it is open (`ops_incidents.open_incident`); None when
        the database did not answer."""
        try:
            with Session(self._engine) as session:
                incident = ops_incidents.open_incident(session, key=key, opened_at=opened_at)
                session.commit()
        except Exception:
            log.exception("ops incident %s could not be opened", key)
            return None
        return incident

    def alert(self, alert: OpsAlert, *, now: datetime) -> None:
        """Send the opening alert of `alert.key`'s open incident unless someone has."""
        self._claim_and_send(alert, now=now, open_first=False)

    def incident(self, alert: OpsAlert, *, now: datetime) -> None:
        """Open `alert.key`'s incident now and alert it at once, unless someone has."""
        self._claim_and_send(alert, now=now, open_first=True)

    def _claim_and_send(self, alert: OpsAlert, *, now: datetime, open_first: bool) -> None:
        try:
            with Session(self._engine) as session:
                if open_first:
                    ops_incidents.open_incident(session, key=alert.key, opened_at=now)
                claimed = ops_incidents.claim_alert(session, key=alert.key, now=now)
                session.commit()
        except Exception:
            log.exception("ops alert %s: the incident could not be claimed", alert.key)
            return
        if claimed:
            release = _releasing(ops_incidents.release_alert, key=alert.key, claimed_at=now)
            self._deliver(alert, release)

    def recovered(self, key: str, build: Callable[[Incident], OpsAlert], *, now: datetime) -> None:
        """Close `key`'s incident; if it had been alerted, announce the recovery once with the
        alert `build` makes of it. Costs one read when there is no incident to close."""
        try:
            if not _has_news(self._engine, key):
                return
            with Session(self._engine) as session:
                incident = ops_incidents.recover(session, key=key, now=now)
                session.commit()
            alert = build(incident) if incident is not None else None
        except Exception:
            log.exception("ops incident %s could not be closed", key)
            return
        if alert is not None:
            release = _releasing(ops_incidents.release_recovery, key=key, claimed_at=now)
            self._deliver(alert, release)

    def _deliver(self, alert: OpsAlert, release: Release) -> None:
        future = self._sender.submit(self._send, alert, release)
        try:
            future.result(timeout=self._wait)
        except FutureTimeout:
            log.warning("ops alert %s still sending after %.0f s; going on", alert.key, self._wait)

    def _send(self, alert: OpsAlert, release: Release) -> None:
        try:
            delivered = self._notifier.send(alert)
            if delivered is False:  # nobody got it: the next occasion tries again
                with Session(self._engine) as session:
                    release(session)
                    session.commit()
        except Exception:
            log.exception("ops alert %s not sent", alert.key)


def _releasing(
    release: Callable[..., None], *, key: str, claimed_at: datetime
) -> Callable[[Session], None]:
    def run(session: Session) -> None:
        release(session, key=key, claimed_at=claimed_at)

    return run


def _has_news(engine: Engine, key: str) -> bool:
    """`ops_incidents.has_news` in a read-only transaction (no write lock on SQLite)."""
    with Session(engine.execution_options(**{db.READ_ONLY: True})) as session:
        return ops_incidents.has_news(session, key=key)
