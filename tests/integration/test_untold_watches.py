"""A person's change that an exception's watch could not hear of at once (Temporal away) is
marked in the action's own transaction and told later by the web process's relay: the store's
marks on SQLite and PostgreSQL, and the relay's rounds. (The whole path on a real Temporal
server that is stopped and started again: `test_exception_watch_durability.py`.)"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.core.exception_state import ActionRefused
from app.ingest.watch_relay import WatchRelay, tell_watches
from app.store import db, exceptions, untold_watches
from app.store.untold_watches import Untold
from tests.unit.test_exception_store import HOLD, T0, record

pytestmark = pytest.mark.integration

EVER = datetime.max.replace(tzinfo=UTC)


class TemporalAway(Exception):
    pass


class Watches:
    """What the web process tells watches with: each id it was told, and the ids whose tell
    fails as it would while Temporal is away."""

    def __init__(self, away: set[int] | None = None) -> None:
        self.told: list[int] = []
        self.away = away or set()

    async def tell(self, exception_id: int) -> None:
        if exception_id in self.away:
            raise TemporalAway
        self.told.append(exception_id)


def held(engine: Engine, shipment_id: str) -> int:
    """A customs hold on `shipment_id` (sample 01, retyped): its exception's id."""
    return record(engine, HOLD, f"hold-{shipment_id}", 0, shipment_id=shipment_id)[0].exception_id


def act(
    engine: Engine, exception_id: int, action: exceptions.Action, at: datetime
) -> exceptions.Outcome:
    with Session(engine) as session:
        outcome = exceptions.act(
            session, exception_id=exception_id, action=action, by="alice", at=at, note="on it"
        )
        session.commit()
    return outcome


def marks(engine: Engine) -> list[Untold]:
    with Session(engine) as session:
        return untold_watches.due(session, before=EVER, limit=100)


@pytest.fixture
def read_only(engine: Engine) -> Iterator[Engine]:
    """The same database through connections that read but cannot write (a read-only
    failover, a locked file)."""
    readers = db.create_db_engine(str(engine.url.render_as_string(hide_password=False)))

    @event.listens_for(readers, "connect")
    def refuse_writes(connection: Any, _: Any) -> None:
        cursor = connection.cursor()
        if readers.dialect.name == "sqlite":
            cursor.execute("PRAGMA query_only = ON")
        else:  # kept for the session: a SET in a transaction rolled back is undone
            cursor.execute("SET default_transaction_read_only = on")
            connection.commit()
        cursor.close()

    yield readers
    readers.dispose()


def test_an_action_marks_its_exception_with_the_version_it_changed_to(engine: Engine) -> None:
    exception_id = held(engine, "SHP-1")
    assert marks(engine) == []  # Flexport's report is told by its activity, retried by Temporal
    with Session(engine) as session:
        exceptions.act(session, exception_id=exception_id, action="acknowledge", by="alice", at=T0)
        session.rollback()
    assert marks(engine) == []

    acknowledged = act(engine, exception_id, "acknowledge", T0)

    assert acknowledged.version == 2
    assert marks(engine) == [(exception_id, 2)]


def test_a_refused_action_marks_nothing(engine: Engine) -> None:
    exception_id = held(engine, "SHP-1")
    with (
        Session(engine) as session,
        pytest.raises(ActionRefused, match="cannot reopen: it is open"),
    ):
        exceptions.act(session, exception_id=exception_id, action="reopen", by="alice", at=T0)
    assert marks(engine) == []


def test_telling_an_earlier_change_keeps_the_mark_of_a_later_one_whatever_the_clocks(
    engine: Engine,
) -> None:
    """Two people act on one exception; the first one's tell lands after the second commit.
    Forgetting it must not drop the second change, whose own tell may yet fail, even when the
    second request's clock is behind the first's (two web processes)."""
    exception_id = held(engine, "SHP-1")
    first = act(engine, exception_id, "acknowledge", T0)
    second = act(engine, exception_id, "note", T0 - timedelta(seconds=5))

    with Session(engine) as session:
        untold_watches.forget(session, [(exception_id, first.version)])
        session.commit()

    assert marks(engine) == [(exception_id, second.version)]


async def test_what_temporal_did_not_hear_is_told_by_the_relay_oldest_first(
    engine: Engine,
) -> None:
    ids = [held(engine, f"SHP-{n}") for n in range(3)]
    changed = [act(engine, i, "acknowledge", T0 + timedelta(seconds=n)) for n, i in enumerate(ids)]

    # The action's request tells the first watch; Temporal is away for the second, and the
    # third is not tried (each would wait out its timeout).
    watches = Watches(away={ids[1]})
    told = await tell_watches(engine, watches.tell, changed)
    assert (told, watches.told) == (1, [ids[0]])
    assert [exception_id for exception_id, _ in marks(engine)] == ids[1:]

    relay = WatchRelay(engine, watches.tell, after=timedelta(0))
    assert await relay.tell_once() == 0  # still away: nothing forgotten
    assert sorted(exception_id for exception_id, _ in marks(engine)) == ids[1:]

    watches.away.clear()  # Temporal answers again
    assert await relay.tell_once() == 2
    assert sorted(watches.told) == sorted(ids)
    assert marks(engine) == []


async def test_a_mark_that_cannot_be_told_queues_behind_the_others(engine: Engine) -> None:
    stuck, other = (held(engine, f"SHP-{n}") for n in range(2))
    act(engine, stuck, "acknowledge", T0)
    act(engine, other, "acknowledge", T0 + timedelta(seconds=1))
    watches = Watches(away={stuck})
    relay = WatchRelay(engine, watches.tell, after=timedelta(0))

    assert await relay.tell_once() == 0  # the oldest fails, and goes to the back
    assert await relay.tell_once() == 1

    assert watches.told == [other]
    assert [exception_id for exception_id, _ in marks(engine)] == [stuck]


async def test_the_relay_rests_when_it_cannot_forget_what_it_told(
    engine: Engine, read_only: Engine
) -> None:
    """Reads work, writes do not: the round tells its marks, cannot forget them and says 0, so
    that the loop waits its idle time instead of telling the same watches again at once."""
    exception_id = held(engine, "SHP-1")
    act(engine, exception_id, "acknowledge", T0)
    watches = Watches()

    assert await WatchRelay(read_only, watches.tell, after=timedelta(0)).tell_once() == 0
    assert watches.told == [exception_id]
    assert [i for i, _ in marks(engine)] == [exception_id]


async def test_the_relay_leaves_a_fresh_change_to_its_own_request(engine: Engine) -> None:
    exception_id = held(engine, "SHP-1")
    act(engine, exception_id, "acknowledge", datetime.now(UTC))
    watches = Watches()

    assert await WatchRelay(engine, watches.tell, after=timedelta(minutes=1)).tell_once() == 0
    assert watches.told == []
    assert await WatchRelay(engine, watches.tell, after=timedelta(0)).tell_once() == 1
    assert watches.told == [exception_id]
