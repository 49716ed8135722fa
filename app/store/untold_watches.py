"""Exception changes whose watch workflow has not heard of them yet (`UntoldWatch`): the
transactional outbox between a person's action and `ExceptionWatchWorkflow`.

`mark` runs in the action's own transaction, so no committed change can miss its watch: the web
process tells the watch right after the commit and `forget`s the mark, and whatever stays
marked (Temporal was away, the process died in between) is told later by the relay
(`app.ingest.watch_relay`), oldest first (`due`). A mark holds the row version of the latest
untold change: a later change moves it on, so telling an earlier one never forgets it, whatever
the two requests' clocks say. Telling a watch twice costs it one more turn, never a second
message. Marks are written and deleted in ascending exception id within a transaction, so a bulk
action and a forget never lock two marks in opposite orders (PostgreSQL). Every function works
in its caller's session and never commits.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import bindparam, delete, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from app.store.exception_models import UntoldWatch

Untold = tuple[int, int]  # an exception's id and its row version after the change to tell


def mark(session: Session, exception_id: int, *, version: int, at: datetime) -> None:
    """`exception_id` changed to `version` at `at`, and its watch is still to hear of it."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    insert = dialect.insert(UntoldWatch).values(
        exception_id=exception_id, version=version, since=at
    )
    session.execute(
        insert.on_conflict_do_update(
            index_elements=["exception_id"],
            set_={"version": insert.excluded.version, "since": insert.excluded.since},
            where=col(UntoldWatch.version) < insert.excluded.version,
        )
    )


def due(session: Session, *, before: datetime, limit: int) -> list[Untold]:
    """The oldest `limit` marks made (or put back) before `before`: younger ones are still
    their request's to tell."""
    rows = session.exec(
        select(UntoldWatch.exception_id, UntoldWatch.version)
        .where(col(UntoldWatch.since) < before)
        .order_by(col(UntoldWatch.since), col(UntoldWatch.exception_id))
        .limit(limit)
    ).all()
    return [(exception_id, version) for exception_id, version in rows]


def forget(session: Session, told: Iterable[Untold]) -> None:
    """The watches of `told` heard of every change up to its version: remove those marks, and
    keep any that a later change moved on meanwhile."""
    params = [{"told_id": i, "told_version": v} for i, v in sorted(told)]
    if not params:
        return
    session.connection().execute(
        delete(UntoldWatch).where(
            col(UntoldWatch.exception_id) == bindparam("told_id"),
            col(UntoldWatch.version) <= bindparam("told_version"),
        ),
        params,
    )


def put_back(session: Session, exception_id: int, *, at: datetime) -> None:
    """A tell of `exception_id` failed: it queues behind the others from `at` on, so that one
    mark that cannot be told never holds up the rest."""
    session.execute(
        update(UntoldWatch).where(col(UntoldWatch.exception_id) == exception_id).values(since=at)
    )
