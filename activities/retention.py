"""The activity of `PayloadRetentionWorkflow`: remove the raw payloads of old events from the
event log (`app.store.retention`), batch after batch, heartbeating the last event id so that a
retried attempt resumes where the previous one stopped."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session
from temporalio import activity

from activities.retention_types import RemovedPayloads, RemovePayloadsInput
from app.store import retention


class RetentionActivities:
    """Over one engine; `batch` events per transaction."""

    def __init__(self, engine: Engine, *, batch: int = retention.DEFAULT_BATCH) -> None:
        self._engine = engine
        self._batch = batch

    @activity.defn(name="remove_old_payloads", no_thread_cancel_exception=True)
    def remove_old_payloads(self, input: RemovePayloadsInput) -> RemovedPayloads:
        """Remove the payloads of events received before `input.received_before` that are no
        longer queued or processing; how many were removed by this attempt."""
        received_before = datetime.fromisoformat(input.received_before)
        details = activity.info().heartbeat_details
        after = str(details[0]) if details else ""
        removed = 0
        while True:
            with Session(self._engine) as session:
                batch = retention.remove_payloads_batch(
                    session,
                    received_before=received_before,
                    after_event_id=after,
                    limit=self._batch,
                )
                session.commit()
            if batch.last_event_id is None:
                break
            removed, after = removed + batch.removed, batch.last_event_id
            activity.heartbeat(after)
        activity.logger.info(
            "payload retention: removed %d payload(s) of events received before %s",
            removed,
            input.received_before,
        )
        return RemovedPayloads(received_before=input.received_before, removed=removed)

    def all(self) -> list[Callable[..., Any]]:
        return [self.remove_old_payloads]
