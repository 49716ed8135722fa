"""`flexhook`: the command line. Settings are read here, once, and handed down as plain values."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from app.commands import recipients, reconcile, redrive, tokens
from app.commands.common import deprecated_alias, open_engine, read_settings
from app.settings import ConfigError, Settings

if TYPE_CHECKING:
    from app.telemetry import Tracing

log = logging.getLogger("flexhook")

TEXT_LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
# The processes' names in traces unless OTEL_SERVICE_NAME says otherwise.
WEB_SERVICE = "flexhook-web"
WORKER_SERVICE = "flexhook-worker"


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
        handler.setFormatter(logging.Formatter(TEXT_LOG_FORMAT))
    logging.basicConfig(level=getattr(logging, level.upper(), logging.INFO), handlers=[handler])
    # Libraries that narrate routine work at INFO (each migration plugin, each HTTP request).
    for chatty in ("alembic", "httpx"):
        logging.getLogger(chatty).setLevel(max(logging.WARNING, logging.getLogger().level))


def _traced(settings: Settings, service: str) -> Tracing | None:
    """OpenTelemetry traces when the OTEL_* variables ask (`app.telemetry`), and then the log
    lines carry the trace and span ids; None: off, nothing installed."""
    from app import bootstrap, telemetry

    tracing = bootstrap.tracing(settings, service=service)
    if tracing is not None:
        telemetry.log_trace_ids(logging.getLogger().handlers, text_format=TEXT_LOG_FORMAT)
    return tracing


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
    """Serve the webhook endpoint and the API (against TEMPORAL_ADDRESS), and /metrics on
    FLEXHOOK_METRICS_ADDRESS."""
    from app import bootstrap
    from app.web import serving

    settings = read_settings()
    try:
        bootstrap.web_config(settings)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    engine = open_engine(settings)
    tracing = _traced(settings, WEB_SERVICE)
    if tracing is not None:
        tracing.trace_engine(engine)
    try:
        apps = bootstrap.web_apps(settings, engine, tracing=tracing)
    except NotADirectoryError as exc:  # the ops watch renders with the templates
        raise click.ClickException(f"FLEXHOOK_TEMPLATES_DIR: {exc}") from None
    try:
        serving.run(apps, bootstrap.web_listeners(settings, host=host, port=port))
    except serving.ListenerUnavailable as exc:
        raise click.ClickException(f"FLEXHOOK_METRICS_ADDRESS {exc}") from None
    finally:
        if tracing is not None:
            tracing.shutdown()  # export what is pending before `run` leaves


@main.command()
def worker() -> None:
    """Run a Temporal worker for flexhook's workflows and activities (against TEMPORAL_ADDRESS)."""
    from app import bootstrap
    from workflows.worker import serve

    settings = read_settings()
    engine = open_engine(settings)
    try:
        bootstrap.renderer(settings)  # a bad FLEXHOOK_TEMPLATES_DIR is said before connecting
    except NotADirectoryError as exc:
        raise click.ClickException(f"FLEXHOOK_TEMPLATES_DIR: {exc}") from None
    tracing = _traced(settings, WORKER_SERVICE)
    if tracing is not None:
        tracing.trace_engine(engine)
    try:
        asyncio.run(
            serve(
                address=settings.temporal_address,
                namespace=settings.temporal_namespace,
                task_queue=settings.task_queue,
                metrics_address=settings.worker_metrics_address,
                activities=lambda client: bootstrap.worker_activities(
                    settings, engine, client, tracing=tracing
                ),
                reconcile_schedule=bootstrap.reconcile_schedule(settings),
                payload_keys=settings.payload_keys,
                payload_retention=settings.payload_retention,
                send_concurrency=settings.send_concurrency,
                interceptors=tracing.interceptors() if tracing else (),
            )
        )
    finally:
        if tracing is not None:
            tracing.shutdown()


@main.command()
@click.option("--port", default=8000, show_default=True, type=int, help="Port of the web process.")
@click.option("--temporal-port", default=7233, show_default=True, type=int, help="Temporal gRPC.")
@click.option("--ui-port", default=8233, show_default=True, type=int, help="Temporal UI.")
@click.option(
    "--metrics-port", default=9465, show_default=True, type=int, help="The web process's /metrics."
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Databases and dev files [default: $FLEXHOOK_DATA_DIR or ./data].",
)
@click.pass_context
def dev(
    ctx: click.Context,
    port: int,
    temporal_port: int,
    ui_port: int,
    metrics_port: int,
    data_dir: Path | None,
) -> None:
    """Run a Temporal dev server, a worker and the web process together until Ctrl-C."""
    from app.dev import supervisor

    settings = read_settings(data_dir=data_dir)
    _prepare_dev_database(settings)
    config = supervisor.DevConfig(
        data_dir=settings.data_dir.resolve(),
        web_port=port,
        temporal_port=temporal_port,
        ui_port=ui_port,
        metrics_port=metrics_port,
        namespace=settings.temporal_namespace,
    )
    try:
        supervisor.run_dev(
            config,
            webhook_secrets=settings.webhook_secrets,
            api_token=settings.api_token,
            env=os.environ,
            log_level=ctx.find_root().params["log_level"],
            echo=click.echo,
            notify_config=settings.resolved_notify_config,
            public_url=settings.public_url,
            temporal_ui_url=settings.temporal_ui_url,
            payload_keys_configured=bool(settings.payload_keys),
        )
    except supervisor.ChildDied as exc:
        raise click.ClickException(f"{exc}; stopped the others") from None
    except supervisor.DevStackError as exc:
        raise click.ClickException(str(exc)) from None


@main.group("db")
def database() -> None:
    """The database schema."""


@database.command()
def upgrade() -> None:
    """Apply pending migrations to DATABASE_URL (flexhook dev does this itself on SQLite)."""
    from app.store import db

    settings = read_settings()
    db.upgrade(db.create_db_engine(settings.resolved_database_url))
    click.echo("database schema is up to date")


def _prepare_dev_database(settings: Settings) -> None:
    """On SQLite dev applies migrations itself; another database must be upgraded by hand."""
    from app.store import db

    url = settings.resolved_database_url
    if url.startswith("sqlite"):
        db.upgrade(db.create_db_engine(url))
    else:
        open_engine(settings)


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
    settings = read_settings(data_dir=data_dir)
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


main.add_command(recipients.subscribe)
main.add_command(recipients.recipients)
main.add_command(redrive.redrive)
main.add_command(reconcile.reconcile)
main.add_command(tokens.tokens)
main.add_command(deprecated_alias(recipients.recipients, old_name="subscribers"))
main.add_command(deprecated_alias(redrive.redrive, old_name="replay"))


def run() -> None:
    """The `flexhook` program: `main`, then an exit that does not wait for interpreter shutdown.

    The Temporal SDK's Rust threads (a client's runtime) can still call into Python while the
    interpreter finalizes, which aborts the process ("PyGILState_Release ... finalizing") after
    the command itself succeeded. Everything a command does is done and flushed by then, so the
    process leaves at once with the command's exit code. Tests call `main` in process instead.
    """
    try:
        main()
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
        if isinstance(exit_.code, str):
            print(exit_.code, file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    os._exit(code)


if __name__ == "__main__":
    run()
