"""`flexhook subscribe` (a subscription to one shipment's alerts) and `flexhook recipients`
(recipients of every shipment, with their delivery preferences): the CLI beside
/api/shipments/{id}/subscriptions and /api/recipients."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click

from app.commands.common import audited, open_engine, read_settings
from app.core.privacy import privacy_form

if TYPE_CHECKING:
    from app.store.models import Recipient


_AUDIENCE = click.option(
    "--audience",
    type=click.Choice(["internal", "external"]),
    default="internal",
    show_default=True,
    help="Who reads it: external readers' alerts link only the tracking page (and, with "
    "FLEXHOOK_EXTERNAL_FLEXPORT_LINK, Flexport's app).",
)


@click.command()
@click.argument("shipment_id")
@click.argument("url")
@click.option(
    "--kinds",
    help="Comma-separated kinds (departed, arrived, delivered, eta, customs, exception) "
    "[default: all].",
)
@_AUDIENCE
def subscribe(shipment_id: str, url: str, kinds: str | None, audience: str) -> None:
    """Send SHIPMENT_ID's alerts to an Apprise URL (as POST /api/shipments/{id}/subscriptions)."""
    from sqlmodel import Session

    from app.bootstrap import destination_rules
    from app.store import subscriptions

    settings = read_settings()
    engine = open_engine(settings)
    wanted = [k.strip() for k in kinds.split(",") if k.strip()] if kinds is not None else None
    with Session(engine) as session:
        try:
            added = subscriptions.add_subscription(
                session,
                shipment_id=shipment_id,
                url=url,
                kinds=wanted,
                audience=audience,
                rules=destination_rules(settings),
                now=datetime.now(UTC),
            )
        except subscriptions.InvalidSubscription as exc:
            raise click.ClickException(str(exc)) from None
        target = f"shipment {shipment_id}: {added.id} {added.privacy_url}"
        audited(session, action="subscription.add", target=target)
        session.commit()
        said = (
            f"subscription {added.id}: {added.privacy_url} ({added.audience}) hears "
            f"{added.kinds or 'every kind'}"
        )
    click.echo(said)


@click.group()
def recipients() -> None:
    """Recipients of alerts about any shipment, with delivery preferences (as /api/recipients)."""


def _listed(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value is not None else None


def _describe(recipient: Recipient) -> str:
    """One line per recipient; the URL in Apprise's privacy form."""
    delivery = (
        f"digest at {recipient.digest_at}"
        if recipient.delivery == "digest"
        else "at once" + (f", quiet {recipient.quiet_hours}" if recipient.quiet_hours else "")
    )
    return (
        f"{recipient.id}\t{privacy_form(recipient.privacy_url)}"
        f"\t{','.join(recipient.kinds or ['every kind'])}"
        f"\t{','.join(recipient.shipments or ['every shipment'])}\t{delivery} "
        f"({recipient.timezone})\t{recipient.audience}"
    )


@recipients.command("add")
@click.argument("url")
@click.option("--kinds", help="Comma-separated kinds [default: all].")
@click.option("--shipments", help="Comma-separated shipment ids [default: all].")
@click.option("--delivery", type=click.Choice(["instant", "digest"]), default="instant")
@click.option("--digest-at", metavar="HH:MM", help="When the daily digest goes out (digest).")
@click.option("--timezone", metavar="IANA", help="Where the times are read [default: UTC].")
@click.option("--quiet-hours", metavar="HH:MM-HH:MM", help="Hold routine alerts (instant).")
@_AUDIENCE
def recipients_add(
    url: str,
    kinds: str | None,
    shipments: str | None,
    delivery: str,
    digest_at: str | None,
    timezone: str | None,
    quiet_hours: str | None,
    audience: str,
) -> None:
    """Send alerts about every shipment (or --shipments) to an Apprise URL."""
    from sqlmodel import Session

    from app.bootstrap import destination_rules
    from app.store import recipients

    settings = read_settings()
    engine = open_engine(settings)
    with Session(engine) as session:
        try:
            added = recipients.add_recipient(
                session,
                url=url,
                kinds=_listed(kinds),
                shipments=_listed(shipments),
                delivery=delivery,
                digest_at=digest_at,
                timezone=timezone,
                quiet_hours=quiet_hours,
                audience=audience,
                rules=destination_rules(settings),
                now=datetime.now(UTC),
            )
        except recipients.InvalidRecipient as exc:
            raise click.ClickException(str(exc)) from None
        audited(session, action="recipient.add", target=f"{added.id} {added.privacy_url}")
        session.commit()
        said = _describe(added)
    click.echo(said)


@recipients.command("list")
def recipients_list() -> None:
    """Every recipient: id, URL (privacy form), kinds, shipments, delivery, audience."""
    from sqlmodel import Session

    from app.store import recipients

    with Session(open_engine(read_settings())) as session:
        for recipient in recipients.list_recipients(session):
            click.echo(_describe(recipient))


@recipients.command("remove")
@click.argument("recipient_id", type=int)
def recipients_remove(recipient_id: int) -> None:
    """Remove a recipient; what was held for it is skipped."""
    from sqlmodel import Session

    from app.store import recipients

    engine = open_engine(read_settings())
    with Session(engine) as session:
        if not recipients.remove_recipient(
            session, recipient_id=recipient_id, now=datetime.now(UTC)
        ):
            raise click.ClickException(f"no recipient {recipient_id}")
        audited(session, action="recipient.remove", target=str(recipient_id))
        session.commit()
    click.echo(f"recipient {recipient_id} removed")
