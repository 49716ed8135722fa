"""Ops alerts, once per incident: claim in the incident book, send, give the claim back if
nobody got it. The worker's activities report through this (an event marked failed, a
destination whose retries ran out, and their recoveries), and so does the web process's spool
watch (`app.ingest.spool_watch`), which must alert while Temporal is away.

Best effort: nothing here raises, and a send is waited for `wait` at most, so that an ops alert
never fails or holds up the activity that reports it; a slower send finishes on its own thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import datetime, timedelta
from typing import Protocol

from app.core.ops_alerts import Incident, OpsAlert
from notifications.ops_notifier import OpsNotifier

log = logging.getLogger("flexhook.ops")

Release = Callable[[], None]


class IncidentBook(Protocol):
    """Where incidents and their claims are kept (`app.store.ops_incidents.IncidentBook`); each
    call is one transaction, and of two processes taking the same claim one wins."""

    def open(self, *, key: str, opened_at: datetime) -> Incident: ...

    def claim(self, *, key: str, now: datetime, open_first: bool) -> bool: ...

    def release_alert(self, *, key: str, claimed_at: datetime) -> None: ...

    def recover(self, *, key: str, now: datetime) -> Incident | None: ...

    def release_recovery(self, *, key: str, claimed_at: datetime) -> None: ...

    def has_news(self, *, key: str) -> bool: ...


class OpsReporter:
    """Opens, alerts and recovers ops incidents kept in one `IncidentBook`, through one
    `OpsNotifier`."""

    def __init__(
        self,
        incidents: IncidentBook,
        notifier: OpsNotifier,
        *,
        wait: timedelta = timedelta(seconds=10),
    ) -> None:
        self._incidents = incidents
        self._notifier = notifier
        self._wait = wait.total_seconds()
        self._sender = ThreadPoolExecutor(max_workers=2, thread_name_prefix="ops-alert")

    def open(self, key: str, *, opened_at: datetime) -> Incident | None:
        """Open `key`'s incident unless it is open; None when the database did not answer."""
        try:
            return self._incidents.open(key=key, opened_at=opened_at)
        except Exception:
            log.exception("ops incident %s could not be opened", key)
            return None

    def alert(self, alert: OpsAlert, *, now: datetime) -> None:
        """Send the opening alert of `alert.key`'s open incident unless someone has."""
        self._claim_and_send(alert, now=now, open_first=False)

    def incident(self, alert: OpsAlert, *, now: datetime) -> None:
        """Open `alert.key`'s incident now and alert it at once, unless someone has."""
        self._claim_and_send(alert, now=now, open_first=True)

    def _claim_and_send(self, alert: OpsAlert, *, now: datetime, open_first: bool) -> None:
        try:
            claimed = self._incidents.claim(key=alert.key, now=now, open_first=open_first)
        except Exception:
            log.exception("ops alert %s: the incident could not be claimed", alert.key)
            return
        if claimed:
            self._deliver(
                alert, lambda: self._incidents.release_alert(key=alert.key, claimed_at=now)
            )

    def recovered(self, key: str, build: Callable[[Incident], OpsAlert], *, now: datetime) -> None:
        """Close `key`'s incident; if it had been alerted, announce the recovery once with the
        alert `build` makes of it. Costs one read when there is no incident to close."""
        try:
            if not self._incidents.has_news(key=key):
                return
            incident = self._incidents.recover(key=key, now=now)
            alert = build(incident) if incident is not None else None
        except Exception:
            log.exception("ops incident %s could not be closed", key)
            return
        if alert is not None:
            self._deliver(alert, lambda: self._incidents.release_recovery(key=key, claimed_at=now))

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
                release()
        except Exception:
            log.exception("ops alert %s not sent", alert.key)
