"""What every `flexhook` command shares: settings read once (a bad one is one clear line), the
database at the newest migration, and times given on the command line."""

from __future__ import annotations

import copy
import getpass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click
from sqlalchemy.engine import Engine

if TYPE_CHECKING:
    from sqlmodel import Session

from app.settings import ConfigError, Settings, load_settings


def open_engine(settings: Settings) -> Engine:
    """The database, which must be at the newest migration (`flexhook db upgrade`)."""
    from app import bootstrap
    from app.store.db import SchemaOutOfDate

    try:
        return bootstrap.open_database(settings)
    except SchemaOutOfDate as exc:
        raise click.ClickException(str(exc)) from None


def read_settings(**overrides: Any) -> Settings:
    try:
        return load_settings(**{k: v for k, v in overrides.items() if v is not None})
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def iso_time(ctx: click.Context, param: click.Parameter, value: str | None) -> datetime | None:
    """An ISO 8601 time (`2026-03-01`, `2026-03-01T08:00:00+08:00`, `...Z`); UTC if no zone."""
    if value is None:
        return None
    try:
        return utc(datetime.fromisoformat(value))
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not an ISO 8601 time such as 2026-03-01T00:00:00Z"
        ) from None


def deprecated_alias(command: click.Command, *, old_name: str) -> click.Command:
    """`command` under the name it had before the glossary settled it: it works as before and
    says, on stderr and in `--help`, which name replaces it."""
    alias = copy.copy(command)
    alias.name = old_name
    alias.deprecated = f"use `flexhook {command.name}`"
    return alias


def cli_actor() -> str:
    """Who the audit trail says acted from the command line: the host's user."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"cli:{user}"[:64]


def audited(session: Session, *, action: str, target: str = "", outcome: str = "ok") -> None:
    """Append what a command changes to the audit trail in its own transaction (`session`),
    so that it commits with the change or not at all."""
    from app.store import audit as trail

    trail.append(
        session,
        at=datetime.now(UTC),
        actor=cli_actor(),
        action=action,
        target=target,
        outcome=outcome,
        client="command line",
    )


def audit(engine: Engine, *, action: str, target: str = "", outcome: str = "ok") -> None:
    """Append what a command did outside the database (a redrive, a reconcile run)."""
    from sqlmodel import Session

    with Session(engine) as session:
        audited(session, action=action, target=target, outcome=outcome)
        session.commit()
