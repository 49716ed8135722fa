"""The spool's one writer per process: group commit for events that Temporal could not take.

Callers queue an event and wait; one task takes everything queued meanwhile, writes it in one
transaction off the event loop (`spool.enqueue_many`), commits once and then answers each caller.
An answer therefore still means the event is stored, while a burst costs one commit, not one per
event and one wait for SQLite's write lock each. A batch the database refuses for its data is
written again one event at a time, so that a bad event fails alone. The writer keeps one
connection open for its batches (no session, no pool checkout per batch) and opens a new one
after a database error.
"""

from __future__ import annotations

import asyncio
import contextlib
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import Connection
from sqlalchemy.engine import Engine
from sqlalchemy.exc import (
    DBAPIError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    SQLAlchemyError,
)

from app.store import spool

_Waiting = tuple[spool.Spooling, "asyncio.Future[spool.Outcome]"]


class SpoolWriter:
    """Writes spooled events in batches of at most `max_batch`, one commit each, on a thread of
    its own (one batch at a time, never waiting for a thread the requests' reads hold)."""

    def __init__(self, engine: Engine, *, max_batch: int = 500, linger: float = 0.001) -> None:
        self._engine = engine
        self._max_batch = max_batch
        self._linger = linger
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="spool-writer")
        self._connection: Connection | None = None  # used on `_thread` only
        self._queue: list[_Waiting] = []
        self._task: asyncio.Task[None] | None = None
        self._last_batch = 1
        self._filled: asyncio.Event | None = None

    async def enqueue(self, item: spool.Spooling) -> spool.Outcome:
        """`queued` or `duplicate` once the batch holding `item` is committed; raises what the
        batch raised (a `SQLAlchemyError` when the database is away) if it was not."""
        future: asyncio.Future[spool.Outcome] = asyncio.get_running_loop().create_future()
        self._queue.append((item, future))
        if self._task is None:  # the writer runs while there is work, then ends
            self._task = asyncio.create_task(self._drain(), name="spool-writer")
        elif self._filled is not None and len(self._queue) >= self._last_batch:
            self._filled.set()
        return await future

    async def _drain(self) -> None:
        try:
            while self._queue:
                await self._gather()
                batch = self._queue[: self._max_batch]
                del self._queue[: self._max_batch]
                self._last_batch = len(batch)
                await self._write(batch)
        finally:
            self._task = None
            for _, future in self._queue:  # only left over when the loop cancels the writer
                future.cancel()
            self._queue.clear()

    async def _gather(self) -> None:
        """Let the requests that already arrived reach the queue (a turn of the event loop);
        under load, when the last batch had company, wait up to `linger` for as many events as
        it held: a fuller batch, one commit fewer. A lone event never waits."""
        await asyncio.sleep(0)
        if len(self._queue) >= self._last_batch:
            return
        self._filled = asyncio.Event()
        try:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._linger):
                    await self._filled.wait()
        finally:
            self._filled = None

    async def _write(self, batch: list[_Waiting]) -> None:
        items = [item for item, _ in batch]
        try:
            try:
                outcomes = await self._commit(items)
            except IntegrityError:
                # Another process logged one of these ids since the lookup: look again.
                outcomes = await self._commit(items)
        except asyncio.CancelledError:
            for _, future in batch:
                future.cancel()
            raise
        except Exception as exc:
            if len(batch) > 1 and not _database_away(exc):
                await self._write_alone(batch)  # one bad event: it alone fails
                return
            for _, future in batch:  # every caller of the batch hears why it was not stored
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            if not future.done():  # a caller that gave up still had its event stored
                future.set_result(outcome)

    async def _write_alone(self, batch: list[_Waiting]) -> None:
        """Each event of a refused batch in a transaction of its own."""
        for position, (item, future) in enumerate(batch):
            try:
                [outcome] = await self._commit([item])
            except asyncio.CancelledError:
                for _, waiting in batch[position:]:  # none of the rest is left in the queue
                    waiting.cancel()
                raise
            except Exception as exc:
                if not future.done():
                    future.set_exception(exc)
                continue
            if not future.done():
                future.set_result(outcome)

    async def _commit(self, items: list[spool.Spooling]) -> list[spool.Outcome]:
        return await asyncio.get_running_loop().run_in_executor(self._thread, self._store, items)

    def _store(self, items: list[spool.Spooling]) -> list[spool.Outcome]:
        """One transaction for `items` on the writer's connection (on `_thread`); once more on a
        new connection when the held one turns out dead (the database restarted meanwhile)."""
        try:
            return self._store_once(items)
        except DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
            return self._store_once(items)

    def _store_once(self, items: list[spool.Spooling]) -> list[spool.Outcome]:
        if self._connection is None:
            self._connection = self._engine.connect()
        try:
            with self._connection.begin():
                return spool.enqueue_many(self._connection, items=items)
        except SQLAlchemyError:
            self._close()  # it may be broken (the database went away): the next batch reconnects
            raise

    async def close(self) -> None:
        """Give the writer's connection back and end its thread (at shutdown, once idle)."""
        await asyncio.get_running_loop().run_in_executor(self._thread, self._close)
        self._thread.shutdown(wait=False)

    def _close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(SQLAlchemyError):
                connection.close()


def _database_away(exc: Exception) -> bool:
    """Whether the database (not one event's data) is the trouble: then writing the events one at
    a time would only fail as often as they are many. Any other error (a data error, a bug that
    one event's values trigger) is tried event by event, so that it fails that event alone."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, (OperationalError, InterfaceError))
