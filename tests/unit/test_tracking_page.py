"""The tracking page over a real database filled by the recorded Flexport samples: an attacker
with a wrong, tampered, oversized, revoked or expired token learns nothing; a holder of a live
link sees the public view and none of the shipment's confidential data; every answer carries
the page's headers; every view is counted and audited without its token."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from app.core.exception_families import ExceptionEffect
from app.core.shares import TOKEN_LENGTH, ShareLifetime
from app.core.tracking import ContainerFacts, ShipmentFacts, TrackingFacts, build_view
from app.store import db, exceptions, shares
from app.store.exceptions import Action
from app.store.models import AuditEntry, EventRecord, Share
from app.tracking.app import create_tracking
from app.tracking.headers import CONTENT_SECURITY_POLICY
from app.tracking.state import environment
from tests.helpers import deliver, load_sample, read_sample, sample_names
from tests.unit.test_exception_store import effect_of

SHIPMENT = "418563"
PRIVATE_NOTE = "note-only-for-the-team-7f3a"
ACKNOWLEDGER = "acknowledger-ana-2c9e"
ASSIGNEE = "assignee-bo-5d1b"
HOLD = effect_of("01_shipment_created", "/shipment#customs_agriculture_hold")
DELAY = effect_of("01_shipment_created", "/shipment#cargo_ready_date_changed_exception")
CHARGES = effect_of("01_shipment_created", "/invoice#invoice_payment_failed")
# The samples happened in March 2026: a link to the delivered shipment lives on with this.
LONG = ShareLifetime(after_delivery=timedelta(days=3650), max_age=timedelta(days=3650))
HEADERS = {
    "cache-control": "no-store",
    "referrer-policy": "no-referrer",
    "x-robots-tag": "noindex",
    "content-security-policy": CONTENT_SECURITY_POLICY,
}


@pytest.fixture
def engine(cli_database: str) -> Iterator[Engine]:
    engine = db.create_db_engine(cli_database)
    for name in sample_names():
        deliver(engine, read_sample(name))
    yield engine
    engine.dispose()


async def fetch(
    engine: Engine, path: str, *, method: str = "GET", lifetime: ShareLifetime = LONG
) -> httpx.Response:
    """One request to a tracking app mounted at the root (the web process mounts it at /track)."""
    app = create_tracking(engine=engine, lifetime=lifetime)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://flexhook.test") as client:
        return await client.request(method, path)


def new_link(engine: Engine, *, shipment_id: str = SHIPMENT) -> tuple[int, str]:
    with Session(engine) as session:
        view, token = shares.create_share(
            session,
            shipment_id=shipment_id,
            created_by="ana",
            lifetime=LONG,
            now=datetime.now(UTC),
        )
        session.commit()
    return view.id, token


def record_exception(
    engine: Engine, effect: ExceptionEffect, event_id: str, *, at: datetime
) -> int:
    """A Flexport event's exception on the shipment, as the worker records it; its id."""
    with Session(engine) as session:
        (outcome,) = exceptions.record_event(
            session,
            shipment_id=SHIPMENT,
            event_id=event_id,
            occurred_at=at,
            effect=effect,
            severities={},
            now=at,
        )
        session.commit()
    return outcome.exception_id


def confidential_strings() -> list[str]:
    """What the samples say that no stakeholder may read: parties, names, commercial values,
    documents, payload fields, event ids, and links into Flexport's API."""
    created = load_sample("01_shipment_created")["data"]["resource"]
    invoice = load_sample("16_invoice_shared")["data"]["resource"]
    document = load_sample("19_document_created")["data"]["resource"]
    parties = {
        party["name"]
        for role in ("shippers", "consignees", "buyers", "sellers", "importers_of_record")
        for party in created[role]
    }
    event_ids = {str(load_sample(name)["id"]) for name in sample_names()}
    return [
        created["name"],
        *created["metadata"]["purchase_order"],
        *parties,
        invoice["name"],
        invoice["total"]["amount"],
        invoice["recipient"]["name"],
        document["file_name"],
        document["file_link"],
        document["memo"],
        "api.flexport.com",
        "Acme Outfitters",
        "Longgang Industrial",
        *event_ids,
        "temporal",
        "/dashboard",
        "/api/",
        "_object",
    ]


