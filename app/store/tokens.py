"""Named tokens: create (the token is answered once), list, revoke, and find who presents one.
Keyword-only functions over a caller's session (or, for `lookup`, a connection); the caller
commits."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.core.access import (
    AccessError,
    Actor,
    Role,
    check_name,
    last_four,
    new_token,
    token_digest,
)
from app.store.models import ApiToken
from notifications.notifier import InvalidDestination, check_url

# `last_used_at` is written at most this often per token: a read is not a write each time.
LAST_USED_EVERY: Final = timedelta(minutes=1)


class TokenExists(AccessError):
    """A token of that name exists (revoked ones included: names are not reused)."""


def create_token(
    session: Session,
    *,
    name: str,
    role: Role,
    expires_in: timedelta | None,
    contact: str | None,
    created_by: str,
    now: datetime,
) -> tuple[ApiToken, str]:
    """Store a new token's digest; return its row and the token itself, which nothing keeps."""
    check_name(name)
    privacy = None
    if contact is not None:
        try:
            privacy = check_url(contact).privacy_url
        except InvalidDestination as exc:
            raise AccessError(f"contact: {exc}") from None
    token = new_token()
    row = ApiToken(
        name=name,
        role=role.value,
        digest=token_digest(token),
        last_four=last_four(token),
        contact=contact,
        contact_privacy=privacy,
        created_by=created_by,
        created_at=now,
        expires_at=now + expires_in if expires_in is not None else None,
    )
    session.add(row)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise TokenExists(f"a token named {name!r} exists already") from None
    return row, token


def list_tokens(session: Session) -> list[ApiToken]:
    return list(session.exec(select(ApiToken).order_by(col(ApiToken.name))).all())


def find_token(session: Session, *, name: str) -> ApiToken | None:
    return session.exec(select(ApiToken).where(ApiToken.name == name)).first()


def revoke_token(session: Session, *, name: str, now: datetime) -> bool:
    """Revoke it from now on; False when there is no such token or it was revoked already."""
    row = find_token(session, name=name)
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = now
    session.add(row)
    return True


def is_active(row: ApiToken, *, now: datetime) -> bool:
    return row.revoked_at is None and (row.expires_at is None or row.expires_at > now)


@dataclass(frozen=True)
class Presented:
    """What a presented token turned out to be: an active token's actor, and whether its
    `last_used_at` is due to be written."""

    name: str
    actor: Actor
    needs_touch: bool


def lookup(connection: sa.Connection, *, digest: str, now: datetime) -> Presented | None:
    """The active token with this digest (compared again in constant time), or None when it is
    unknown, expired or revoked. Reads only: `touch` writes."""
    table = ApiToken.__table__  # type: ignore[attr-defined]
    row = connection.execute(sa.select(table).where(table.c.digest == digest)).first()
    if row is None or not hmac.compare_digest(row.digest, digest):
        return None
    if row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= now):
        return None
    stale = row.last_used_at is None or now - row.last_used_at >= LAST_USED_EVERY
    return Presented(
        name=row.name, actor=Actor(name=row.name, role=Role(row.role)), needs_touch=stale
    )


def touch(session: Session, *, name: str, now: datetime) -> None:
    """Note that the token `name` was used now (at most once a minute is asked for)."""
    row = find_token(session, name=name)
    if row is not None:
        row.last_used_at = now
        session.add(row)


def actor_by_name(session: Session, *, name: str, now: datetime) -> Actor | None:
    """The actor of a dashboard session: its token as it is now (None: revoked or expired)."""
    row = find_token(session, name=name)
    if row is None or not is_active(row, now=now):
        return None
    return Actor(name=row.name, role=Role(row.role))


def as_json(row: ApiToken) -> dict[str, Any]:
    return {
        "name": row.name,
        "role": row.role,
        "last_four": row.last_four,
        "contact": row.contact_privacy,
        "created_by": row.created_by,
        "created_at": row.created_at.isoformat(),
        "expires_at": row.expires_at.isoformat() if row.expires_at else None,
        "last_used_at": row.last_used_at.isoformat() if row.last_used_at else None,
        "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None,
    }
