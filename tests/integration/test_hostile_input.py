"""Hostile deliveries and API requests over real HTTP: every refusal is a 4xx with a JSON error
naming what is wrong; nothing hostile is ever a 5xx, a workflow or a row in the event log."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import hashlib
import hmac
import json
import secrets
import uuid
import zlib
from collections.abc import AsyncIterator, Iterable
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlmodel import Session, func, select
from temporalio.service import RPCError, RPCStatusCode

from app.core.errors import MalformedEvent
from app.core.events import body_digest_id, parse_event
from app.core.ids import event_workflow_id
from app.core.signature import sign
from app.store.models import EventRecord, SpooledEvent
from tests.integration.harness import Samples, Stack, StackFactory
from tests.log_registry import register_payload, register_secret

pytestmark = pytest.mark.integration

WEBHOOK = "/webhooks/flexport"
SAMPLE = "06_leg_departed"


# -- helpers -------------------------------------------------------------------------------------


async def post(
    stack: Stack, body: bytes | AsyncIterator[bytes], headers: dict[str, Any]
) -> httpx.Response:
    """POST exactly these headers (no signature added) and watch the logs for the body."""
    if isinstance(body, bytes):
        register_payload(body)
    return await stack.http.post(WEBHOOK, content=body, headers=headers)


def signed(body: bytes, secret: str) -> dict[str, str]:
    return {"content-type": "application/json", "x-hub-signature-256": sign(body, secret)}


def assert_refused(response: httpx.Response, status: int, error: str, case: object = "") -> None:
    """A refusal: this status, and JSON `{"error": error, "detail": <a reason>}`."""
    where = f"{case}: {response.status_code} {response.text[:200]!r}"
    assert response.status_code == status, where
    assert response.headers["content-type"] == "application/json", where
    answer = response.json()
    assert set(answer) == {"error", "detail"}, where
    assert answer["error"] == error, where
    assert isinstance(answer["detail"], str) and answer["detail"], where


async def workflow_exists(stack: Stack, workflow_id: str) -> bool:
    try:
        await stack.client.get_workflow_handle(workflow_id).describe()
    except RPCError as exc:
        assert exc.status == RPCStatusCode.NOT_FOUND, exc
        return False
    return True


def rows(stack: Stack, model: Any) -> int:
    with Session(stack.engine) as session:
        return int(session.exec(select(func.count()).select_from(model)).one())


async def assert_nothing_started(stack: Stack, bodies: Iterable[bytes] = ()) -> None:
    """No workflow on the stack's task queue, none under the ids these bodies would have had,
    and nothing in the event log or the spool."""
    for body in bodies:
        ids = {body_digest_id(body)}
        with contextlib.suppress(MalformedEvent):
            ids.add(parse_event(body).event_id)
        for event_id in ids:
            assert not await workflow_exists(stack, event_workflow_id(event_id)), event_id
    started = await stack.client.count_workflows(f'TaskQueue = "{stack.task_queue}"')
    assert started.count == 0
    assert (rows(stack, EventRecord), rows(stack, SpooledEvent)) == (0, 0)


async def raw_request(stack: Stack, head: bytes, body: bytes = b"") -> tuple[int, bytes]:
    """Send bytes no HTTP client would (a broken Content-Length, say); return status and body.
    The answer must come without the server waiting for more."""
    url = urlsplit(stack.base_url)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    try:
        writer.write(head + body)
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), timeout=5)
        length = 0
        while (line := await asyncio.wait_for(reader.readline(), timeout=5)) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        content = await asyncio.wait_for(reader.readexactly(length), timeout=5)
    finally:
        writer.close()
    return int(status_line.split()[1]), content


def event_body(samples: Samples, **changes: Any) -> bytes:
    """A real delivery with an id of its own."""
    return samples.body(SAMPLE, **{"id": f"hostile-{uuid.uuid4().hex}", **changes})


# -- signatures ----------------------------------------------------------------------------------


async def test_deliveries_not_signed_with_our_secret_are_401(
    stack: Stack, samples: Samples
) -> None:
    body = event_body(samples)
    good = hmac.new(stack.secret.encode(), body, "sha256").hexdigest()
    cases: dict[str, dict[str, Any]] = {
        "forged": signed(body, "not-our-secret"),
        "missing": {"content-type": "application/json"},
        "empty": {"x-hub-signature-256": ""},
        "prefix only": {"x-hub-signature-256": "sha256="},
        "not hex": {"x-hub-signature-256": "sha256=" + "zz" * 32},
        "not ASCII": {"x-hub-signature-256": b"sha256=" + b"\xe9" * 64},
        "truncated": {"x-hub-signature-256": "sha256=" + good[:-1]},
        "one digit more": {"x-hub-signature-256": "sha256=" + good + "0"},
        "prefix twice": {"x-hub-signature-256": "sha256=sha256=" + good},
        "sha1 value in the sha256 header": {
            "x-hub-signature-256": sign(body, stack.secret, algorithm="sha1")
        },
        "sha512": {"x-hub-signature-256": sign(body, stack.secret, algorithm="sha512")},
        "another body's signature": {"x-hub-signature-256": sign(body + b" ", stack.secret)},
        "sha1 header, sha1 disabled": {
            "x-hub-signature": sign(body, stack.secret, algorithm="sha1")
        },
        "bad sha256 beside a good sha1": {
            "x-hub-signature-256": "sha256=" + "0" * 64,
            "x-hub-signature": sign(body, stack.secret, algorithm="sha1"),
        },
        "signed with the API token": signed(body, stack.api_token),
    }

    for case, headers in cases.items():
        assert_refused(await post(stack, body, headers), 401, "invalid_signature", case)

    refused = await post(stack, body, cases["sha1 header, sha1 disabled"])
    assert "SHA1" in refused.json()["detail"]
    await assert_nothing_started(stack, [body])


async def test_sha1_is_honoured_only_when_enabled(
    make_stack: StackFactory, samples: Samples
) -> None:
    stack = await make_stack(accept_sha1=True)
    body = event_body(samples)
    sha1 = sign(body, stack.secret, algorithm="sha1")

    forged = await post(stack, body, {"x-hub-signature": sign(body, "nope-nope", algorithm="sha1")})
    # SHA256, when present, decides: a good SHA1 does not rescue a bad SHA256.
    overruled = await post(
        stack, body, {"x-hub-signature-256": "sha256=" + "0" * 64, "x-hub-signature": sha1}
    )
    assert_refused(forged, 401, "invalid_signature", "forged sha1")
    assert_refused(overruled, 401, "invalid_signature", "bad sha256, good sha1")
    await assert_nothing_started(stack, [body])

    accepted = await post(stack, body, {"x-hub-signature": sha1.upper().replace("SHA1=", "sha1=")})
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "accepted"
    await stack.wait(accepted.json()["event_id"])


async def test_a_rotated_secret_verifies_until_it_is_removed(
    make_stack: StackFactory, samples: Samples
) -> None:
    old, new = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    register_secret(old)
    register_secret(new)
    rotating = await make_stack(webhook_secrets=(old, new))
    first, second, third = (event_body(samples) for _ in range(3))

    by_old = await post(rotating, first, signed(first, old))
    by_new = await post(rotating, second, signed(second, new))
    by_neither = await post(rotating, third, signed(third, "neither-old-nor-new"))

    assert [by_old.status_code, by_new.status_code] == [200, 200], by_old.text + by_new.text
    assert_refused(by_neither, 401, "invalid_signature")
    await rotating.wait(by_old.json()["event_id"])
    await rotating.wait(by_new.json()["event_id"])

    rotated = await make_stack(webhook_secrets=(new,))
    assert_refused(await post(rotated, third, signed(third, old)), 401, "invalid_signature")
    await assert_nothing_started(rotated, [third])
    assert (await post(rotated, third, signed(third, new))).status_code == 200


# -- signed bodies that are not events -----------------------------------------------------------

DEEP = 100_000
NOT_EVENTS: dict[str, bytes] = {
    "empty": b"",
    "not JSON": b"{not json",
    "not UTF-8": b'{"type": "/shipment_leg#departed", "id": "\xff\xfe"}',
    "UTF-16": '{"type": "/shipment_leg#departed"}'.encode("utf-16"),
    "byte order mark": b'\xef\xbb\xbf{"type": "/shipment_leg#departed"}',
    "deeply nested, unclosed": b"[" * DEEP,
    "deeply nested event": b'{"type": "/shipment_leg#departed", "data": '
    + b"[" * DEEP
    + b"]" * DEEP
    + b"}",
    "top-level array": b'[{"type": "/shipment_leg#departed", "id": 1}]',
    "JSON string": b'"/shipment_leg#departed"',
    "null": b"null",
    "huge integer": b"9" * DEEP,
    "huge integer id": b'{"type": "/shipment_leg#departed", "id": ' + b"9" * DEEP + b"}",
    "float overflow": b"1e999999",
    "no type": b'{"id": "evt-1", "data": {}}',
    "type is a number": b'{"type": 42}',
    "type is a list": b'{"type": ["/shipment_leg#departed"]}',
    "type is null": b'{"type": null}',
    "type is blank": b'{"type": "   "}',
    "unpaired surrogate": b'{"type": "/shipment_leg#departed", "note": "\\ud800"}',
    "id too long": b'{"type": "/shipment_leg#departed", "id": "' + b"a" * 201 + b'"}',
    "trailing garbage": b'{"type": "/shipment_leg#departed"} {}',
}


async def test_signed_bodies_that_are_not_events_are_400(stack: Stack) -> None:
    for case, body in NOT_EVENTS.items():
        response = await post(stack, body, signed(body, stack.secret))
        assert_refused(response, 400, "malformed_event", case)

    await assert_nothing_started(stack, NOT_EVENTS.values())


# Python reads these as inf and nan; no JSON encoder (Starlette's included) writes them back.
NON_FINITE = ["1e999999", "-1e999999", "NaN", "Infinity", "-Infinity"]


async def test_a_number_json_cannot_represent_is_refused(stack: Stack, samples: Samples) -> None:
    statuses = {}
    for number in NON_FINITE:
        body = event_body(samples)[:-1] + b', "amount": ' + number.encode() + b"}"
        statuses[number] = (await post(stack, body, signed(body, stack.secret))).status_code

    assert statuses == dict.fromkeys(NON_FINITE, 400)
    await assert_nothing_started(stack)


async def test_a_non_finite_number_never_makes_the_read_api_fail(
    stack: Stack, samples: Samples
) -> None:
    body = event_body(samples)[:-1] + b', "amount": NaN}'
    event_id = str(json.loads(body)["id"])

    delivered = await post(stack, body, signed(body, stack.secret))
    answer = await stack.api(f"/events/{event_id}")

    assert delivered.status_code == 400, delivered.text
    assert delivered.json()["error"] == "malformed_event"
    assert answer.status_code == 404, answer.text


# -- size, encoding, method ----------------------------------------------------------------------


async def test_oversize_compressed_and_misframed_bodies_are_refused(
    make_stack: StackFactory, samples: Samples
) -> None:
    limit = 20_000
    stack = await make_stack(max_body_bytes=limit)
    big = event_body(samples, pad="x" * limit)
    small = event_body(samples)
    assert len(small) < limit < len(big)

    async def chunked(body: bytes) -> AsyncIterator[bytes]:
        for start in range(0, len(body), 1000):
            yield body[start : start + 1000]

    with_length = await post(stack, big, signed(big, stack.secret))
    without_length = await post(stack, chunked(big), signed(big, stack.secret))
    assert "content-length" not in without_length.request.headers
    assert_refused(with_length, 413, "body_too_large", "with Content-Length")
    assert_refused(without_length, 413, "body_too_large", "chunked")

    # A declared length over the limit is refused before a byte of the body is read.
    status, content = await raw_request(
        stack,
        b"POST /webhooks/flexport HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n"
        b"x-hub-signature-256: sha256=00\r\n\r\n",
    )
    assert (status, json.loads(content)["error"]) == (413, "body_too_large")

    gzipped = gzip.compress(small)
    encodings = {
        "gzip, signed compressed": (gzipped, "gzip", signed(gzipped, stack.secret)),
        "gzip, signed plain": (gzipped, "gzip", signed(small, stack.secret)),
        "GZIP": (gzipped, "GZIP", signed(gzipped, stack.secret)),
        "deflate": (zlib.compress(small), "deflate", signed(zlib.compress(small), stack.secret)),
        "br": (small, "br", signed(small, stack.secret)),
        "identity, gzip": (gzipped, "identity, gzip", signed(gzipped, stack.secret)),
    }
    for case, (body, encoding, headers) in encodings.items():
        response = await post(stack, body, {**headers, "content-encoding": encoding})
        assert_refused(response, 415, "unsupported_encoding", case)

    # Not a number: uvicorn's HTTP parser answers 400 itself; the app never sees the request.
    for declared in (b"abc", b"-5", b"1e3", b"0x10"):
        status, _ = await raw_request(
            stack,
            b"POST /webhooks/flexport HTTP/1.1\r\nHost: x\r\nContent-Length: " + declared + b"\r\n"
            b"x-hub-signature-256: " + sign(small, stack.secret).encode() + b"\r\n\r\n",
            small,
        )
        assert status == 400, declared

    await assert_nothing_started(stack, [big, small, gzipped])


async def test_a_body_at_the_limit_is_accepted_and_one_byte_more_is_not(
    make_stack: StackFactory, samples: Samples
) -> None:
    limit = 20_000
    stack = await make_stack(max_body_bytes=limit)
    size = len(event_body(samples, pad=""))
    at_limit = event_body(samples, pad="x" * (limit - size))
    over = event_body(samples, pad="x" * (limit - size + 1))
    assert (len(at_limit), len(over)) == (limit, limit + 1)

    refused = await post(stack, over, signed(over, stack.secret))
    accepted = await post(stack, at_limit, signed(at_limit, stack.secret))

    assert_refused(refused, 413, "body_too_large")
    assert accepted.status_code == 200, accepted.text
    await stack.wait(accepted.json()["event_id"])
    assert not await workflow_exists(stack, event_workflow_id(parse_event(over).event_id))


async def test_a_body_within_the_limit_never_wedges_the_spool(
    stack: Stack, samples: Samples
) -> None:
    body = event_body(samples)
    wide = body[:-1] + b', "note": "' + "\U0001f600".encode() * 240_000 + b'"}'
    follower = event_body(samples)
    assert len(wide) < 1024 * 1024  # the stack's max_body_bytes

    first = await post(stack, wide, signed(wide, stack.secret))
    second = await post(stack, follower, signed(follower, stack.secret))

    # Temporal is up: an event is started (or refused outright), never left to the spool.
    assert first.status_code in (200, 413), first.text
    assert first.status_code == 413 or first.json()["status"] == "accepted", first.text
    assert second.json()["status"] == "accepted", second.text


async def test_other_methods_on_the_webhook_are_405_and_start_nothing(stack: Stack) -> None:
    body = b'{"type": "/shipment_leg#departed", "id": "x"}'
    for method in ("GET", "PUT", "DELETE", "PATCH"):
        response = await stack.http.request(
            method, WEBHOOK, content=body, headers=signed(body, stack.secret)
        )
        assert response.status_code == 405, method
    await assert_nothing_started(stack, [body])


# -- properties over the endpoint ----------------------------------------------------------------

JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
TYPES = st.sampled_from(
    ["/shipment_leg#departed", "/shipment#created", "shipment.milestone", "invoice.created"]
) | st.text(max_size=30)
IDS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=30)
    | st.text(min_size=199, max_size=202)
)
EVENT_LIKE = st.fixed_dictionaries(
    {},
    optional={
        "type": TYPES | JSON_VALUES,
        "id": IDS,
        "occurred_at": st.text(max_size=30),
        "data": JSON_VALUES,
    },
)
EVENTS = st.fixed_dictionaries({"type": TYPES}, optional={"id": IDS, "data": JSON_VALUES})
BODIES = (
    st.binary(max_size=300)
    | JSON_VALUES.map(lambda value: json.dumps(value).encode())
    | EVENT_LIKE.map(lambda value: json.dumps(value, ensure_ascii=False).encode())
    | EVENTS.map(lambda value: json.dumps(value, ensure_ascii=False).encode())
)


async def test_any_signed_body_is_accepted_exactly_when_it_parses(
    stack: Stack, samples: Samples
) -> None:
    salt = samples.fresh_id("hyp")

    @settings(
        max_examples=60,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(body=BODIES)
    @example(body=b'{"type": "/shipment_leg#departed", "id": "%s"}' % str(salt).encode())
    @example(body=b'{"type": "x", "note": "\\ud83d\\ude00 \\u0000"}')
    @example(body=b'{"type": "\\u0000", "id": "\\u0000\\n\\t"}')
    @example(body=b'{"type": "/shipment_leg#departed", "id": "%s"}' % ("\u00e9" * 200).encode())
    def check(body: bytes) -> None:
        register_payload(body)
        try:
            event = parse_event(body)
        except MalformedEvent:
            event = None
        response = http.post(WEBHOOK, content=body, headers=signed(body, stack.secret))
        if event is None:
            assert_refused(response, 400, "malformed_event", body[:80])
            return
        assert response.status_code == 200, response.text
        answer = response.json()
        assert answer["status"] in ("accepted", "duplicate"), answer
        assert answer["event_id"] == event.event_id

    with httpx.Client(base_url=stack.base_url, timeout=30) as http:
        await asyncio.to_thread(check)


async def test_only_the_right_signature_header_is_accepted(stack: Stack, samples: Samples) -> None:
    body = event_body(samples)
    digest = hmac.new(stack.secret.encode(), body, "sha256").hexdigest()
    near_misses = [
        f"sha256={digest}",
        digest,
        f"SHA256={digest.upper()}",
        f"sha256={digest[:-1]}",
        f"sha256={digest}0",
        f"sha256= {digest}",
        f"sha1={digest}",
        f"sha256={hashlib.sha256(body).hexdigest()}",  # a plain hash: no secret
        f"sha256={digest[::-1]}",
    ]
    header_bytes = sorted({*range(0x21, 0x7F), *range(0x80, 0x100), 0x20, 0x09})
    arbitrary = st.lists(st.sampled_from(header_bytes), max_size=90).map(
        lambda values: bytes(values).strip(b" \t")
    )

    def is_right(value: bytes) -> bool:
        claimed = value.decode("latin-1").strip().lower().removeprefix("sha256=")
        return claimed == digest

    @settings(max_examples=60, deadline=None, database=None)
    @given(value=st.sampled_from(near_misses).map(str.encode) | arbitrary)
    def check(value: bytes) -> None:
        response = http.post(WEBHOOK, content=body, headers={b"x-hub-signature-256": value})
        if is_right(value):
            assert response.status_code == 200, (value, response.text)
        else:
            assert_refused(response, 401, "invalid_signature", value)

    register_payload(body)
    with httpx.Client(base_url=stack.base_url, timeout=30) as http:
        await asyncio.to_thread(check)


# -- the read API ---------------------------------------------------------------------------------


async def test_the_read_api_answers_hostile_requests_with_json_and_never_a_5xx(
    stack: Stack,
) -> None:
    token = {"authorization": f"Bearer {stack.api_token}"}
    requests: list[tuple[str, str, dict[str, str], int]] = [
        ("GET", "/api/shipments?limit=-1", token, 400),
        ("GET", "/api/shipments?limit=abc", token, 400),
        ("GET", "/api/shipments?limit=1.5", token, 400),
        ("GET", "/api/shipments?limit=%205", token, 400),
        ("GET", f"/api/shipments?limit={10**20}", token, 200),
        ("GET", "/api/shipments?limit=0", token, 200),
        ("GET", "/api/shipments?status=%3Cscript%3Ealert(1)%3C%2Fscript%3E", token, 200),
        ("GET", "/api/events?type=%27%20OR%201%3D1%20--", token, 200),
        ("GET", "/api/events?shipment_id=%00", token, 400),
        ("GET", "/api/events?status=processed&status=failed&limit=-0", token, 400),
        ("GET", "/api/notifications?limit=99999999999999999999999", token, 200),
        ("GET", "/api/shipments/%2e%2e", token, 404),
        ("GET", "/api/events/%00", token, 400),
        ("GET", "/api/events/" + "x" * 5000, token, 404),
        ("GET", "/api/unknown-kind/1", token, 404),
        ("GET", "/api/__class__/1", token, 404),
        ("GET", "/api/containers/%27%20OR%20%271%27%3D%271", token, 404),
        ("GET", "/api/bookings/%F0%9F%92%A5", token, 404),
        ("POST", "/api/events/nope/redrive", token, 404),
        ("DELETE", "/api/shipments/1/subscriptions/abc", token, 404),
        ("DELETE", "/api/shipments/1/subscriptions/99999", token, 404),
        ("GET", "/api/shipments", {}, 401),
        ("GET", "/api/shipments", {"authorization": "Basic " + stack.api_token}, 401),
        ("GET", "/api/shipments", {"authorization": "Bearer"}, 401),
        ("GET", "/api/shipments", {"authorization": "Bearer " + stack.secret}, 401),
        ("GET", "/api/shipments", {"authorization": b"Bearer \xff\xfe"}, 401),  # type: ignore[dict-item]
        ("GET", "/api/shipments", {"authorization": f"bearer {stack.api_token}"}, 200),
    ]
    answers = []
    for method, path, headers, _ in requests:
        response = await stack.http.request(method, path, headers=headers)
        answers.append((method, path, response.status_code, response.headers["content-type"]))
    unrouted = []
    for method, path, _ in NO_ROUTE:
        response = await stack.http.request(method, path, headers=token)
        unrouted.append((method, path, response.status_code))

    assert [(m, p, status) for m, p, status, _ in answers] == [
        (m, p, status) for m, p, _, status in requests
    ]
    assert [answer for answer in answers if answer[3] != "application/json"] == []
    assert unrouted == NO_ROUTE


# Requests no route takes: Starlette answers them itself.
NO_ROUTE = [
    ("GET", "/api/shipments/..%2F..%2Fetc%2Fpasswd", 404),  # %2F is a slash by routing time
    ("GET", "/api/events/..%2F..", 404),
    ("GET", WEBHOOK, 405),
    ("PUT", WEBHOOK, 405),
]


async def test_requests_no_route_takes_get_a_json_error(stack: Stack) -> None:
    token = {"authorization": f"Bearer {stack.api_token}"}
    for method, path, status in NO_ROUTE:
        response = await stack.http.request(method, path, headers=token)
        error = "not_found" if status == 404 else "method_not_allowed"
        assert_refused(response, status, error, f"{method} {path}")


async def test_hostile_subscriptions_are_400_and_credentials_stay_out_of_answers(
    stack: Stack,
) -> None:
    password = "Pa55-" + secrets.token_urlsafe(12)
    register_secret(password)
    url = f"mailtos://alerts:{password}@smtp.example.com?to=ops@example.com"
    path = "/api/shipments/418563/subscriptions"
    token = {"authorization": f"Bearer {stack.api_token}"}
    bad: dict[str, bytes] = {
        "not JSON": b"{nope",
        "not UTF-8": b'{"url": "\xff"}',
        "an array": b'["mailto://x@example.com"]',
        "url not a string": b'{"url": 5}',
        "kinds not a list": json.dumps({"url": url, "kinds": "departed"}).encode(),
        "a kind not a string": json.dumps({"url": url, "kinds": ["departed", 1]}).encode(),
        "huge integer": b"9" * DEEP,
    }
    for case, body in bad.items():
        response = await stack.http.post(path, content=body, headers=token)
        assert_refused(response, 400, "bad_request", case)
    for case, target in {"no scheme": "example.com", "unknown scheme": "nope://x/y"}.items():
        response = await stack.http.post(path, json={"url": target}, headers=token)
        assert_refused(response, 400, "invalid_subscription", case)

    created = await stack.http.post(path, json={"url": url, "kinds": ["departed"]}, headers=token)
    listed = await stack.http.get(path, headers=token)

    assert created.status_code == 201, created.text
    assert password not in created.text
    assert password not in listed.text
    assert created.json()["id"] in {str(s["id"]) for s in listed.json()["subscriptions"]}


async def test_a_limit_of_digits_int_refuses_is_400_and_a_huge_one_is_clamped(
    stack: Stack,
) -> None:
    assert_refused(await stack.api("/shipments", limit="²"), 400, "bad_request", "²")
    huge = await stack.api("/shipments", limit="9" * 5000)
    assert huge.status_code == 200
    assert huge.json() == {"shipments": [], "next": None}


async def test_a_subscriber_id_of_digits_int_refuses_is_404(stack: Stack) -> None:
    token = {"authorization": f"Bearer {stack.api_token}"}
    for sid in ("²", "9" * 5000):
        response = await stack.http.delete(f"/api/shipments/1/subscriptions/{sid}", headers=token)
        assert response.status_code == 404, (sid[:10], response.status_code)


async def test_a_deeply_nested_subscription_is_400(stack: Stack) -> None:
    response = await stack.http.post(
        "/api/shipments/1/subscriptions",
        content=b"[" * DEEP,
        headers={"authorization": f"Bearer {stack.api_token}"},
    )
    assert_refused(response, 400, "bad_request")
