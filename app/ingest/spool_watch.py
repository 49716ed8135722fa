"""The ops watch: in each web process, next to the relay, a periodic look at the spool and at
Temporal. When events have waited in the spool, or Temporal has not answered, for longer than
`FLEXHOOK_OPS_ALERT_AFTER`, the operators hear it once, and once more when the spool is empty
and Temporal answers again.

The same watch looks for events logged `processing` for longer than `FLEXHOOK_STUCK_AFTER` (their
processing keeps failing and is retried until its deadline): the `events-stuck` incident.

It alerts from the web process itself, through the notifier, because it is about Temporal being
away. The incident (`spool-stuck`) lives in the database, so several replicas and restarts make
one incident of it; with the database away too, nothing can be kept and nothing is alerted.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool

from app.core import ops_alerts
from app.ingest.errors import TemporalUnavailable
from app.ingest.relay import TemporalBreaker
from app.ingest.starter import EventStarter
from app.store import db, event_failures, spool
from notifications.ops_reporter import OpsReporter

log = logging.getLogger("flexhook.ops")


class SpoolWatch:
    """Looks every `ops_alerts.check_every(after)` and opens, alerts or closes the `spool-stuck`
    incident through `reporter`."""

    def __init__(
        self,
        engine: Engine,
        starter: EventStarter,
        breaker: TemporalBreaker,
        reporter: OpsReporter,
        *,
        after: timedelta,
        stuck_after: timedelta | None = None,
    ) -> None:
        self._engine = engine
        self._starter = starter
        self._breaker = breaker
        self._reporter = reporter
        self._after = after
        self._stuck_after = stuck_after  # None: no look at events stuck in processing
        self._every = ops_alerts.check_every(after).total_seconds()

    async def run(self) -> None:
        """Look forever; cancel the task to stop."""
        while True:
            try:
                await self.check(now=datetime.now(UTC))
            except Exception:  # the database may be away; keep watching
                log.exception("ops watch round failed")
            await asyncio.sleep(self._every)

    async def look(self) -> ops_alerts.SpoolState:
        """The spool's depth and oldest event, and whether Temporal answers now."""
        stats = await db.in_session(self._engine, spool.stats)
        return ops_alerts.SpoolState(
            depth=stats.depth,
            oldest_received_at=stats.oldest_received_at,
            temporal_answers=await self._temporal_answers(),
        )

    async def check(self, *, now: datetime) -> None:
        """One look at the spool and Temporal, one at events stuck in processing, and what
        follows from them."""
        await self._check_spool(now=now)
        if self._stuck_after is not None:
            await self.check_processing(now=now, after=self._stuck_after)

    async def check_processing(self, *, now: datetime, after: timedelta) -> None:
        """Alert `events-stuck` once while events stay `processing` for longer than `after`;
        announce it over when none does."""
        count, oldest = await db.in_session(
            self._engine, event_failures.stuck_processing, received_before=now - after
        )
        key = ops_alerts.EVENTS_STUCK
        if not count:
            await run_in_threadpool(
                self._reporter.recovered,
                key,
                lambda incident: ops_alerts.events_unstuck(since=incident.opened_at, now=now),
                now=now,
            )
            return
        alert = ops_alerts.events_stuck(count=count, oldest_event_id=oldest, after=after, now=now)
        await run_in_threadpool(self._reporter.incident, alert, now=now)

    async def _check_spool(self, *, now: datetime) -> None:
        state = await self.look()
        key = ops_alerts.SPOOL_STUCK
        if not state.troubled:
            await run_in_threadpool(
                self._reporter.recovered,
                key,
                lambda incident: ops_alerts.spool_recovered(since=incident.opened_at, now=now),
                now=now,
            )
            return
        incident = await run_in_threadpool(
            self._reporter.open, key, opened_at=ops_alerts.trouble_began(state, now=now)
        )
        if incident is None or incident.alerted_at is not None:
            return
        if ops_alerts.is_stuck(state, since=incident.opened_at, now=now, after=self._after):
            alert = ops_alerts.spool_stuck(state, since=incident.opened_at, now=now)
            await run_in_threadpool(self._reporter.alert, alert, now=now)

    async def _temporal_answers(self) -> bool:
        # An open breaker is a start that just failed; otherwise ask, since with no traffic
        # nothing else would notice Temporal away.
        if self._breaker.is_open:
            return False
        try:
            await self._starter.check()
        except TemporalUnavailable:
            return False
        return True
