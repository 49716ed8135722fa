"""Share links through `/api` on the real stack (uvicorn, the database, the token middleware):
who may make, revoke and renew them, that a link of one shipment is not reachable through
another's path, and that a link's token is answered once and then nowhere: not in lists, logs
or the audit trail. The shipments are recorded the way the worker records them."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlmodel import Session, col, select

from app.core.access import Role
from app.core.shares import TRACK_PATH, ShareLifetime, ShareState
from app.store import shares
from app.store.models import AuditEntry, Share
from tests.helpers import load_sample
from tests.integration.harness import Stack, StackFactory
from tests.integration.test_authorization import make_token
from tests.integration.test_dashboard import deliver
from tests.log_registry import register_secret

pytestmark = pytest.mark.timeout(240)

SHIPMENT_ID = "418563"  # the packaged samples' shipment
OTHER_SHIPMENT_ID = "990077"


def record_shipments(stack: Stack) -> None:
    """Shipment 418563 as its first event leaves it, and a second one."""
    at = datetime.now(UTC) - timedelta(hours=1)
    deliver(stack.engine, load_sample("01_shipment_created"), received_at=at)
    other = load_sample("01_shipment_created")
    other["id"] = 99007701
    for part in ("resource", "shipment"):
        other["data"][part]["id"] = int(OTHER_SHIPMENT_ID)
    deliver(stack.engine, other, received_at=at)


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def create(stack: Stack, token: str, shipment_id: str = SHIPMENT_ID) -> httpx.Response:
    return await stack.http.post(f"/api/shipments/{shipment_id}/shares", headers=bearer(token))


def token_of(answer: dict[str, Any]) -> str:
    """The token in a new link's URL (registered: no log may hold it)."""
    url = answer["url"]
    assert isinstance(url, str) and TRACK_PATH in url
    token = url.rsplit("/", 1)[1]
    register_secret(token)
    return token


def audit_trail(stack: Stack) -> list[AuditEntry]:
    with Session(stack.engine) as session:
        return list(session.exec(select(AuditEntry).order_by(col(AuditEntry.id))).all())


def opened(stack: Stack, token: str) -> shares.Opened:
    with Session(stack.engine) as session:
        found = shares.open_share(
            session, token=token, lifetime=ShareLifetime(), now=datetime.now(UTC)
        )
        session.commit()
        return found


@pytest.fixture
async def stack(make_stack: StackFactory) -> Stack:
    made = await make_stack(with_worker=False, refused_tokens_per_minute=1000)
    record_shipments(made)
    return made


# -- attackers first ----------------------------------------------------------------------------


async def test_a_viewer_lists_links_but_cannot_make_revoke_or_renew_one(stack: Stack) -> None:
    viewer = make_token(stack, "vera", Role.VIEWER)
    operator = make_token(stack, "otto", Role.OPERATOR)
    made = await create(stack, operator)
    assert made.status_code == 201, made.text
    token_of(made.json())
    link = f"/api/shipments/{SHIPMENT_ID}/shares/{made.json()['id']}"

    refused = [
        await create(stack, viewer),
        await stack.http.delete(link, headers=bearer(viewer)),
        await stack.http.post(f"{link}/renew", headers=bearer(viewer)),
    ]
    listed = await stack.http.get(f"/api/shipments/{SHIPMENT_ID}/shares", headers=bearer(viewer))

    assert [r.status_code for r in refused] == [403, 403, 403]
    assert {r.json()["error"] for r in refused} == {"forbidden"}
    assert listed.status_code == 200
    assert [s["state"] for s in listed.json()["shares"]] == [ShareState.ACTIVE]
    assert [e.action for e in audit_trail(stack)] == ["share.create"]


async def test_without_a_token_every_share_operation_is_401(stack: Stack) -> None:
    base = f"/api/shipments/{SHIPMENT_ID}/shares"
    answers = [
        await stack.http.get(base),
        await stack.http.post(base),
        await stack.http.delete(f"{base}/1"),
        await stack.http.post(f"{base}/1/renew"),
        await stack.http.post(base, headers=bearer("not-a-token-at-all")),
    ]

    assert [r.status_code for r in answers] == [401] * 5
    assert not [e for e in audit_trail(stack) if e.action.startswith("share.")]


