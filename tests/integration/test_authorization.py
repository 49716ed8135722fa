"""Who may call what under `/api`: every operation of the route table, with no token, a viewer's,
an operator's, an admin's, a revoked and an expired one. A missing, unknown, revoked or expired
token is 401; a known token without the role is 403 naming the role; with the role, the
request is never refused for who sent it. Then the guard against guessing: an address that
keeps presenting refused tokens is answered 429 for a while."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import Session

from app.core.access import ENVIRONMENT_ADMIN, Role
from app.store import audit, tokens
from app.store.models import ApiToken
from app.web.api_routes import API_ROUTES
from app.web.operations import ApiRoute, Operation
from tests.helpers import eventually, read_sample
from tests.integration.harness import Stack, StackFactory, write_config

pytestmark = pytest.mark.timeout(240)

# A value for every path parameter the route table uses.
PATH_VALUES = {
    "id": "418563",
    "sid": "999999",
    "share_id": "999999",
    "event_id": "no-such-event",
    "name": "nobody",
    "kind": "bookings",
    "key": "1",
    "direction": "decode",
}


def operations() -> list[tuple[str, str, Operation]]:
    found = []
    for route in API_ROUTES:
        assert isinstance(route, ApiRoute), route
        path = re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES[m.group(1)], route.path)
        found += [(method, "/api" + path, op) for method, op in route.operations.items()]
    return found


def make_token(stack: Stack, name: str, role: Role, *, expired: bool = False) -> str:
    now = datetime.now(UTC)
    with Session(stack.engine) as session:
        row, token = tokens.create_token(
            session,
            name=name,
            role=role,
            expires_in=timedelta(days=1),
            contact=None,
            created_by="test",
            now=now,
        )
        if expired:
            row.expires_at = now - timedelta(seconds=1)
        session.commit()
    return token


def revoke(stack: Stack, name: str) -> None:
    with Session(stack.engine) as session:
        assert tokens.revoke_token(session, name=name, now=datetime.now(UTC))
        session.commit()


async def call(stack: Stack, method: str, path: str, token: str | None) -> httpx.Response:
    headers = {"authorization": f"Bearer {token}"} if token is not None else {}
    body: dict[str, str] | None = {} if method == "POST" else None
    return await stack.http.request(method, path, headers=headers, json=body)


async def test_every_operation_answers_each_kind_of_token_as_its_role_says(
    make_stack: StackFactory,
) -> None:
    # Each operation meets a revoked and an expired token: far more refusals than the guard
    # against guessing lets one address make, so this stack allows them.
    stack = await make_stack(refused_tokens_per_minute=1000)
    held = {role: make_token(stack, f"a-{role}", role) for role in Role}
    revoked = make_token(stack, "revoked-operator", Role.OPERATOR)
    revoke(stack, "revoked-operator")
    expired = make_token(stack, "expired-admin", Role.ADMIN, expired=True)
    refused_kinds = {"no token": None, "revoked": revoked, "expired": expired}
    matrix: list[str] = []

    for method, path, operation in operations():
        for kind, token in refused_kinds.items():
            response = await call(stack, method, path, token)
            assert response.status_code == 401, (method, path, kind, response.text)
            assert response.json()["error"] == "unauthorized"
        for role, token in [*held.items(), (Role.ADMIN, stack.api_token)]:
            response = await call(stack, method, path, token)
            if role in (Role.VIEWER, Role.OPERATOR, Role.ADMIN) and not _allows(role, operation):
                assert response.status_code == 403, (method, path, role, response.text)
                assert response.json() == {
                    "error": "forbidden",
                    "detail": f"this needs a token with the {operation.role} role",
                }
            else:
                assert response.status_code not in (401, 403, 429, 500), (
                    method,
                    path,
                    role,
                    response.status_code,
                    response.text,
                )
        matrix.append(f"{method} {path}: {operation.role}")

    assert len(matrix) == len(operations()) > 20


def _allows(role: Role, operation: Operation) -> bool:
    rank = [Role.VIEWER, Role.OPERATOR, Role.ADMIN]
    return rank.index(role) >= rank.index(operation.role)


async def test_a_role_change_or_a_revocation_takes_effect_on_the_next_request(
    stack: Stack,
) -> None:
    token = make_token(stack, "planner", Role.OPERATOR)
    headers = {"authorization": f"Bearer {token}"}
    body = {"url": "json://127.0.0.1:9/hook"}

    added = await stack.http.post("/api/recipients", json=body, headers=headers)
    with Session(stack.engine) as session:
        row = tokens.find_token(session, name="planner")
        assert isinstance(row, ApiToken)
        row.role = Role.VIEWER
        session.commit()
    demoted = await stack.http.delete(f"/api/recipients/{added.json()['id']}", headers=headers)
    revoke(stack, "planner")
    gone = await stack.http.get("/api/recipients", headers=headers)

    assert added.status_code == 201
    assert demoted.status_code == 403
    assert gone.status_code == 401


async def test_tokens_through_the_api_are_shown_once_and_audited(stack: Stack) -> None:
    admin = {"authorization": f"Bearer {stack.api_token}"}
    created = await stack.http.post(
        "/api/tokens",
        json={"name": "erp-sync", "role": "viewer", "expires": "90d"},
        headers=admin,
    )
    token = created.json()["token"]
    listed = (await stack.http.get("/api/tokens", headers=admin)).json()["tokens"]
    used = await stack.http.get("/api/shipments", headers={"authorization": f"Bearer {token}"})
    taken = await stack.http.post(
        "/api/tokens", json={"name": "erp-sync", "role": "admin"}, headers=admin
    )
    revoked = await stack.http.delete("/api/tokens/erp-sync", headers=admin)
    after = await stack.http.get("/api/shipments", headers={"authorization": f"Bearer {token}"})
    trail = (await stack.http.get("/api/audit", headers=admin)).json()["entries"]

    assert created.status_code == 201 and token.startswith("fxh_") and len(token) >= 40
    [listing] = listed
    assert listing["last_four"] == token[-4:] and "token" not in listing
    assert token not in str(listed)
    assert (used.status_code, taken.status_code, revoked.status_code) == (200, 409, 204)
    assert after.status_code == 401
    actions = [(e["actor"], e["action"], e["target"]) for e in trail]
    assert (ENVIRONMENT_ADMIN, "token.revoke", "erp-sync") in actions
    assert (ENVIRONMENT_ADMIN, "token.create", "erp-sync (viewer)") in actions
    assert all(e["request_id"] and e["client"] == "127.0.0.1" for e in trail)
    assert token not in str(trail)


async def test_repeated_refused_tokens_from_one_address_are_answered_429(stack: Stack) -> None:
    guesses = [
        await stack.http.get("/api/shipments", headers={"authorization": f"Bearer fxh_guess{n}"})
        for n in range(12)
    ]
    statuses = [response.status_code for response in guesses]
    right_token_too = await stack.api("/shipments")

    assert statuses[:9] == [401] * 9
    assert statuses[-1] == 429
    assert int(guesses[-1].headers["retry-after"]) > 0
    assert right_token_too.status_code == 429  # the address is blocked, not the token
    with Session(stack.engine) as session:
        assert audit.list_entries(session, where=audit.AuditFilter()) == []


async def test_the_operators_hear_of_a_burst_of_refused_tokens_once(
    make_stack: StackFactory, json_endpoint: tuple[list[dict[str, Any]], int], tmp_path: Path
) -> None:
    posted, port = json_endpoint
    config = write_config(tmp_path / "notifications.yml", (f"json://127.0.0.1:{port}/ops", "ops"))
    stack = await make_stack(notify_config=config, refused_tokens_per_minute=3)

    for guess in range(9):  # the third blocks the address; the rest meet 429
        await stack.http.get("/api/events", headers={"authorization": f"Bearer fxh_{guess}"})
    await eventually(lambda: len(posted) >= 1, timeout=10, what="the ops alert")
    await asyncio.sleep(0.5)  # room for a second alert, which must not come

    [alert] = posted
    assert "refused tokens from 127.0.0.1" in alert["body"]["title"]
    assert "fxh_" not in str(alert)


async def test_every_change_through_the_api_is_in_the_audit_trail_by_who_made_it(
    stack: Stack,
) -> None:
    operator = {"authorization": f"Bearer {make_token(stack, 'dispatcher', Role.OPERATOR)}"}
    secret_url = "json://user:hunter2@127.0.0.1:9/hook"
    added = await stack.http.post("/api/recipients", json={"url": secret_url}, headers=operator)
    await stack.http.delete(f"/api/recipients/{added.json()['id']}", headers=operator)
    subscribed = await stack.http.post(
        "/api/shipments/418563/subscriptions", json={"url": secret_url}, headers=operator
    )
    await stack.http.delete(
        f"/api/shipments/418563/subscriptions/{subscribed.json()['id']}", headers=operator
    )
    answer = await stack.deliver(read_sample("06"))
    await stack.http.post(f"/api/events/{answer['event_id']}/redrive", headers=operator)

    trail = (await stack.api("/audit", actor="dispatcher")).json()["entries"]

    assert [entry["action"] for entry in reversed(trail)] == [
        "recipient.add",
        "recipient.remove",
        "subscription.add",
        "subscription.remove",
        "event.redrive",
    ]
    assert trail[0]["target"] == answer["event_id"]
    assert "hunter2" not in str(trail) and "****" in trail[-1]["target"]
