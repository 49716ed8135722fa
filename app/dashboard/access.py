"""Who is signed in and what they may do: the token a sign-in presents, the actor a session
stands for (as the token is now, on every request), and the audit entries the dashboard appends.

The dashboard sits below `app.web`, so it keeps its own few lines of what `app.web.access` does
for `/api`: the client's address, the request's id, the constant-time compare.
"""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, TypeVar

from sqlmodel import Session
from starlette.requests import Request

from app.core.access import ENVIRONMENT_ADMIN, TOKEN_PREFIX, Actor, Role, token_digest
from app.dashboard.state import DashboardState, state_of
from app.store import audit, db, tokens

REQUEST_ID_KEY: Final = "flexhook.dashboard.request_id"
_REQUEST_ID: Final = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
UNKNOWN: Final = "unknown"  # the actor of a refused sign-in

T = TypeVar("T")


@dataclass(frozen=True)
class Visitor:
    """A signed-in browser: its session's CSRF token and who it is, as of this request."""

    csrf_token: str
    actor: Actor

    def may(self, needed: Role) -> bool:
        return self.actor.may(needed)


def client_address(request: Request) -> str:
    return request.client.host if request.client else UNKNOWN


def request_id(request: Request) -> str:
    """The request's id: the client's `X-Request-ID` if it is sane, else a new one, the same
    for every entry the request appends."""
    found = request.scope.get(REQUEST_ID_KEY)
    if isinstance(found, str):
        return found
    given = request.headers.get("x-request-id", "")
    value = given if _REQUEST_ID.match(given) else secrets.token_hex(8)
    request.scope[REQUEST_ID_KEY] = value
    return value


async def identify(state: DashboardState, token: str, *, now: datetime) -> Actor | None:
    """The actor of a presented token: the environment admin for FLEXHOOK_API_TOKEN, else an
    active named token's; None for anything else."""
    # Compared first and always, so timing says nothing about which kind a token is.
    if hmac.compare_digest(token_digest(token), state.environment_digest):
        return Actor(name=ENVIRONMENT_ADMIN, role=Role.ADMIN)
    if not token.startswith(TOKEN_PREFIX):
        return None
    found = await db.read_by_key(state.engine, tokens.lookup, digest=token_digest(token), now=now)
    return None if found is None else found.actor


async def actor_now(state: DashboardState, who: str) -> Actor | None:
    """The actor a session stands for, as it is now: None once its token is revoked or expired
    (the environment admin's sessions end when FLEXHOOK_API_TOKEN, their cookies' key, turns)."""
    if who == ENVIRONMENT_ADMIN:
        return Actor(name=ENVIRONMENT_ADMIN, role=Role.ADMIN)
    return await db.in_session(state.engine, tokens.actor_by_name, name=who, now=datetime.now(UTC))


def _append(
    session: Session,
    *,
    actor: str,
    action: str,
    target: str,
    outcome: str,
    client: str,
    request_id: str,
    touch: str | None,
) -> None:
    now = datetime.now(UTC)
    if touch is not None:
        tokens.touch(session, name=touch, now=now)
    audit.append(
        session,
        at=now,
        actor=actor,
        action=action,
        target=target,
        outcome=outcome,
        client=client,
        request_id=request_id,
    )


async def record(
    request: Request,
    *,
    actor: str,
    action: str,
    target: str = "",
    outcome: str = "ok",
    touch: str | None = None,
) -> None:
    """Append one audit entry for what `request` did (never a secret: tokens by name, URLs in
    privacy form); `touch` also notes that this named token was used."""
    await db.in_session(
        state_of(request).engine,
        _append,
        commit=True,
        actor=actor,
        action=action,
        target=target,
        outcome=outcome,
        client=client_address(request),
        request_id=request_id(request),
        touch=touch,
    )


async def changed(
    request: Request,
    fn: Callable[..., T],
    /,
    *,
    actor: str,
    action: str,
    target: Callable[[T], str | None],
    **kwargs: Any,
) -> T:
    """`fn(session, **kwargs)` and its audit entry, committed together: nothing changes
    unaudited, nothing is audited that did not change (`target(result)` None)."""
    client, rid = client_address(request), request_id(request)

    def run(session: Session) -> T:
        result = fn(session, **kwargs)
        described = target(result)
        if described is not None:
            _append(
                session,
                actor=actor,
                action=action,
                target=described,
                outcome="ok",
                client=client,
                request_id=rid,
                touch=None,
            )
        return result

    return await db.in_session(state_of(request).engine, run, commit=True)
