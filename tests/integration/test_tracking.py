"""The tracking page through the whole web process: real Flexport sample events signed, posted
to the webhook and processed by the Temporal worker, then `/track/<token>` opened over HTTP.

Attackers first: a guessed, tampered or oversized token is 404 and a revoked or expired link
410, each a plain page naming no shipment; no answer carries a confidential string of the
shipment; the token is in no log line of the server and no audit entry."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import pytest
from sqlmodel import Session, select

from app.core.shares import TOKEN_LENGTH, ShareLifetime, track_url
from app.store import shares
from app.store.models import AuditEntry, Share
from app.tracking.headers import SECURITY_HEADERS
from tests.integration.harness import Samples, Stack
from tests.unit.test_tracking_page import confidential_strings

SHIPMENT = "418563"
# Under way: created, booked, loaded, departed, ETA moved, arrived, released by customs; with
# an invoice and a document that nobody outside may read.
UNDER_WAY = (
    "01_shipment_created",
    "04_schedule_confirmed",
    "05_container_loaded_on_board",
    "06_leg_departed",
    "07_eta_updated",
    "09_leg_arrived",
    "11_customs_released",
    "16_invoice_shared",
    "19_document_created",
)
SERVER_LOGGERS_SKIPPED = ("httpx", "httpcore")  # the test's own client logs its requests


def body(samples: Samples, name: str) -> bytes:
    """The sample as Flexport sent it; the invoice as if shared before the delivery (the
    recorded one carries its shipment's delivery date)."""
    payload = samples.payload(name)
    if name == "16_invoice_shared":
        payload["data"]["shipment"]["actual_delivered_in_full_date"] = None
    return json.dumps(payload).encode("utf-8")


def new_link(stack: Stack) -> tuple[int, str]:
    with Session(stack.engine) as session:
        view, token = shares.create_share(
            session,
            shipment_id=SHIPMENT,
            created_by="ana",
            lifetime=ShareLifetime(),
            now=datetime.now(UTC),
        )
        session.commit()
    return view.id, token


def assert_headers(answer: object) -> None:
    headers = answer.headers  # type: ignore[attr-defined]
    assert {name: headers.get(name) for name in SECURITY_HEADERS} == SECURITY_HEADERS


async def test_the_tracking_page_through_the_web_process(
    stack: Stack, samples: Samples, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    event_ids = [str((await stack.deliver(body(samples, name)))["event_id"]) for name in UNDER_WAY]
    share_id, token = new_link(stack)
    path = track_url("", token)
    assert path == f"/track/{token}"

    page = await stack.http.get(path)

    assert page.status_code == 200, page.text
    assert_headers(page)
    html = page.text
    assert 'name="email"' not in html  # following is off without FLEXHOOK_MAIL_URL
    for shown in ("Shipment 418563", "Cleared customs", "Yantian, China", "Los Angeles, CA"):
        assert shown in html
    assert "15 Mar 2026 05:42 PDT" in html and "26 Feb 2026 21:20 CST" in html
    assert "CSNU7261843" in html and "later than first estimated" in html
    assert "How the ETA moved" in html and "<svg" in html and "slip +1.9 days" in html
    leaked = [s for s in [*confidential_strings(), *event_ids] if s.lower() in html.lower()]
    assert leaked == []
    head = await stack.http.head(path)
    assert head.status_code == 200 and head.content == b""
    assert_headers(head)

    await assert_refusals(stack, token)
    with Session(stack.engine) as session:
        row = session.get(Share, share_id)
        entries = session.exec(select(AuditEntry).where(AuditEntry.action == "share.view")).all()
    assert row is not None and row.views == 2
    assert [(e.actor, e.target) for e in entries] == [(f"share:{share_id}", SHIPMENT)] * 2
    assert not [e for e in entries if token in e.model_dump_json()]
    server_lines = [
        r.getMessage() for r in caplog.records if not r.name.startswith(SERVER_LOGGERS_SKIPPED)
    ]
    assert server_lines and not [line for line in server_lines if token in line]


async def assert_refusals(stack: Stack, token: str) -> None:
    """Guessed, tampered, oversized: 404; another method: 405; none names the shipment."""
    tampered = ("A" if token[0] != "A" else "B") + token[1:]
    for path in (
        f"/track/{tampered}",
        "/track/" + "A" * TOKEN_LENGTH,
        "/track/" + "A" * 5000,
        f"/track/{token}/more",
        "/track/",
    ):
        answer = await stack.http.get(path)
        assert answer.status_code == 404, path
        assert_headers(answer)
        assert SHIPMENT not in answer.text and "Yantian" not in answer.text
    posted = await stack.http.post(f"/track/{token}", data={"x": "1"})
    assert posted.status_code == 405 and posted.headers["allow"] == "GET, HEAD"
    assert_headers(posted)


async def test_revoked_and_expired_links_answer_410(stack: Stack, samples: Samples) -> None:
    for name in UNDER_WAY[:4]:
        await stack.deliver(body(samples, name))
    revoked_id, revoked = new_link(stack)
    _, delivered = new_link(stack)
    assert (await stack.http.get(f"/track/{delivered}")).status_code == 200
    with Session(stack.engine) as session:
        shares.revoke_share(
            session,
            shipment_id=SHIPMENT,
            share_id=revoked_id,
            revoked_by="ana",
            lifetime=ShareLifetime(),
            now=datetime.now(UTC),
        )
        session.commit()
    # Delivered in March 2026: a link lives 30 days after the delivery, so this one has expired.
    await stack.deliver(samples.body("15_delivered_in_full"))

    for token in (revoked, delivered):
        answer = await stack.http.get(f"/track/{token}")
        assert answer.status_code == 410
        assert_headers(answer)
        assert "This tracking link is no longer active" in answer.text
        assert SHIPMENT not in answer.text and "Yantian" not in answer.text
