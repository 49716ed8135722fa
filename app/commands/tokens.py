"""`flexhook tokens`: named tokens with a role (as /api/tokens). A new token is printed once,
alone on the last line; only its hash is kept."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from app.commands.common import audited, cli_actor, open_engine, read_settings


@click.group()
def tokens() -> None:
    """Named tokens for people and machines, each with a role: viewer, operator or admin."""


@tokens.command("create")
@click.argument("name")
@click.option(
    "--role",
    type=click.Choice(["viewer", "operator", "admin"]),
    required=True,
    help="What it may do.",
)
@click.option(
    "--expires", metavar="DURATION", help="How long it lives, e.g. 90d, 12h [default: never]."
)
@click.option("--contact", metavar="APPRISE_URL", help="Where flexhook can reach its holder.")
def tokens_create(name: str, role: str, expires: str | None, contact: str | None) -> None:
    """Create a token for NAME and print it once, on the last line."""
    from sqlmodel import Session

    from app.core.access import AccessError, parse_expiry, parse_role
    from app.store import tokens as store

    engine = open_engine(read_settings())
    try:
        expires_in = parse_expiry(expires) if expires else None
        with Session(engine) as session:
            row, token = store.create_token(
                session,
                name=name,
                role=parse_role(role),
                expires_in=expires_in,
                contact=contact,
                created_by=cli_actor(),
                now=datetime.now(UTC),
            )
            audited(session, action="token.create", target=f"{name} ({role})")
            session.commit()
            expires_at = row.expires_at
    except AccessError as exc:
        raise click.ClickException(str(exc)) from None
    until = f"until {expires_at:%Y-%m-%d %H:%M} UTC" if expires_at else "without expiry"
    click.echo(f"token {name} ({role}) created, {until}; it is shown this once:", err=True)
    click.echo(token)


@tokens.command("list")
def tokens_list() -> None:
    """Every token: name, role, last four characters, created, expires, last used, state."""
    from sqlmodel import Session

    from app.store import tokens as store

    now = datetime.now(UTC)
    with Session(open_engine(read_settings())) as session:
        for row in store.list_tokens(session):
            state = (
                "revoked"
                if row.revoked_at
                else "expired"
                if not store.is_active(row, now=now)
                else "active"
            )
            click.echo(
                "\t".join(
                    [
                        row.name,
                        row.role,
                        f"…{row.last_four}",
                        f"created {row.created_at:%Y-%m-%d}",
                        f"expires {row.expires_at:%Y-%m-%d}" if row.expires_at else "no expiry",
                        f"used {row.last_used_at:%Y-%m-%d %H:%M}" if row.last_used_at else "unused",
                        state,
                    ]
                )
            )


@tokens.command("revoke")
@click.argument("name")
def tokens_revoke(name: str) -> None:
    """Revoke NAME's token: refused from the next request on, dashboard sessions included."""
    from sqlmodel import Session

    from app.store import tokens as store

    engine = open_engine(read_settings())
    with Session(engine) as session:
        if not store.revoke_token(session, name=name, now=datetime.now(UTC)):
            raise click.ClickException(f"no active token named {name!r}")
        audited(session, action="token.revoke", target=name)
        session.commit()
    click.echo(f"token {name} revoked")
