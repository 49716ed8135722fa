"""Telling exception watches what people changed, and the relay that tells them later what
could not be told at once.

A person's action marks its exception in its own transaction (`app.store.untold_watches`).
Right after the commit the web process, API and dashboard alike, tells each changed exception's
watch workflow (`tell_watches`, signal-with-start) and forgets the marks it told. When Temporal
is away the action stands and its marks stay: `WatchRelay`, which runs beside the spool relay
in every web process, tells them oldest first once Temporal answers, so that a reopened
exception gets its watch (and its escalation clock) back and an assignee's notice goes out.
Telling a watch twice (two web processes, a tell whose answer was lost) costs it one more turn,
never a second message.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine

from app.store import db, untold_watches
from app.store.exceptions import Outcome
from app.store.untold_watches import Untold

log = logging.getLogger("flexhook.watch_relay")

# Tells an exception's watch workflow that its exception changed (signal-with-start).
TellExceptionWatch = Callable[[int], Awaitable[None]]


async def _tell_each(
    tell: TellExceptionWatch, marks: Sequence[Untold]
) -> tuple[list[Untold], Untold | None]:
    """Tell the watch of each mark in turn; stop at the first failure (Temporal is away: each
    further call would wait out its timeout too) and leave it and the rest marked. Returns the
    marks told and the one whose tell failed."""
    told: list[Untold] = []
    for exception_id, version in marks:
        try:
            await tell(exception_id)
        except Exception as failure:  # whatever it was, the mark stays for the relay
            log.warning(
                "the watch of exception %s was not told of its change (%s): %d left for the "
                "relay to tell when Temporal answers",
                exception_id,
                type(failure).__name__,
                len(marks) - len(told),
            )
            return told, (exception_id, version)
        told.append((exception_id, version))
    return told, None


async def _forget(engine: Engine, told: Sequence[Untold]) -> bool:
    """Forget the marks told; False when the database would not (they are told once more)."""
    if not told:
        return True
    try:
        await db.in_session(engine, untold_watches.forget, commit=True, told=told)
    except Exception as failure:  # the relay tells them once more: a harmless extra turn
        log.warning("could not forget %d told marks (%s)", len(told), type(failure).__name__)
        return False
    return True


async def tell_watches(
    engine: Engine, tell: TellExceptionWatch | None, outcomes: Iterable[Outcome]
) -> int:
    """After a person's action committed: tell the watch of each exception it changed (its
    `outcomes`, each with the row version it changed to) and forget the marks told; return how
    many were told (none with no watch to tell)."""
    if tell is None:
        return 0
    told, _ = await _tell_each(tell, [(o.exception_id, o.version) for o in outcomes if o.changed])
    await _forget(engine, told)
    return len(told)


class WatchRelay:
    """Tells, every `idle`, the watches of marks older than `after` (younger ones are still
    their request's to tell), `batch` at a time, oldest first. A mark whose tell fails goes to
    the back of the queue and ends the round."""

    def __init__(
        self,
        engine: Engine,
        tell: TellExceptionWatch,
        *,
        after: timedelta = timedelta(seconds=30),
        idle: timedelta = timedelta(seconds=5),
        batch: int = 100,
    ) -> None:
        self._engine = engine
        self._tell = tell
        self._after = after
        self._idle = idle.total_seconds()
        self._batch = batch

    async def run(self) -> None:
        """Tell forever; cancel the task to stop."""
        while True:
            try:
                told = await self.tell_once()
            except Exception:  # the database may be away; keep the relay alive
                log.exception("exception watch relay round failed")
                told = 0
            if told < self._batch:
                await asyncio.sleep(self._idle)

    async def tell_once(self) -> int:
        """Tell one batch of due marks; return how many were told and forgotten (0 when they
        could not be forgotten, so that the loop waits before it tries again)."""
        now = datetime.now(UTC)
        due = await db.in_session(
            self._engine, untold_watches.due, before=now - self._after, limit=self._batch
        )
        told, failed = await _tell_each(self._tell, due)
        if failed is not None:
            await db.in_session(
                self._engine, untold_watches.put_back, commit=True, exception_id=failed[0], at=now
            )
        if not await _forget(self._engine, told):
            return 0
        if told:
            log.info("told %d exception watches of changes made while Temporal was away", len(told))
        return len(told)