async def test_a_live_link_shows_the_public_view_and_nothing_confidential(engine: Engine) -> None:
    _, token = new_link(engine)

    answer = await fetch(engine, f"/{token}")

    assert answer.status_code == 200, answer.text
    html = answer.text
    for text in ("Shipment 418563", "Delivered", "Yantian, China", "15 Mar 2026 05:42 PDT"):
        assert text in html
    assert "CSNU7261843" in html and "40 ft HC dry" in html
    leaked = [text for text in confidential_strings() if text.lower() in html.lower()]
    assert leaked == []
    with Session(engine) as session:
        payloads = session.exec(select(EventRecord.payload)).all()
    assert any(p and "Acme Outfitters" in p for p in payloads)  # the data was there to leak
    assert "<script" not in html.lower()
    assert not [tag for tag in ("<link", "src=", "href=", "@import") if tag in html]


async def test_open_exceptions_show_in_plain_words_without_notes_or_names(
    cli_database: str,
) -> None:
    engine = db.create_db_engine(cli_database)
    for name in ("01_shipment_created", "04_schedule_confirmed", "06_leg_departed"):
        deliver(engine, read_sample(name))
    opened = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    hold = record_exception(engine, HOLD, "hold-99000001", at=opened)
    delay = record_exception(engine, DELAY, "delay-99000002", at=opened + timedelta(hours=1))
    charges = record_exception(engine, CHARGES, "charge-99000003", at=opened)
    with Session(engine) as session:
        steps: list[tuple[int, Action, str | None]] = [
            (hold, "acknowledge", None),
            (hold, "assign", ASSIGNEE),
            (hold, "note", None),
            (delay, "resolve", None),
            (charges, "note", None),
        ]
        for exception_id, action, assignee in steps:
            exceptions.act(
                session,
                exception_id=exception_id,
                action=action,
                by=ACKNOWLEDGER,
                at=opened + timedelta(hours=2),
                note=PRIVATE_NOTE,
                assignee=assignee,
            )
        session.commit()
    _, token = new_link(engine)

    html = (await fetch(engine, f"/{token}")).text

    assert "Open problems" in html and "Customs hold, since" in html
    assert "Departure delay" not in html  # resolved
    assert "Charges" not in html  # commercial
    for private in (PRIVATE_NOTE, ACKNOWLEDGER, ASSIGNEE, "hold-99000001", "99000003"):
        assert private not in html
    assert "acknowledged" not in html.lower() and "assign" not in html.lower()


