"""`flexhook`: the command line. Settings are read here, once, and handed down as plain values."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from app.settings import ConfigError, Settings, load_settings

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from app.store.models import Recipient
    from app.store.reconcile_runs import Tally

log = logging.getLogger("flexhook")


def _engine(settings: Settings) -> Engine:
    """The database, which must be at the newest migration (`flexhook db upgrade`)."""
    from app import bootstrap
    from app.store.db import SchemaOutOfDate

    try:
        return bootstrap.open_database(settings)
    except SchemaOutOfDate as exc:
        raise click.ClickException(str(exc)) from None


def _settings(**overrides: Any) -> Settings:
    try:
        return load_settings(**{k: v for k, v in overrides.items() if v is not None})
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def _logging(level: str, log_format: str) -> None:
    """Text for people, or one JSON object per line (with event, workflow and shipment ids)."""
    handler = logging.StreamHandler()
    if log_format == "json":
        from pythonjsonlogger.json import JsonFormatter

        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            )
        )
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logging.basicConfig(level=getattr(logging, level.upper(), logging.INFO), handlers=[handler])
    # Libraries that narrate routine work at INFO (each migration plugin, each HTTP request).
    for chatty in ("alembic", "httpx"):
        logging.getLogger(chatty).setLevel(max(logging.WARNING, logging.getLogger().level))


@click.group()
@click.option("--log-level", default="info", show_default=True, envvar="FLEXHOOK_LOG_LEVEL")
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    envvar="FLEXHOOK_LOG_FORMAT",
)
def main(log_level: str, log_format: str) -> None:
    """flexhook: Flexport webhooks into shipment records and alerts."""
    _logging(log_level, log_format)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
def web(host: str, port: int) -> None:
    """Serve the webhook endpoint and the API (against TEMPORAL_ADDRESS)."""
    import uvicorn

    from app import bootstrap

    settings = _settings()
    try:
        bootstrap.web_config(settings)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        app = bootstrap.web_app(settings, _engine(settings))
    except NotADirectoryError as exc:  # the ops watch renders with the templates
        raise click.ClickException(f"FLEXHOOK_TEMPLATES_DIR: {exc}") from None
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)


@main.command()
def worker() -> None:
    """Run a Temporal worker for flexhook's workflows and activities (against TEMPORAL_ADDRESS)."""
    from app import bootstrap
    from workflows.worker import serve

    settings = _settings()
    engine = _engine(settings)
    try:
        activities = bootstrap.worker_activities(settings, engine)
    except NotADirectoryError as exc:
        raise click.ClickException(f"FLEXHOOK_TEMPLATES_DIR: {exc}") from None
    asyncio.run(
        serve(
            address=settings.temporal_address,
            namespace=settings.temporal_namespace,
            task_queue=settings.task_queue,
            metrics_address=settings.worker_metrics_address,
            records=activities.records,
            notifications=activities.notifications,
            recipients=activities.recipients,
            reconcile=lambda client: bootstrap.reconcile_activities(settings, engine, client),
            reconcile_schedule=bootstrap.reconcile_schedule(settings),
        )
    )


@main.command()
@click.option("--port", default=8000, show_default=True, type=int, help="Port of the web process.")
@click.option("--temporal-port", default=7233, show_default=True, type=int, help="Temporal gRPC.")
@click.option("--ui-port", default=8233, show_default=True, type=int, help="Temporal UI.")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Databases and dev files [default: $FLEXHOOK_DATA_DIR or ./data].",
)
@click.pass_context
def dev(
    ctx: click.Context, port: int, temporal_port: int, ui_port: int, data_dir: Path | None
) -> None:
    """Run a Temporal dev server, a worker and the web process together until Ctrl-C."""
    from app.dev import supervisor as devstack

    settings = _settings(data_dir=data_dir)
    _prepare_dev_database(settings)
    config = devstack.DevConfig(
        data_dir=settings.data_dir.resolve(),
        web_port=port,
        temporal_port=temporal_port,
        ui_port=ui_port,
        namespace=settings.temporal_namespace,
    )
    try:
        devstack.run_dev(
            config,
            webhook_secrets=settings.webhook_secrets,
            api_token=settings.api_token,
            env=os.environ,
            log_level=ctx.find_root().params["log_level"],
            echo=click.echo,
            notify_config=settings.resolved_notify_config,
            public_url=settings.public_url,
            temporal_ui_url=settings.temporal_ui_url,
        )
    except devstack.ChildDied as exc:
        raise click.ClickException(f"{exc}; stopped the others") from None
    except devstack.DevStackError as exc:
        raise click.ClickException(str(exc)) from None


@main.group("db")
def database() -> None:
    """The database schema."""


@database.command()
def upgrade() -> None:
    """Apply pending migrations to DATABASE_URL (flexhook dev does this itself on SQLite)."""
    from app.store import db

    settings = _settings()
    db.upgrade(db.create_db_engine(settings.resolved_database_url))
    click.echo("database schema is up to date")


