"""A person's change that an exception's watch could not hear of at once (Temporal away) is
marked in the action's own transaction and told later by the web process's relay: the store's
marks on SQLite and PostgreSQL, and the relay's rounds. (The whole path on a real Temporal
server that is stopped and started again: `test_exception_watch_durability.py`.)"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.core.exception_families import exception_effect
from app.core.exception_state import ActionRefused
from app.ingest.watch_relay import WatchRelay, tell_watches
from app.store import exceptions, untold_watches
from app.store.untold_watches import Untold
from tests.unit.exception_samples import sample_event

pytestmark = pytest.mark.integration

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
HOLD_TYPE = "/shipment#customs_agriculture_hold"


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
    flexport = sample_event("01_shipment_created", event_type=HOLD_TYPE)
    effect = exception_effect(flexport.type, flexport.classification, flexport.facts())
    with Session(engine) as session:
        [outcome] = exceptions.record_event(
            session,
            shipment_id=shipment_id,
            event_id=f"hold-{shipment_id}",
            occurred_at=T0,
            effect=effect,
            severities={},
            now=T0,
        )
        session.commit()
    return outcome.exception_id


def act(engine: Engine, exception_id: int, action: exceptions.Action, at: datetime) -> None:
    with Session(engine) as session:
        exceptions.act(
            session, exception_id=exception_id, action=action, by="alice", at=at, note="on it"
        )
        session.commit()


def marks(engine: Engine) -> list[Untold]:
    with Session(engine) as session:
        return untold_watches.due(session, before=datetime.max.replace(tzinfo=UTC), limit=100)


def test_an_action_marks_its_exception_in_its_own_transaction(engine: Engine) -> None:
    exception_id = held(engine, "SHP-1")
    assert marks(engine) == []  # Flexport's report is told by its activity, retried by Temporal
    with Session(engine) as session:
        exceptions.act(session, exception_id=exception_id, action="acknowledge", by="alice", at=T0)
        session.rollback()
    assert marks(engine) == []

    act(engine, exception_id, "acknowledge", T0)

    assert marks(engine) == [(exception_id, T0)]


def test_a_refused_action_marks_nothing(engine: Engine) -> None:
    exception_id = held(engine, "SHP-1")
    with (
        Session(engine) as session,
        pytest.raises(ActionRefused, match="cannot reopen: it is open"),
    ):
        exceptions.act(session, exception_id=exception_id, action="reopen", by="alice", at=T0)
    assert marks(engine) == []


def test_telling_an_earlier_change_keeps_the_mark_of_a_later_one(engine: Engine) -> None:
    """Two people act on one exception; the first one's tell lands after the second commit:
    forgetting it must not drop the second change, whose own tell may yet fail."""
    exception_id = held(engine, "SHP-1")
    act(engine, exception_id, "acknowledge", T0)
    act(engine, exception_id, "note", T0 + timedelta(seconds=1))

    with Session(engine) as session:
        untold_watches.forget(session, [(exception_id, T0)])
        session.commit()

    assert marks(engine) == [(exception_id, T0 + timedelta(seconds=1))]


async def test_what_temporal_did_not_hear_is_told_by_the_relay_oldest_first(
    engine: Engine,
) -> None:
    ids = [held(engine, f"SHP-{n}") for n in range(3)]
    for offset, exception_id in enumerate(ids):
        act(engine, exception_id, "acknowledge", T0 + timedelta(seconds=offset))

    # The action's request tells the first watch; Temporal is away for the second, and the
    # third is not tried (each would wait out its timeout).
    watches = Watches(away={ids[1]})
    told = await tell_watches(engine, watches.tell, ids, at=T0 + timedelta(seconds=2))
    assert (told, watches.told) == (1, [ids[0]])
    assert [exception_id for exception_id, _ in marks(engine)] == ids[1:]

    relay = WatchRelay(engine, watches.tell, after=timedelta(0))
    assert await relay.tell_once() == 0  # still away: nothing forgotten
    assert [exception_id for exception_id, _ in marks(engine)] == ids[1:]

    watches.away.clear()  # Temporal answers again
    assert await relay.tell_once() == 2
    assert watches.told == ids
    assert marks(engine) == []


async def test_the_relay_leaves_a_fresh_change_to_its_own_request(engine: Engine) -> None:
    exception_id = held(engine, "SHP-1")
    act(engine, exception_id, "acknowledge", datetime.now(UTC))
    watches = Watches()

    assert await WatchRelay(engine, watches.tell, after=timedelta(minutes=1)).tell_once() == 0
    assert watches.told == []
    assert await WatchRelay(engine, watches.tell, after=timedelta(0)).tell_once() == 1
    assert watches.told == [exception_id]
