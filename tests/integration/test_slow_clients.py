"""Slow and numerous clients on the public port (review finding M4), against a real uvicorn
server configured as `flexhook web` configures it: a body that trickles in is given up at the
read deadline (408, nothing stored) while signed deliveries go on being answered, and past the
connection cap new requests are refused (503) instead of holding file descriptors."""

from __future__ import annotations

import asyncio
import socket
import time
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from sqlmodel import Session, func, select

from app.core.signature import sign
from app.store.models import EventRecord
from tests.integration.harness import Samples, Stack, StackFactory
from tests.integration.test_observability import sample_value

pytestmark = pytest.mark.integration

DEADLINE = timedelta(seconds=1)
# Generous bounds: they only stop a broken test from hanging, they measure nothing.
GIVE_UP_SECONDS = 30.0
CLOSE = {"connection": "close"}


@dataclass(frozen=True)
class Answer:
    """What a trickling client got back: the raw response, and whether the server hung up."""

    raw: bytes
    closed_by_server: bool

    @property
    def status(self) -> int:
        return int(self.raw.split(b" ", 2)[1])


def trickle(
    base_url: str, body: bytes, *, secret: str, deadline: timedelta, every: float = 0.1
) -> Answer:
    """POST `body` signed, headers at once, then one byte every `every` seconds until shortly
    before the server's read `deadline`, then silence with the connection held open: a client on
    a very slow link. It stops sending before the deadline because a byte that reaches a socket
    the server has just closed makes the kernel answer with a reset, which can discard the 408
    before it is read (a race of the test's client, not of the server)."""
    address = urlsplit(base_url)
    head = (
        f"POST /webhooks/flexport HTTP/1.1\r\nHost: {address.netloc}\r\n"
        "Content-Type: application/json\r\n"
        f"X-Hub-Signature-256: {sign(body, secret)}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    raw = b""
    sent = 0
    started = time.monotonic()
    give_up = started + GIVE_UP_SECONDS
    stop_sending = started + deadline.total_seconds() * 0.8
    with socket.create_connection((address.hostname, address.port), timeout=every) as sock:
        sock.sendall(head)
        while time.monotonic() < give_up:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                sending = not raw and time.monotonic() < stop_sending
                if sending and sent < len(body) - 1:  # never the last byte: it trickles on
                    sock.sendall(body[sent : sent + 1])
                    sent += 1
                continue
            if not chunk:
                return Answer(raw, closed_by_server=True)
            raw += chunk
    return Answer(raw, closed_by_server=False)


def stored_events(stack: Stack) -> int:
    with Session(stack.engine) as session:
        return int(session.exec(select(func.count()).select_from(EventRecord)).one())


async def test_a_trickled_body_gets_408_at_the_deadline_while_deliveries_go_on(
    make_stack: StackFactory, samples: Samples
) -> None:
    stack = await make_stack(body_read_timeout=DEADLINE)
    slow_body = samples.body("06_leg_departed")
    slow = asyncio.create_task(
        asyncio.to_thread(
            trickle, stack.base_url, slow_body, secret=stack.secret, deadline=DEADLINE
        )
    )
    await asyncio.sleep(DEADLINE.total_seconds() / 2)  # the slow upload is under way

    delivered = await stack.deliver(samples.body("09_leg_arrived"))
    answer = await slow

    assert delivered["status"] == "accepted"
    assert answer.status == 408, answer.raw
    assert b'"error":"body_timeout"' in answer.raw
    assert answer.closed_by_server
    assert stored_events(stack) == 1  # the delivery; nothing of the trickled body
    text = (await stack.metrics.get("/metrics")).text
    assert sample_value(text, "flexhook_deliveries_refused_total", error="body_timeout") == 1


async def test_past_the_connection_cap_requests_get_503_until_connections_free_up(
    make_stack: StackFactory, samples: Samples
) -> None:
    # uvicorn refuses a request once the open connections (its own included) reach the cap.
    held_for = DEADLINE * 3
    stack = await make_stack(max_connections=3, body_read_timeout=held_for)
    held = [
        asyncio.create_task(
            asyncio.to_thread(
                trickle,
                stack.base_url,
                samples.body("06_leg_departed"),
                secret=stack.secret,
                deadline=held_for,
            )
        )
        for _ in range(2)
    ]
    await asyncio.sleep(0.5)  # the two connect before any other (no probe takes their place)
    for _ in range(100):  # until the server has taken both; probes close their connection
        if (await stack.http.get("/healthz", headers=CLOSE)).status_code == 503:
            break
        await asyncio.sleep(0.05)

    refused = await stack.post(samples.body("09_leg_arrived"))
    answers = await asyncio.gather(*held)
    accepted = await stack.deliver(samples.body("09_leg_arrived"))

    assert refused.status_code == 503
    assert [a.status for a in answers] == [408, 408]
    assert accepted["status"] == "accepted"  # once the held connections are gone
    assert stored_events(stack) == 1