@main.command()
@click.argument("shipment_id")
@click.argument("url")
@click.option(
    "--kinds",
    help="Comma-separated kinds (departed, arrived, delivered, eta, customs, exception) "
    "[default: all].",
)
def subscribe(shipment_id: str, url: str, kinds: str | None) -> None:
    """Send SHIPMENT_ID's alerts to an Apprise URL (as POST /api/shipments/{id}/subscribers)."""
    from sqlmodel import Session

    from app.store import subscriptions

    settings = _settings()
    engine = _engine(settings)
    wanted = [k.strip() for k in kinds.split(",") if k.strip()] if kinds is not None else None
    with Session(engine) as session:
        try:
            added = subscriptions.add_subscription(
                session, shipment_id=shipment_id, url=url, kinds=wanted, now=datetime.now(UTC)
            )
        except subscriptions.InvalidSubscription as exc:
            raise click.ClickException(str(exc)) from None
        session.commit()
        click.echo(
            f"subscriber {added.id}: {added.privacy_url} hears {added.kinds or 'every kind'}"
        )


@main.group()
def subscribers() -> None:
    """Recipients of alerts about any shipment, with delivery preferences (as /api/subscribers)."""


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
        f"{recipient.id}\t{recipient.privacy_url}\t{','.join(recipient.kinds or ['every kind'])}"
        f"\t{','.join(recipient.shipments or ['every shipment'])}\t{delivery} "
        f"({recipient.timezone})"
    )


@subscribers.command("add")
@click.argument("url")
@click.option("--kinds", help="Comma-separated kinds [default: all].")
@click.option("--shipments", help="Comma-separated shipment ids [default: all].")
@click.option("--delivery", type=click.Choice(["instant", "digest"]), default="instant")
@click.option("--digest-at", metavar="HH:MM", help="When the daily digest goes out (digest).")
@click.option("--timezone", metavar="IANA", help="Where the times are read [default: UTC].")
@click.option("--quiet-hours", metavar="HH:MM-HH:MM", help="Hold routine alerts (instant).")
def subscribers_add(
    url: str,
    kinds: str | None,
    shipments: str | None,
    delivery: str,
    digest_at: str | None,
    timezone: str | None,
    quiet_hours: str | None,
) -> None:
    """Send alerts about every shipment (or --shipments) to an Apprise URL."""
    from sqlmodel import Session

    from app.store import recipients

    engine = _engine(_settings())
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
                now=datetime.now(UTC),
            )
        except recipients.InvalidRecipient as exc:
            raise click.ClickException(str(exc)) from None
        session.commit()
        click.echo(_describe(added))


@subscribers.command("list")
def subscribers_list() -> None:
    """Every recipient: id, URL (privacy form), kinds, shipments, delivery."""
    from sqlmodel import Session

    from app.store import recipients

    with Session(_engine(_settings())) as session:
        for recipient in recipients.list_recipients(session):
            click.echo(_describe(recipient))


@subscribers.command("remove")
@click.argument("recipient_id", type=int)
def subscribers_remove(recipient_id: int) -> None:
    """Remove a recipient; what was held for it is skipped."""
    from sqlmodel import Session

    from app.store import recipients

    with Session(_engine(_settings())) as session:
        if not recipients.remove_recipient(
            session, recipient_id=recipient_id, now=datetime.now(UTC)
        ):
            raise click.ClickException(f"no recipient {recipient_id}")
        session.commit()
    click.echo(f"recipient {recipient_id} removed")


def _prepare_dev_database(settings: Settings) -> None:
    """On SQLite dev applies migrations itself; another database must be upgraded by hand."""
    from app.store import db

    url = settings.resolved_database_url
    if url.startswith("sqlite"):
        db.upgrade(db.create_db_engine(url))
    else:
        _engine(settings)


