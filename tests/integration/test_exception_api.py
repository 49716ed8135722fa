"""The exception inbox through `/api` on the real stack (uvicorn, the token middleware, SQLite or
PostgreSQL): who may read and act, what a request may not say (a stranger to assign to, a note
with control characters, a changed cursor), that notes reach the timeline and never a log, and
the behaviour an operations team relies on: filters and keyset pages, an acknowledged hold that
Flexport's release resolves, bulk acknowledgement, and the watch told of every change.

Exceptions are opened the way the worker opens them: `app.store.exceptions.record_event` with
the effect of a Flexport-shaped event (a packaged sample retyped as a hold or a delay)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlmodel import Session, col, select

from app.core.access import Role
from app.core.exception_families import ExceptionEffect, exception_effect
from app.store import exceptions
from app.store.models import AuditEntry
from app.web.exceptions import BULK_LIMIT
from tests.integration.exception_stack import untold
from tests.integration.harness import Stack, StackFactory
from tests.integration.test_authorization import make_token
from tests.log_registry import register_secret
from tests.unit.exception_samples import sample_event

pytestmark = pytest.mark.timeout(240)

HOLD_TYPE = "/shipment#customs_agriculture_hold"
DELAY_TYPE = "/shipment#cargo_ready_date_changed_exception"
ACTIONS = ("acknowledge", "assign", "note", "snooze", "resolve", "reopen")
T0 = datetime.now(UTC) - timedelta(days=1)


def effect_of(prefix: str, event_type: str | None = None) -> ExceptionEffect:
    flexport = sample_event(prefix, event_type=event_type)
    return exception_effect(flexport.type, flexport.classification, flexport.facts())


HOLD = effect_of("01_shipment_created", HOLD_TYPE)
DELAY = effect_of("01_shipment_created", DELAY_TYPE)
RELEASE = effect_of("11_customs_released")


def record(stack: Stack, effect: ExceptionEffect, *, shipment_id: str, event_id: str) -> int:
    """What the worker records of one Flexport event; the id of the exception it touched."""
    with Session(stack.engine) as session:
        outcomes = exceptions.record_event(
            session,
            shipment_id=shipment_id,
            event_id=event_id,
            occurred_at=T0 + timedelta(minutes=len(event_id)),
            effect=effect,
            severities={},
            now=T0 + timedelta(hours=1),
        )
        session.commit()
    return outcomes[-1].exception_id


def open_holds(stack: Stack, count: int, *, prefix: str = "HOLD") -> list[int]:
    return [
        record(stack, HOLD, shipment_id=f"{prefix}-{n}", event_id=f"{prefix.lower()}-{n}")
        for n in range(count)
    ]


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def audit_trail(stack: Stack) -> list[AuditEntry]:
    with Session(stack.engine) as session:
        return list(session.exec(select(AuditEntry).order_by(col(AuditEntry.id))).all())


class Told:
    """A recording `tell_exception_watch` (the integrator wires Temporal's signal)."""

    def __init__(self, *, fail: bool = False) -> None:
        self.ids: list[int] = []
        self.fail = fail

    async def __call__(self, exception_id: int) -> None:
        self.ids.append(exception_id)
        if self.fail:
            raise ConnectionError("temporal is away")


class Inbox:
    """The stack, its people and what the watch was told."""

    def __init__(self, stack: Stack, told: Told) -> None:
        self.stack, self.told = stack, told
        self.viewer = make_token(stack, "vera", Role.VIEWER)
        self.operator = make_token(stack, "otto", Role.OPERATOR)
        make_token(stack, "ada", Role.VIEWER)  # someone to assign to

    async def act(self, exception_id: int | str, action: str, **body: Any) -> httpx.Response:
        return await self.stack.http.post(
            f"/api/exceptions/{exception_id}/{action}", json=body, headers=bearer(self.operator)
        )

    async def bulk(self, body: dict[str, Any], token: str | None = None) -> httpx.Response:
        headers = bearer(token or self.operator)
        return await self.stack.http.post("/api/exceptions/bulk", json=body, headers=headers)

    async def get(self, path: str, **params: Any) -> httpx.Response:
        return await self.stack.http.get(f"/api{path}", params=params, headers=bearer(self.viewer))


@pytest.fixture
def told() -> Told:
    return Told()


@pytest.fixture
async def inbox(make_stack: StackFactory, told: Told) -> Inbox:
    stack = await make_stack(
        with_worker=False, refused_tokens_per_minute=1000, tell_exception_watch=told
    )
    return Inbox(stack, told)


# -- attackers first ----------------------------------------------------------------------------


async def test_without_a_token_every_exception_operation_is_401(inbox: Inbox) -> None:
    [hold] = open_holds(inbox.stack, 1)
    http = inbox.stack.http
    answers = [
        await http.get("/api/exceptions"),
        await http.get(f"/api/exceptions/{hold}"),
        await http.post("/api/exceptions/bulk", json={"filter": {}, "action": "acknowledge"}),
        *[await http.post(f"/api/exceptions/{hold}/{action}", json={}) for action in ACTIONS],
        await http.post(f"/api/exceptions/{hold}/acknowledge", headers=bearer("fxh_not_a_token")),
    ]

    assert [a.status_code for a in answers] == [401] * 10
    assert (await inbox.get(f"/exceptions/{hold}")).json()["state"] == "open"
    assert not audit_trail(inbox.stack)
    assert inbox.told.ids == []


async def test_a_viewer_reads_but_every_action_and_bulk_is_403(inbox: Inbox) -> None:
    [hold] = open_holds(inbox.stack, 1)
    http, viewer = inbox.stack.http, bearer(inbox.viewer)
    bodies = {"assign": {"assignee": "ada"}, "note": {"note": "on it"}}
    bodies["snooze"] = {"until": (datetime.now(UTC) + timedelta(hours=1)).isoformat()}
    refused = [
        await http.post(f"/api/exceptions/{hold}/{a}", json=bodies.get(a, {}), headers=viewer)
        for a in ACTIONS
    ]
    refused.append(await inbox.bulk({"filter": {}, "action": "acknowledge"}, inbox.viewer))
    listed = await inbox.get("/exceptions")
    one = await inbox.get(f"/exceptions/{hold}")

    assert [r.status_code for r in refused] == [403] * 7
    assert {r.json()["error"] for r in refused} == {"forbidden"}
    assert [e["id"] for e in listed.json()["exceptions"]] == [hold]
    assert one.status_code == 200 and one.json()["state"] == "open"
    assert [entry["what"] for entry in one.json()["timeline"]] == ["opened"]
    assert not audit_trail(inbox.stack) and inbox.told.ids == []


async def test_nobody_can_assign_to_a_stranger(inbox: Inbox) -> None:
    [hold] = open_holds(inbox.stack, 1)
    make_token(inbox.stack, "gone", Role.OPERATOR, expired=True)

    strangers = [
        await inbox.act(hold, "assign", assignee=name) for name in ("mallory", "gone", "a b", "")
    ]
    in_bulk = await inbox.bulk({"filter": {}, "action": "assign", "assignee": "mallory"})
    assigned = await inbox.act(hold, "assign", assignee="ada")

    assert [s.status_code for s in strangers] == [400] * 4
    assert [s.json()["error"] for s in strangers[:2]] == ["unknown_assignee"] * 2
    assert in_bulk.status_code == 400 and in_bulk.json()["error"] == "unknown_assignee"
    assert assigned.status_code == 200 and assigned.json()["assignee"] == "ada"
    assert [e.target for e in audit_trail(inbox.stack)] == [f"exception {hold}"]


async def test_an_id_of_another_shape_or_unknown_is_404(inbox: Inbox) -> None:
    [hold] = open_holds(inbox.stack, 1)
    shapes = ["abc", "1e3", "-1", "%C2%B2", "99999999999999999999", str(hold + 1000)]

    read = [await inbox.get(f"/exceptions/{shape}") for shape in shapes]
    acted = [await inbox.act(shape, "acknowledge") for shape in shapes]

    assert [r.status_code for r in read] == [404] * len(shapes)
    assert [r.status_code for r in acted] == [404] * len(shapes)
    assert not audit_trail(inbox.stack)


async def test_a_note_with_control_characters_or_too_long_is_400(inbox: Inbox) -> None:
    [hold] = open_holds(inbox.stack, 1)
    bad_notes = ["ok\x1b[31m red", "nul\x00", "bell\x07", "c1\x85", "x" * 10_000, "x" * 2001]

    single = [await inbox.act(hold, "note", note=note) for note in bad_notes]
    bulk = [
        await inbox.bulk({"filter": {}, "action": "acknowledge", "note": note})
        for note in bad_notes
    ]
    blank = await inbox.act(hold, "note", note="  \n ")
    fine = await inbox.act(hold, "note", note="line one\n\tline two\r\n" + "y" * 1970)

    assert [r.status_code for r in single + bulk + [blank]] == [400] * 13
    assert "control characters" in single[0].json()["detail"]
    assert "at most 2000 characters" in single[4].json()["detail"]
    assert fine.status_code == 200
    timeline = (await inbox.get(f"/exceptions/{hold}")).json()["timeline"]
    assert [entry["what"] for entry in timeline] == ["opened", "noted"]


async def test_a_snooze_must_end_in_the_future_and_name_its_zone(inbox: Inbox) -> None:
    [hold] = open_holds(inbox.stack, 1)
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    no_zone = (datetime.now(UTC) + timedelta(hours=1)).replace(tzinfo=None).isoformat()

    answers = [
        await inbox.act(hold, "snooze", until=past),
        await inbox.act(hold, "snooze", until=no_zone),
        await inbox.act(hold, "snooze", until="tomorrow"),
        await inbox.act(hold, "snooze"),
        await inbox.bulk({"filter": {}, "action": "snooze"}),
    ]

    assert [a.status_code for a in answers] == [400] * 5
    assert answers[0].json()["detail"] == "until must be in the future"
    assert "with a zone" in answers[1].json()["detail"]


async def test_unknown_filter_values_and_a_changed_cursor_are_400(inbox: Inbox) -> None:
    open_holds(inbox.stack, 3)
    first = (await inbox.get("/exceptions", limit=1)).json()
    cursor = first["next"]
    rank, micros, last, tag = cursor.split(".")
    changed = [
        f"{rank}.{micros}.{int(last) + 1}.{tag}",
        f"{rank}.{int(micros) - 1}.{last}.{tag}",
        f"{rank}.{micros}.{last}",
        cursor[:-1],
        "garbage",
    ]

    refused = [
        await inbox.get("/exceptions", state="closed"),
        await inbox.get("/exceptions", family="customs"),
        await inbox.get("/exceptions", severity="urgent"),
        await inbox.get("/exceptions", limit=0),
        await inbox.get("/exceptions", limit=201),
        *[await inbox.get("/exceptions", after=value) for value in changed],
    ]
    in_bulk = await inbox.bulk({"filter": {"state": "closed"}, "action": "acknowledge"})
    no_filter = await inbox.bulk({"action": "acknowledge"})

    assert [r.status_code for r in refused] == [400] * 10
    assert "open, acknowledged, snoozed, resolved" in refused[0].json()["detail"]
    assert "customs_hold" in refused[1].json()["detail"]
    assert "critical, high, normal, low" in refused[2].json()["detail"]
    assert refused[5].json()["detail"].startswith("after is not a cursor")
    assert in_bulk.status_code == 400 and "open, acknowledged" in in_bulk.json()["detail"]
    assert no_filter.status_code == 400
    assert not audit_trail(inbox.stack)


async def test_notes_reach_the_timeline_and_never_a_log(
    inbox: Inbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    holds = open_holds(inbox.stack, 2)
    notes = [f"customs broker {n} said: call +1 555 0100 ext {n}" for n in range(6)]
    for note in notes:
        register_secret(note)  # the run fails if any log record anywhere holds it

    await inbox.act(holds[0], "acknowledge", note=notes[0])
    await inbox.act(holds[0], "assign", assignee="ada", note=notes[1])
    await inbox.act(holds[0], "note", note=notes[2])
    await inbox.act(holds[0], "resolve", note=notes[3])
    await inbox.act(holds[0], "reopen", note=notes[4])
    await inbox.bulk({"filter": {"state": "open"}, "action": "acknowledge", "note": notes[5]})

    timeline = (await inbox.get(f"/exceptions/{holds[0]}")).json()["timeline"]
    assert [(e["who"], e["what"]) for e in timeline] == [
        ("flexport:hold-0", "opened"),
        ("otto", "acknowledged"),
        ("otto", "assigned"),
        ("otto", "noted"),
        ("otto", "resolved"),
        ("otto", "reopened"),
        ("otto", "acknowledged"),
    ]
    assert [e["note"] for e in timeline[1:]] == [
        notes[0],
        f"to ada: {notes[1]}",
        *notes[2:],
    ]
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "exception" in logged
    assert not [note for note in notes if note in logged]
    assert not [e for e in audit_trail(inbox.stack) for n in notes if n in e.target + e.outcome]


# -- behaviour ----------------------------------------------------------------------------------


async def pages(inbox: Inbox, **params: Any) -> list[list[dict[str, Any]]]:
    """Every page of the list, following `next`."""
    found: list[list[dict[str, Any]]] = []
    after: str | None = None
    while True:
        answer = await inbox.get("/exceptions", **params, **({"after": after} if after else {}))
        assert answer.status_code == 200, answer.text
        found.append(answer.json()["exceptions"])
        after = answer.json()["next"]
        if after is None:
            return found


async def test_the_list_filters_and_pages_in_inbox_order(inbox: Inbox) -> None:
    holds = open_holds(inbox.stack, 4)  # critical
    delays = [
        record(inbox.stack, DELAY, shipment_id=f"SHP-{n}", event_id=f"delay-{n}") for n in range(3)
    ]  # high
    await inbox.act(holds[1], "acknowledge")
    await inbox.act(delays[2], "assign", assignee="ada")
    record(inbox.stack, RELEASE, shipment_id="HOLD-3", event_id="release-3")

    paged = await pages(inbox, limit=3)
    everything = [e["id"] for page in paged for e in page]

    assert [len(page) for page in paged] == [3, 3, 1]
    assert everything == [*holds, *delays]  # most severe first, then oldest, then id
    by_filter = {
        "family": await pages(inbox, family="departure_delay", limit=2),
        "severity": await pages(inbox, severity="critical"),
        "acknowledged": await pages(inbox, state="acknowledged"),
        "resolved": await pages(inbox, state="resolved"),
        "open": await pages(inbox, state="open", limit=200),
        "shipment": await pages(inbox, shipment_id="SHP-1"),
        "assignee": await pages(inbox, assignee="ada"),
        "nothing": await pages(inbox, shipment_id="SHP-404"),
    }
    ids = {name: [e["id"] for page in found for e in page] for name, found in by_filter.items()}
    assert ids == {
        "family": delays,
        "severity": holds,
        "acknowledged": [holds[1]],
        "resolved": [holds[3]],
        "open": [holds[0], holds[2], delays[0], delays[1], delays[2]],
        "shipment": [delays[1]],
        "assignee": [delays[2]],
        "nothing": [],
    }
    first = paged[0][0]
    assert first == {
        "id": holds[0],
        "shipment_id": "HOLD-0",
        "family": "customs_hold",
        "severity": "critical",
        "state": "open",
        "occurrences": 1,
        "recurrences": 0,
        "opened_at": first["opened_at"],
        "acknowledged_by": None,
        "acknowledged_at": None,
        "assignee": None,
        "snoozed_until": None,
        "resolved_by": None,
        "resolved_at": None,
        "url": f"/dashboard/exceptions/{holds[0]}",
    }


async def test_an_acknowledged_hold_that_flexport_releases_is_resolved_and_stays_so(
    inbox: Inbox,
) -> None:
    hold = record(inbox.stack, HOLD, shipment_id="418563", event_id="81001")
    acknowledged = await inbox.act(hold, "acknowledge", note="broker called")

    record(inbox.stack, RELEASE, shipment_id="418563", event_id="81002")
    released = await inbox.get(f"/exceptions/{hold}")
    again = await inbox.act(hold, "acknowledge")
    by_hand = await inbox.act(hold, "resolve", note="done")

    assert acknowledged.status_code == 200
    assert (acknowledged.json()["state"], acknowledged.json()["acknowledged_by"]) == (
        "acknowledged",
        "otto",
    )
    answer = released.json()
    assert (answer["state"], answer["resolved_by"]) == ("resolved", "flexport:81002")
    assert answer["resolved_at"] is not None
    assert [(e["who"], e["what"]) for e in answer["timeline"]] == [
        ("flexport:81001", "opened"),
        ("otto", "acknowledged"),
        ("flexport:81002", "resolved"),
    ]
    assert (again.status_code, again.json()["error"]) == (409, "action_refused")
    assert "resolved by flexport:81002" in again.json()["detail"]
    assert by_hand.status_code == 409
    assert inbox.told.ids == [hold]  # only the acknowledgement changed it
    assert [e.action for e in audit_trail(inbox.stack)] == ["exception.acknowledge"]


async def test_every_action_answers_the_exception_after_it(inbox: Inbox) -> None:
    hold, delay = (
        open_holds(inbox.stack, 1)[0],
        record(inbox.stack, DELAY, shipment_id="SHP-9", event_id="delay-9"),
    )
    until = datetime.now(UTC) + timedelta(hours=2)

    snoozed = await inbox.act(delay, "snooze", until=until.isoformat(), note="after the weekend")
    hold_without_note = await inbox.act(hold, "resolve")
    resolved = await inbox.act(delay, "resolve", note="loaded on the next vessel")
    reopened = await inbox.act(delay, "reopen")
    not_resolved = await inbox.act(delay, "reopen")

    assert snoozed.status_code == 200
    assert snoozed.json()["state"] == "snoozed"
    assert datetime.fromisoformat(snoozed.json()["snoozed_until"]) == until
    assert hold_without_note.status_code == 409  # a hold clears itself: say why you do not wait
    assert "note" in hold_without_note.json()["detail"]
    assert (resolved.json()["state"], resolved.json()["resolved_by"]) == ("resolved", "otto")
    assert reopened.json()["state"] == "open"
    assert (not_resolved.status_code, not_resolved.json()["error"]) == (409, "action_refused")
    assert inbox.told.ids == [delay, delay, delay]


async def test_bulk_acknowledges_ten_with_one_note_and_tells_each_watch(inbox: Inbox) -> None:
    holds = open_holds(inbox.stack, 10)
    other = record(inbox.stack, DELAY, shipment_id="SHP-1", event_id="delay-1")
    await inbox.act(holds[0], "acknowledge")
    inbox.told.ids.clear()

    done = await inbox.bulk(
        {"filter": {"family": "customs_hold"}, "action": "acknowledge", "note": "broker on it"}
    )
    again = await inbox.bulk({"filter": {"family": "customs_hold"}, "action": "acknowledge"})
    nothing = await inbox.bulk({"filter": {"shipment_id": "SHP-404"}, "action": "acknowledge"})

    assert done.status_code == 200
    assert done.json() == {
        "changed": holds[1:],
        "refused": [{"id": holds[0], "reason": "already acknowledged by otto"}],
    }
    assert inbox.told.ids == holds[1:]
    assert again.json()["changed"] == []
    assert [r["id"] for r in again.json()["refused"]] == holds
    assert nothing.json() == {"changed": [], "refused": []}
    listed = (await inbox.get("/exceptions", state="acknowledged")).json()["exceptions"]
    assert [e["id"] for e in listed] == holds
    assert (await inbox.get(f"/exceptions/{other}")).json()["state"] == "open"
    timeline = (await inbox.get(f"/exceptions/{holds[5]}")).json()["timeline"]
    assert timeline[-1] | {"at": None} == {
        "at": None,
        "who": "otto",
        "what": "acknowledged",
        "note": "broker on it",
    }
    trail = audit_trail(inbox.stack)
    assert [e.target for e in trail[1:]] == [f"exception {i}" for i in holds[1:]]
    assert {(e.actor, e.action) for e in trail} == {("otto", "exception.acknowledge")}


async def test_an_action_stands_when_the_watch_cannot_be_told_and_the_relay_tells_it_later(
    make_stack: StackFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """Temporal is away: the actions answer and stand, and their changes stay marked for the
    relay (one failed tell stops a bulk action's others: each would wait out its timeout)."""
    told = Told(fail=True)
    stack = await make_stack(with_worker=False, tell_exception_watch=told)
    inbox = Inbox(stack, told)
    holds = open_holds(stack, 2)
    note = "secret broker number 0100"
    register_secret(note)

    with caplog.at_level(logging.WARNING, logger="flexhook.watch_relay"):
        one = await inbox.act(holds[0], "acknowledge", note=note)
        both = await inbox.bulk({"filter": {}, "action": "note", "note": note})

    assert one.status_code == 200 and one.json()["state"] == "acknowledged"
    assert both.status_code == 200 and both.json()["changed"] == holds
    assert told.ids == [holds[0], holds[0]]
    assert sorted(untold(stack.engine)) == holds
    warnings = [r.getMessage() for r in caplog.records if r.name == "flexhook.watch_relay"]
    assert len(warnings) == 2
    assert all("ConnectionError" in w and note not in w for w in warnings)


async def test_what_schemathesis_found_stays_fixed(inbox: Inbox) -> None:
    open_holds(inbox.stack, 2)

    # An empty `limit` (as a form sends it) was a 500: the range was checked on None.
    empty = await inbox.get("/exceptions", limit="", after="", assignee="")
    # `GET /exceptions/bulk` was taken for an exception's id: a 404 where 405 is right.
    wrong_method = await inbox.get("/exceptions/bulk")
    # A cursor that is not ASCII was a 500 (`hmac.compare_digest` takes ASCII text only).
    not_ascii = await inbox.get("/exceptions", after="H\u00bdJ\u00c8\u00be")

    assert empty.status_code == 200 and empty.json() == {"exceptions": [], "next": None}
    assert not_ascii.status_code == 400
    assert wrong_method.status_code == 405 and wrong_method.headers["allow"] == "POST"


async def test_bulk_acts_on_at_most_500_in_inbox_order(inbox: Inbox) -> None:
    holds = open_holds(inbox.stack, BULK_LIMIT + 3)

    first = await inbox.bulk({"filter": {"state": "open"}, "action": "acknowledge"})
    rest = await inbox.bulk({"filter": {"state": "open"}, "action": "acknowledge"})

    assert first.json() == {"changed": holds[:BULK_LIMIT], "refused": []}
    assert rest.json() == {"changed": holds[BULK_LIMIT:], "refused": []}
    assert inbox.told.ids == holds
    assert len(audit_trail(inbox.stack)) == len(holds)
