"""Start or spool: what happens to a verified event between the webhook and its workflow.

Temporal first; while it is away (or the breaker says it is), the durable spool, from which the
relay starts the event later; with the database away too, nobody keeps the event and Flexport
must deliver it again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from app.core.events import Event
from app.core.ids import event_workflow_id
from app.core.statuses import StartStatus
from app.ingest.errors import EventRejected, TemporalUnavailable, Unavailable
from app.ingest.relay import TemporalBreaker
from app.ingest.starter import EventStarter, ensure_fits
from app.store import db, event_failures, spool
from app.store.spool_writer import SpoolWriter

# The webhook's lines, under the logger name operators already filter on.
log = logging.getLogger("flexhook.web")


def log_fields(event: Event) -> dict[str, str | None]:
    """The ids every log line about an event carries (JSON logs make them fields)."""
    return {
        "event_id": event.event_id,
        "workflow_id": event_workflow_id(event.event_id),
        "shipment_id": event.shipment_id,
    }


class Intake:
    """Takes verified events: started in Temporal, or kept in the spool until it answers."""

    def __init__(
        self,
        *,
        engine: Engine,
        starter: EventStarter,
        breaker: TemporalBreaker,
        on_spooled: Callable[[], None] = lambda: None,
    ) -> None:
        self._engine = engine
        self._starter = starter
        self._breaker = breaker
        self._on_spooled = on_spooled  # the relay's wake-up
        self._spool_writer = SpoolWriter(engine)  # one commit for all the events spooled meanwhile

    async def take(self, event: Event, *, body: str, received_at: datetime) -> StartStatus:
        """`accepted` or `duplicate` (Temporal took it), `queued` (kept in the spool).

        Raises `EventTooLarge` or `EventRejected` for an event Temporal can never take (one it
        refused is logged `failed` with the reason first: never lost without a trace), and
        `Unavailable` when neither Temporal nor the database took it.
        """
        ensure_fits(body)
        if not self._breaker.is_open:
            try:
                result = await self._starter.start(event, body=body, received_at=received_at)
            except TemporalUnavailable as exc:
                self._breaker.trip()
                log.warning(
                    "event %s (%s): Temporal unavailable (%s), spooling",
                    event.event_id,
                    event.type,
                    exc,
                    extra=log_fields(event),
                )
            except EventRejected as exc:
                await self._log_refused(event, body=body, received_at=received_at, error=str(exc))
                raise
            else:
                return result.status
        return await self._spool(event, body=body, received_at=received_at)

    async def _log_refused(
        self, event: Event, *, body: str, received_at: datetime, error: str
    ) -> None:
        try:
            await db.in_session(
                self._engine,
                event_failures.record_failed,
                commit=True,
                event=event,
                body=body,
                workflow_id=event_workflow_id(event.event_id),
                received_at=received_at,
                error=error,
            )
        except SQLAlchemyError:
            log.error("event %s refused by Temporal, not logged", event.event_id)

    async def close(self) -> None:
        """Release the spool writer's connection (the app is shutting down)."""
        await self._spool_writer.close()

    async def _spool(self, event: Event, *, body: str, received_at: datetime) -> StartStatus:
        try:
            status = await self._spool_writer.enqueue(spool.Spooling(event, body, received_at))
        except SQLAlchemyError as exc:
            log.error(
                "event %s not kept: the database is unavailable too",
                event.event_id,
                extra=log_fields(event),
            )
            raise Unavailable("Temporal and the database are unavailable; retry later") from exc
        self._on_spooled()
        return StartStatus(status)