async def test_a_link_is_not_reachable_through_another_shipments_path(stack: Stack) -> None:
    made = await create(stack, stack.api_token)
    token = token_of(made.json())
    share_id = made.json()["id"]
    elsewhere = f"/api/shipments/{OTHER_SHIPMENT_ID}/shares/{share_id}"

    revoked = await stack.http.delete(elsewhere, headers=bearer(stack.api_token))
    renewed = await stack.http.post(f"{elsewhere}/renew", headers=bearer(stack.api_token))
    unknown = await stack.http.delete(
        f"/api/shipments/{SHIPMENT_ID}/shares/{share_id + 1000}", headers=bearer(stack.api_token)
    )
    not_an_id = await stack.http.delete(
        f"/api/shipments/{SHIPMENT_ID}/shares/1e3", headers=bearer(stack.api_token)
    )
    others = await stack.http.get(
        f"/api/shipments/{OTHER_SHIPMENT_ID}/shares", headers=bearer(stack.api_token)
    )

    assert [revoked.status_code, renewed.status_code, unknown.status_code] == [404, 404, 404]
    assert not_an_id.status_code == 404
    assert others.json() == {"shares": []}
    assert opened(stack, token).state is ShareState.ACTIVE  # untouched
    assert [e.action for e in audit_trail(stack)] == ["share.create"]


async def test_an_unknown_shipment_has_no_links_to_make_or_list(stack: Stack) -> None:
    made = await create(stack, stack.api_token, shipment_id="4242424242")
    listed = await stack.http.get(
        "/api/shipments/4242424242/shares", headers=bearer(stack.api_token)
    )

    assert (made.status_code, listed.status_code) == (404, 404)
    assert made.json()["error"] == "not_found"
    with Session(stack.engine) as session:
        assert (
            shares.list_shares(
                session, shipment_id="4242424242", lifetime=ShareLifetime(), now=datetime.now(UTC)
            )
            == []
        )
    assert audit_trail(stack) == []


