"""Exception changes whose watch workflow has not heard of them yet (`UntoldWatch`): the
transactional outbox between a person's action and `ExceptionWatchWorkflow`.

`mark` runs in the action's own transaction, so no committed change can miss its watch: the web
process tells the watch right after the commit and `forget`s the mark, and whatever stays
marked (Temporal was away, the process died in between) is told later by the relay
(`app.ingest.watch_relay`), oldest first (`due`). Telling a watch twice costs it one more turn,
never a second message. Every function works in its caller's session and never commits.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import bindparam, delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from app.store.exception_models import UntoldWatch

Untold = tuple[int, datetime]  # an exception's id and when its latest untold change was made


def mark(session: Session, exception_id: int, *, at: datetime) -> None:
    """`exception_id` changed at `at` and its watch is still to hear of it. A later change
    moves `since` on, so that telling the earlier one does not forget it (`forget`)."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    insert = dialect.insert(UntoldWatch).values(exception_id=exception_id, since=at)
    session.execute(
        insert.on_conflict_do_update(
            index_elements=["exception_id"],
            set_={"since": insert.excluded.since},
            where=col(UntoldWatch.since) < insert.excluded.since,
        )
    )


def due(session: Session, *, before: datetime, limit: int) -> list[Untold]:
    """The oldest `limit` marks made before `before` (younger ones are still their request's
    to tell)."""
    rows = session.exec(
        select(UntoldWatch.exception_id, UntoldWatch.since)
        .where(col(UntoldWatch.since) < before)
        .order_by(col(UntoldWatch.since))
        .limit(limit)
    ).all()
    return [(exception_id, since) for exception_id, since in rows]


def forget(session: Session, told: Iterable[Untold]) -> None:
    """The watches of `told` heard of every change up to its time: remove those marks, and
    keep any that a later change moved on meanwhile."""
    params = [{"told_id": exception_id, "told_at": at} for exception_id, at in told]
    if not params:
        return
    session.connection().execute(
        delete(UntoldWatch).where(
            col(UntoldWatch.exception_id) == bindparam("told_id"),
            col(UntoldWatch.since) <= bindparam("told_at"),
        ),
        params,
    )
