"""`flexhook reconcile`: start every event Flexport's Events API lists that the log lacks."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click

from app.commands.common import audit, iso_time, open_engine, read_settings

if TYPE_CHECKING:
    from app.store.reconcile_runs import Tally


@click.command()
@click.option(
    "--since",
    metavar="ISO-8601",
    callback=iso_time,
    help="Events that occurred at or after (UTC if no zone) "
    "[default: --until minus FLEXHOOK_RECONCILE_LOOKBACK].",
)
@click.option(
    "--until", metavar="ISO-8601", callback=iso_time, help="...and at or before [default: now]."
)
@click.option("--dry-run", is_flag=True, help="Compare and report what is missing; start nothing.")
def reconcile(since: datetime | None, until: datetime | None, dry_run: bool) -> None:
    """Start every event Flexport's Events API lists that the event log lacks.

    Events are listed by when they occurred, which can be long before their delivery. One known
    to the log in any status, failed included, is not missing (redrive failed ones with
    `flexhook redrive`). Prints `listed N, known N, missing N, started N`.
    """
    from sqlalchemy.exc import DBAPIError, SQLAlchemyError

    from app import bootstrap
    from app import temporal_client as temporal
    from app.flexport_api.client import FlexportAuthError
    from app.ingest import reconcile as reconciling

    settings = read_settings()
    if not settings.flexport_api_token:
        raise click.ClickException(
            "FLEXPORT_API_TOKEN is not set: reconcile lists Flexport's events with it"
        )
    try:
        window = reconciling.Window.ending(
            until or datetime.now(UTC), lookback=settings.reconcile_lookback, since=since
        )
    except ValueError:
        raise click.BadParameter(
            "must not be after --until (default: now)", param_hint="--since"
        ) from None
    engine = open_engine(settings)

    async def run() -> reconciling.RunResult:
        client = None
        if not dry_run:
            try:
                client = await temporal.connect(
                    address=settings.temporal_address,
                    namespace=settings.temporal_namespace,
                    payload_keys=settings.payload_keys,
                )
            except RuntimeError as exc:
                raise click.ClickException(
                    f"Temporal at {settings.temporal_address}: {exc}"
                ) from None
        with bootstrap.flexport_client(settings) as flexport, _progress() as on_page:
            return await reconciling.run_and_record(
                engine=engine,
                flexport=flexport,
                reconciler=bootstrap.reconciler(settings, engine, client),
                window=window,
                trigger="cli",
                dry_run=dry_run,
                on_page=on_page,
            )

    try:
        result = asyncio.run(run())
    except SQLAlchemyError as exc:
        # Not str(exc): SQLAlchemy's message carries the statement's parameters (event bodies).
        detail = exc.orig if isinstance(exc, DBAPIError) else type(exc).__name__
        raise click.ClickException(f"the database failed: {detail}") from None
    if isinstance(result.error, FlexportAuthError):
        raise click.ClickException(f"configuration error: {result.error}")
    if result.error is not None:
        raise click.ClickException(f"Flexport's API: {result.error}")
    tally = result.tally
    audit(
        engine,
        action="reconcile.run",
        target=f"{window.since.isoformat()} .. {window.until.isoformat()}"
        + (" (dry run)" if dry_run else ""),
        outcome=tally.summary() + (f", {len(tally.errors)} errors" if tally.errors else ""),
    )
    if dry_run:
        for event_id in tally.missing_ids:
            click.echo(f"missing\t{event_id}")
    click.echo(tally.summary() + (" (dry run)" if dry_run else ""))
    if tally.errors:
        more = f" (and {len(tally.errors) - 1} more)" if len(tally.errors) > 1 else ""
        raise click.ClickException(f"{tally.errors[0]}{more}")


@contextlib.contextmanager
def _progress() -> Iterator[Callable[[Tally], None]]:
    """A progress bar on stderr when it is a terminal, advanced once per page. Flexport says
    nothing of the total, so it shows the counts so far rather than a percentage."""
    import itertools

    from app.store.reconcile_runs import Tally

    with click.progressbar(
        itertools.repeat(Tally()),  # never iterated; having no length, the bar claims no percent
        label="reconciling",
        file=sys.stderr,
        hidden=not sys.stderr.isatty(),
        show_eta=False,
        item_show_func=lambda tally: tally.summary() if tally else None,
    ) as bar:
        yield lambda tally: bar.update(1, tally)
