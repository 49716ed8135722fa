"""The relay: drains the spool into Temporal as soon as it answers, oldest first, and the
breaker that sends new events straight to the spool while Temporal is away.

Several web processes may each run a relay: leases keep them off each other's rows, and the
workflow id (one per event id) makes a start that slips through twice a harmless duplicate.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy.engine import Engine

from app.core.errors import MalformedEvent
from app.core.events import parse_event
from app.ingest.errors import EventRejected, TemporalUnavailable
from app.ingest.starter import EventStarter
from app.store import db, spool

log = logging.getLogger("flexhook.relay")
T = TypeVar("T")


class TemporalBreaker:
    """Open after a failed start: new events go straight to the spool instead of each waiting
    out the start timeout. The relay closes it when Temporal takes a start again."""

    def __init__(self) -> None:
        self._open = False

    @property
    def is_open(self) -> bool:
        return self._open

    def trip(self) -> None:
        if not self._open:
            log.warning("Temporal unavailable: spooling new events until it answers")
        self._open = True

    def reset(self) -> None:
        if self._open:
            log.info("Temporal answers again: starting new events directly")
        self._open = False


class SpoolRelay:
    def __init__(
        self,
        engine: Engine,
        starter: EventStarter,
        breaker: TemporalBreaker,
        *,
        batch: int = 100,
        idle: timedelta = timedelta(seconds=1),
        hold: timedelta = timedelta(seconds=30),
    ) -> None:
        self._engine = engine
        self._starter = starter
        self._breaker = breaker
        self._batch = batch
        self._idle = idle.total_seconds()
        self._hold = hold
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Something was spooled: look sooner than the idle interval."""
        self._wake.set()

    async def run(self) -> None:
        """Drain forever; cancel the task to stop."""
        while True:
            try:
                started = await self.drain_once()
            except Exception:  # the database may be away too; keep the relay alive
                log.exception("spool relay round failed")
                started = 0
            if started:
                continue
            if self._breaker.is_open:
                await self._probe()
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._idle)

    async def _probe(self) -> None:
        try:
            await self._starter.check()
        except TemporalUnavailable:
            return
        self._breaker.reset()

    async def _run(self, fn: Callable[..., T], **kwargs: Any) -> T:
        return await db.in_session(self._engine, fn, commit=True, **kwargs)

    async def drain_once(self) -> int:
        """Start one batch of spooled events; return how many Temporal took."""
        leased = await self._run(
            spool.lease, now=datetime.now(UTC), limit=self._batch, hold=self._hold
        )
        started = 0
        for index, item in enumerate(leased):
            try:
                event = parse_event(item.body.encode("utf-8"))
            except MalformedEvent:  # cannot happen for a verified event; never loop on it
                log.error(
                    "spooled event %s does not parse; dropping it from the spool", item.event_id
                )
                await self._run(spool.remove, spool_id=item.spool_id)
                continue
            try:
                await self._starter.start(event, body=item.body, received_at=item.received_at)
            except EventRejected as exc:  # never retry what Temporal refuses for good
                log.error("spooled event %s refused by Temporal: %s", item.event_id, exc)
                await self._run(
                    spool.reject, spool_id=item.spool_id, event_id=item.event_id, error=str(exc)
                )
                continue
            except TemporalUnavailable as exc:
                self._breaker.trip()
                for rest in leased[index:]:
                    await self._run(spool.release, spool_id=rest.spool_id, error=str(exc))
                return started
            self._breaker.reset()
            await self._run(spool.remove, spool_id=item.spool_id)
            started += 1
        if started:
            log.info("relayed %d spooled events to Temporal", started)
        return started