@main.command()
@click.option(
    "--status",
    type=click.Choice(["failed", "queued", "ignored"]),
    default="failed",
    show_default=True,
    help="Which events to run again.",
)
@click.option("--type", "event_type", help="Only this event type, e.g. /shipment_leg#departed.")
@click.option("--shipment", help="Only events of this shipment id.")
@click.option("--since", type=click.DateTime(), help="Received at or after (ISO, UTC if no zone).")
@click.option("--until", type=click.DateTime(), help="Received before (ISO, UTC if no zone).")
@click.option("--dry-run", is_flag=True, help="List what would run again; start nothing.")
def replay(
    status: str,
    event_type: str | None,
    shipment: str | None,
    since: datetime | None,
    until: datetime | None,
    dry_run: bool,
) -> None:
    """Run matching events through the normal path again (a processed one stays a no-op)."""
    from collections import Counter

    from sqlmodel import Session

    from app import temporal_client
    from app.ingest import redrive
    from app.ingest.starter import EventStarter, TemporalUnavailable
    from app.store.filters import EventFilter

    settings = _settings()
    engine = _engine(settings)
    with Session(engine) as session:
        found = redrive.candidates(
            session,
            where=EventFilter(
                status=status,
                event_type=event_type,
                shipment_id=shipment,
                since=_utc(since),
                until=_utc(until),
            ),
        )
    if dry_run or not found:
        for candidate in found:
            click.echo(f"{candidate.event_id}\t{candidate.status}\t{candidate.received_at}")
        click.echo(f"{len(found)} {status} event(s) match{' (dry run)' if dry_run else ''}")
        return

    async def run() -> Counter[str]:
        try:
            client = await temporal_client.connect(
                address=settings.temporal_address, namespace=settings.temporal_namespace
            )
        except RuntimeError as exc:
            raise click.ClickException(f"Temporal at {settings.temporal_address}: {exc}") from None
        starter = EventStarter(
            client,
            task_queue=settings.task_queue,
            rpc_timeout=timedelta(seconds=max(settings.start_timeout_seconds, 10)),
        )
        outcomes: Counter[str] = Counter()
        with click.progressbar(found, label=f"replaying {len(found)} {status} events") as bar:
            for candidate in bar:
                try:
                    started = await redrive.redrive_event(
                        engine=engine, starter=starter, candidate=candidate
                    )
                except TemporalUnavailable:
                    outcomes["unavailable"] += 1
                    continue
                outcomes[started] += 1
        return outcomes

    outcomes = asyncio.run(run())
    click.echo(", ".join(f"{count} {outcome}" for outcome, count in sorted(outcomes.items())))
    if outcomes["unavailable"]:
        sys.exit(1)


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _iso_time(ctx: click.Context, param: click.Parameter, value: str | None) -> datetime | None:
    """An ISO 8601 time (`2026-03-01`, `2026-03-01T08:00:00+08:00`, `...Z`); UTC if no zone."""
    if value is None:
        return None
    try:
        return _utc(datetime.fromisoformat(value))
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not an ISO 8601 time such as 2026-03-01T00:00:00Z"
        ) from None


@main.command()
@click.option(
    "--since",
    metavar="ISO-8601",
    callback=_iso_time,
    help="Events that occurred at or after (UTC if no zone) "
    "[default: --until minus FLEXHOOK_RECONCILE_LOOKBACK].",
)
@click.option(
    "--until", metavar="ISO-8601", callback=_iso_time, help="...and at or before [default: now]."
)
@click.option("--dry-run", is_flag=True, help="Compare and report what is missing; start nothing.")
def reconcile(since: datetime | None, until: datetime | None, dry_run: bool) -> None:
    """Start every event Flexport's Events API lists that the event log lacks.

    Events are listed by when they occurred, which can be long before their delivery. One known
    to the log in any status, failed included, is not missing (redrive failed ones with
    `flexhook replay`). Prints `listed N, known N, missing N, started N`.
    """
    from sqlalchemy.exc import DBAPIError, SQLAlchemyError

    from app import bootstrap
    from app import temporal_client as temporal
    from app.flexport.api import FlexportAuthError
    from app.ingest import reconcile as reconciling

    settings = _settings()
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
    engine = _engine(settings)

    async def run() -> reconciling.RunResult:
        client = None
        if not dry_run:
            try:
                client = await temporal.connect(
                    address=settings.temporal_address, namespace=settings.temporal_namespace
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


@main.command()
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--sample", help="A shipped sample, e.g. 06_leg_departed (see --list).")
@click.option("--url", help="Webhook URL [default: the running `flexhook dev`'s, else port 8000].")
@click.option("--secret", help="Signing secret [default: the one `flexhook dev` runs with].")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where `flexhook dev` keeps dev.json [default: $FLEXHOOK_DATA_DIR or ./data].",
)
@click.option("--list", "list_samples", is_flag=True, help="List the shipped samples and exit.")
def send(
    file: Path | None,
    sample: str | None,
    url: str | None,
    secret: str | None,
    data_dir: Path | None,
    list_samples: bool,
) -> None:
    """POST FILE (or a shipped --sample) to a flexhook endpoint, signed as Flexport signs it."""
    from app.dev import sender

    if list_samples:
        click.echo("\n".join(sender.sample_names()))
        return
    settings = _settings(data_dir=data_dir)
    try:
        body = sender.read_payload(file=file, sample=sample)
        target = sender.resolve_target(
            url=url,
            secret=secret,
            data_dir=settings.data_dir,
            configured_secrets=settings.webhook_secrets,
        )
        response = sender.post(sender.build_request(body, url=target.url, secret=target.secret))
    except sender.SendError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{response.status_code} {response.reason_phrase}")
    click.echo(response.text)
    if not response.is_success:
        sys.exit(1)


if __name__ == "__main__":
    main()