async def test_the_token_is_answered_once_and_never_listed_logged_or_audited(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    operator = make_token(stack, "otto", Role.OPERATOR)
    caplog.set_level(logging.DEBUG)

    made = await create(stack, operator)
    token = token_of(made.json())
    link = f"/api/shipments/{SHIPMENT_ID}/shares/{made.json()['id']}"
    await stack.http.post(f"{link}/renew", headers=bearer(operator))
    await stack.http.delete(link, headers=bearer(operator))
    listed = await stack.http.get(f"/api/shipments/{SHIPMENT_ID}/shares", headers=bearer(operator))
    trail = await stack.http.get("/api/audit", headers=bearer(stack.api_token))

    assert made.headers["cache-control"] == "no-store"
    assert token not in listed.text and "digest" not in listed.text
    assert token not in trail.text
    assert token not in caplog.text
    assert all(token not in f"{e.target} {e.outcome}" for e in audit_trail(stack))


# -- what operators do --------------------------------------------------------------------------


async def test_an_operator_makes_lists_renews_and_revokes_a_link(stack: Stack) -> None:
    operator = make_token(stack, "otto", Role.OPERATOR)
    base = f"/api/shipments/{SHIPMENT_ID}/shares"

    made = await create(stack, operator)
    answer = made.json()
    token = token_of(answer)
    link = f"{base}/{answer['id']}"
    renewed = await stack.http.post(f"{link}/renew", headers=bearer(operator))
    first = await stack.http.delete(link, headers=bearer(operator))
    again = await stack.http.delete(link, headers=bearer(operator))
    after = await stack.http.post(f"{link}/renew", headers=bearer(operator))
    listed = (await stack.http.get(base, headers=bearer(operator))).json()["shares"]

    assert made.status_code == 201
    assert answer["url"] == f"{TRACK_PATH}{token}"  # no FLEXHOOK_PUBLIC_URL: relative
    assert answer["created_by"] == "otto" and answer["state"] == "active"
    assert datetime.fromisoformat(answer["expires_at"]) > datetime.now(UTC) + timedelta(days=89)
    assert renewed.status_code == 200 and renewed.json()["id"] == answer["id"]
    assert (first.status_code, again.status_code) == (204, 204)
    assert after.status_code == 409 and after.json()["error"] == "not_renewed"
    assert [(s["id"], s["state"], s["revoked_by"]) for s in listed] == [
        (answer["id"], "revoked", "otto")
    ]
    assert opened(stack, token).state is ShareState.REVOKED
    target = f"shipment {SHIPMENT_ID} link {answer['id']}"
    assert [(e.actor, e.action, e.target) for e in audit_trail(stack)] == [
        ("otto", "share.create", target),
        ("otto", "share.renew", target),
        ("otto", "share.revoke", target),  # once: the second revoke changed nothing
    ]


async def test_a_made_link_opens_its_shipment_and_counts_the_view(stack: Stack) -> None:
    made = await create(stack, stack.api_token)
    token = token_of(made.json())

    found = opened(stack, token)
    listed = await stack.http.get(
        f"/api/shipments/{SHIPMENT_ID}/shares", headers=bearer(stack.api_token)
    )

    assert (found.state, found.shipment_id) == (ShareState.ACTIVE, SHIPMENT_ID)
    assert listed.json()["shares"][0]["views"] == 1
    assert listed.json()["shares"][0]["last_viewed_at"] is not None


async def test_renewing_a_delivered_shipments_link_is_409_and_changes_nothing(
    stack: Stack,
) -> None:
    made = await create(stack, stack.api_token)
    token_of(made.json())
    delivered = load_sample("15_delivered_in_full")  # long ago: its links have expired
    deliver(stack.engine, delivered, received_at=datetime.now(UTC))
    link = f"/api/shipments/{SHIPMENT_ID}/shares/{made.json()['id']}"
    with Session(stack.engine) as session:
        kept = session.exec(select(Share.expires_at).where(Share.id == made.json()["id"])).one()

    renewed = await stack.http.post(f"{link}/renew", headers=bearer(stack.api_token))

    assert renewed.status_code == 409
    assert renewed.json()["error"] == "not_renewed"
    assert "FLEXHOOK_SHARE_AFTER_DELIVERY" in renewed.json()["detail"]
    with Session(stack.engine) as session:
        assert (
            session.exec(select(Share.expires_at).where(Share.id == made.json()["id"])).one()
            == kept
        )
    assert [e.action for e in audit_trail(stack)] == ["share.create"]


async def test_a_shipment_has_at_most_the_capped_number_of_active_links(stack: Stack) -> None:
    with Session(stack.engine) as session:
        made = [
            shares.create_share(
                session,
                shipment_id=SHIPMENT_ID,
                created_by="someone",
                lifetime=ShareLifetime(),
                now=datetime.now(UTC),
            )[0].id
            for _ in range(20)  # FLEXHOOK_MAX_SHARES_PER_SHIPMENT's default
        ]
        shares.alert_share(  # the alerts' link does not count
            session,
            shipment_id=SHIPMENT_ID,
            key=b"k" * 32,
            lifetime=ShareLifetime(),
            now=datetime.now(UTC),
        )
        session.commit()

    refused = await create(stack, stack.api_token)
    other = await create(stack, stack.api_token, shipment_id=OTHER_SHIPMENT_ID)
    await stack.http.delete(
        f"/api/shipments/{SHIPMENT_ID}/shares/{made[0]}", headers=bearer(stack.api_token)
    )
    after_revoke = await create(stack, stack.api_token)

    assert refused.status_code == 409
    assert refused.json()["error"] == "too_many_shares"
    assert "FLEXHOOK_MAX_SHARES_PER_SHIPMENT" in refused.json()["detail"]
    assert other.status_code == 201  # the cap is per shipment
    token_of(other.json())
    assert after_revoke.status_code == 201
    token_of(after_revoke.json())
    assert [e.action for e in audit_trail(stack)] == [
        "share.create",
        "share.revoke",
        "share.create",
    ]
