"""`flexhook redrive`: run logged events through the normal path again."""

from __future__ import annotations

import asyncio
import sys
from collections import Counter
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import click

from app.commands.common import audit, iso_time, open_engine, read_settings

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from app.ingest.redrive import Candidate
    from app.settings import Settings


@click.command()
@click.option(
    "--status",
    type=click.Choice(["failed", "queued", "ignored", "processing"]),
    default="failed",
    show_default=True,
    help="Which events to run again (`processing` with --until: those stuck since before then; "
    "a run still going is a duplicate).",
)
@click.option("--type", "event_type", help="Only this event type, e.g. /shipment_leg#departed.")
@click.option("--shipment", help="Only events of this shipment id.")
@click.option("--since", callback=iso_time, help="Received at or after (ISO, UTC if no zone).")
@click.option("--until", callback=iso_time, help="Received before (ISO, UTC if no zone).")
@click.option("--dry-run", is_flag=True, help="List what would run again; start nothing.")
def redrive(
    status: str,
    event_type: str | None,
    shipment: str | None,
    since: datetime | None,
    until: datetime | None,
    dry_run: bool,
) -> None:
    """Run matching events through the normal path again (a processed one stays a no-op)."""
    from sqlmodel import Session

    from app.ingest import redrive
    from app.store.filters import EventFilter

    settings = read_settings()
    engine = open_engine(settings)
    with Session(engine) as session:
        found = redrive.candidates(
            session,
            where=EventFilter(
                status=status,
                event_type=event_type,
                shipment_id=shipment,
                since=since,
                until=until,
            ),
        )
    criteria = {
        "status": status,
        "type": event_type,
        "shipment": shipment,
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None,
    }
    if dry_run or not found:
        for candidate in found:
            click.echo(f"{candidate.event_id}\t{candidate.status}\t{candidate.received_at}")
        click.echo(f"{len(found)} {status} event(s) match{' (dry run)' if dry_run else ''}")
        return

    outcomes = asyncio.run(
        _start_all(settings, engine, found, label=f"redriving {len(found)} {status} events")
    )
    summary = ", ".join(f"{count} {outcome}" for outcome, count in sorted(outcomes.items()))
    audit(engine, action="event.redrive", target=_described(criteria, len(found)), outcome=summary)
    click.echo(summary)
    if outcomes["unavailable"]:
        sys.exit(1)


async def _start_all(
    settings: Settings, engine: Engine, found: list[Candidate], *, label: str
) -> Counter[str]:
    """Start each of `found` again; how many ended which way."""
    from app import temporal_client
    from app.ingest import redrive
    from app.ingest.errors import PayloadRemoved, TemporalUnavailable
    from app.ingest.starter import EventStarter

    try:
        client = await temporal_client.connect(
            address=settings.temporal_address,
            namespace=settings.temporal_namespace,
            payload_keys=settings.payload_keys,
        )
    except RuntimeError as exc:
        raise click.ClickException(f"Temporal at {settings.temporal_address}: {exc}") from None
    starter = EventStarter(
        client,
        task_queue=settings.task_queue,
        rpc_timeout=timedelta(seconds=max(settings.start_timeout_seconds, 10)),
        process_deadline=settings.process_deadline,
    )
    outcomes: Counter[str] = Counter()
    with click.progressbar(found, label=label) as bar:
        for candidate in bar:
            try:
                started = await redrive.redrive_event(
                    engine=engine, starter=starter, candidate=candidate
                )
            except TemporalUnavailable:
                outcomes["unavailable"] += 1
                continue
            except PayloadRemoved:  # nothing left to run
                outcomes["payload removed by retention"] += 1
                continue
            outcomes[started] += 1
    return outcomes


def _described(criteria: dict[str, str | None], count: int) -> str:
    """`status=failed shipment=418563: 3 events`: a redrive run's filter and count."""
    given = " ".join(f"{name}={value}" for name, value in criteria.items() if value)
    return f"{given}: {count} events"
