"""A stand-in for `EventStarter` that never talks to Temporal: it answers as it is told."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from app.core.events import Event
from app.core.ids import event_workflow_id
from app.core.statuses import StartStatus
from app.ingest.starter import EventStarter, StartResult


@dataclass
class Start:
    event_id: str
    rerun: bool


@dataclass
class FakeStarter(EventStarter):
    """Answers `answer`, or raises `error`; `during` runs inside each start (a concurrent
    request, say). Records every start it is asked for."""

    answer: StartStatus = StartStatus.ACCEPTED
    error: Exception | None = None
    during: Callable[[], None] = lambda: None
    starts: list[Start] = field(default_factory=list)

    async def start(
        self, event: Event, *, body: str, received_at: datetime, rerun: bool = False
    ) -> StartResult:
        self.starts.append(Start(event.event_id, rerun))
        self.during()
        if self.error is not None:
            raise self.error
        return StartResult(status=self.answer, workflow_id=event_workflow_id(event.event_id))

    async def check(self) -> None:
        if self.error is not None:
            raise self.error