@pytest.mark.parametrize("method", ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"])
async def test_every_answer_carries_the_headers_and_other_methods_are_405(
    engine: Engine, method: str
) -> None:
    _, token = new_link(engine)

    for path in (f"/{token}", "/" + "A" * TOKEN_LENGTH, "/x/y"):
        answer = await fetch(engine, path, method=method)
        assert {k: answer.headers.get(k) for k in HEADERS} == HEADERS, (method, path)
        if method in ("GET", "HEAD"):
            assert answer.status_code in (200, 404)
        else:
            assert answer.status_code == 405 and answer.headers["allow"] == "GET, HEAD"
    if method == "HEAD":
        assert (await fetch(engine, f"/{token}", method="HEAD")).status_code == 200


async def test_unknown_and_tampered_tokens_are_404_and_name_no_shipment(engine: Engine) -> None:
    _, token = new_link(engine)
    tampered = ("A" if token[0] != "A" else "B") + token[1:]

    for path in (f"/{tampered}", "/" + "A" * TOKEN_LENGTH, f"/{token[:-1]}", f"/{token}/x"):
        answer = await fetch(engine, path)
        assert answer.status_code == 404, path
        assert "This tracking link does not work" in answer.text
        assert SHIPMENT not in answer.text and "Delivered" not in answer.text


async def test_an_oversized_token_is_404_without_a_database_lookup(tmp_path: Any) -> None:
    # A database without tables: any lookup would fail with a server error.
    empty = db.create_db_engine(f"sqlite:///{tmp_path / 'empty.db'}")

    for path in ("/" + "A" * (TOKEN_LENGTH + 1), "/" + "A" * 10_000, "/" + "%00" * 43):
        assert (await fetch(empty, path)).status_code == 404
    with pytest.raises(Exception, match="no such table"):
        await fetch(empty, "/" + "A" * TOKEN_LENGTH)  # the right shape does reach the database


async def test_revoked_and_expired_links_are_410_and_name_no_shipment(engine: Engine) -> None:
    share_id, token = new_link(engine)
    # The samples' shipment was delivered in March 2026: 30 days later, its links expired.
    expired = await fetch(engine, f"/{token}", lifetime=ShareLifetime())
    with Session(engine) as session:
        shares.revoke_share(
            session,
            shipment_id=SHIPMENT,
            share_id=share_id,
            revoked_by="ana",
            lifetime=LONG,
            now=datetime.now(UTC),
        )
        session.commit()
    revoked = await fetch(engine, f"/{token}")

    for answer in (expired, revoked):
        assert answer.status_code == 410
        assert "This tracking link is no longer active" in answer.text
        assert SHIPMENT not in answer.text and "Yantian" not in answer.text
        assert {k: answer.headers.get(k) for k in HEADERS} == HEADERS


async def test_each_view_is_counted_and_audited_without_the_token(engine: Engine) -> None:
    share_id, token = new_link(engine)

    assert (await fetch(engine, f"/{token}")).status_code == 200
    assert (await fetch(engine, f"/{token}")).status_code == 200
    assert (await fetch(engine, f"/{token}", lifetime=ShareLifetime())).status_code == 410
    await fetch(engine, "/" + "A" * TOKEN_LENGTH)  # an unknown token: no link, nothing to audit

    with Session(engine) as session:
        row = session.get(Share, share_id)
        entries = session.exec(select(AuditEntry).order_by(AuditEntry.id)).all()  # type: ignore[arg-type]
    assert row is not None and row.views == 2 and row.last_viewed_at is not None
    views = [(e.actor, e.action, e.target, e.outcome) for e in entries]
    assert views == [
        (f"share:{share_id}", "share.view", SHIPMENT, "ok"),
        (f"share:{share_id}", "share.view", SHIPMENT, "ok"),
        (f"share:{share_id}", "share.view", SHIPMENT, "expired"),
    ]
    assert not [e for e in entries if token in e.model_dump_json()]


async def test_a_link_to_a_shipment_not_recorded_is_404_and_audited_as_such(
    engine: Engine,
) -> None:
    share_id, token = new_link(engine, shipment_id="999999")

    answer = await fetch(engine, f"/{token}")

    assert answer.status_code == 404 and "999999" not in answer.text
    with Session(engine) as session:
        [entry] = session.exec(select(AuditEntry)).all()
    assert (entry.actor, entry.target, entry.outcome) == (
        f"share:{share_id}",
        "999999",
        "no_shipment",
    )


def test_text_from_flexport_is_escaped_on_the_page() -> None:
    hostile = "<script>alert(1)</script>"
    view = build_view(
        TrackingFacts(
            ShipmentFacts(
                id="418563",
                location_name=hostile,
                location_unlocode="USLAX",
                transportation_mode=hostile,
            ),
            containers=(ContainerFacts(number=hostile, last_event=hostile),),
        )
    )

    html = environment().get_template("track.html").render(view=view, follow_action=None)

    assert hostile not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
