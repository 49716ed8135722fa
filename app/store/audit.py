"""The audit trail: every change and sign-in, appended. Nothing in flexhook updates or deletes a
row. Keyword-only functions over a caller's session; the caller commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlmodel import Session, col, select

from app.store.models import AuditEntry

DEFAULT_LIMIT: Final = 100
MAX_LIMIT: Final = 1000


@dataclass(frozen=True)
class AuditFilter:
    actor: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def append(
    session: Session,
    *,
    at: datetime,
    actor: str,
    action: str,
    target: str = "",
    outcome: str = "ok",
    client: str | None = None,
    request_id: str | None = None,
) -> AuditEntry:
    """Append one entry. Never a secret: URLs in Apprise's privacy form, tokens by name."""
    entry = AuditEntry(
        at=at,
        actor=actor[:64],
        action=action[:64],
        target=target[:500],
        outcome=outcome[:500],
        client=client[:64] if client else None,
        request_id=request_id[:64] if request_id else None,
    )
    session.add(entry)
    return entry


def list_entries(
    session: Session, *, where: AuditFilter, limit: int | None = None
) -> list[AuditEntry]:
    """Newest first."""
    statement = select(AuditEntry)
    if where.actor is not None:
        statement = statement.where(AuditEntry.actor == where.actor)
    if where.action is not None:
        statement = statement.where(AuditEntry.action == where.action)
    if where.since is not None:
        statement = statement.where(col(AuditEntry.at) >= where.since)
    if where.until is not None:
        statement = statement.where(col(AuditEntry.at) < where.until)
    count = min(limit or DEFAULT_LIMIT, MAX_LIMIT)
    ordered = statement.order_by(col(AuditEntry.at).desc(), col(AuditEntry.id).desc()).limit(count)
    return list(session.exec(ordered).all())


def as_json(entry: AuditEntry) -> dict[str, Any]:
    return {
        "at": entry.at.isoformat(),
        "actor": entry.actor,
        "action": entry.action,
        "target": entry.target,
        "outcome": entry.outcome,
        "client": entry.client,
        "request_id": entry.request_id,
    }
