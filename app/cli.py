"""`flexhook`: the command line. Settings are read here, once, and handed down as plain values."""

from __future__ import annotations

import asyncio
import logging
import sys
from datetime import timedelta
from typing import Any

import click

from app.settings import ConfigError, Settings, load_settings

log = logging.getLogger("flexhook")


def _settings(**overrides: Any) -> Settings:
    try:
        return load_settings(**{k: v for k, v in overrides.items() if v is not None})
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def _logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )


@click.group()
@click.option("--log-level", default="info", show_default=True, envvar="FLEXHOOK_LOG_LEVEL")
def main(log_level: str) -> None:
    """flexhook: Flexport webhooks into shipment records and alerts."""
    _logging(log_level)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
def web(host: str, port: int) -> None:
    """Serve the webhook endpoint and the API (against TEMPORAL_ADDRESS)."""
    import uvicorn
    from temporalio.client import Client

    from app import db
    from app.starter import EventStarter
    from app.web import WebConfig, create_app

    settings = _settings()
    try:
        settings.require_web()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    assert settings.api_token is not None
    engine = db.create_db_engine(settings.resolved_database_url)
    db.init_schema(engine)

    async def starter() -> EventStarter:
        client = await Client.connect(
            settings.temporal_address, namespace=settings.temporal_namespace, lazy=True
        )
        return EventStarter(
            client,
            task_queue=settings.task_queue,
            rpc_timeout=timedelta(seconds=settings.start_timeout_seconds),
        )

    app = create_app(
        config=WebConfig(
            webhook_secrets=settings.webhook_secrets,
            api_token=settings.api_token,
            max_body_bytes=settings.max_body_bytes,
            accept_sha1=settings.accept_sha1,
        ),
        engine=engine,
        starter_factory=starter,
    )
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)


@main.command()
def worker() -> None:
    """Run a Temporal worker for flexhook's workflows and activities (against TEMPORAL_ADDRESS)."""
    from app import db
    from workflows.worker import serve

    settings = _settings()
    engine = db.create_db_engine(settings.resolved_database_url)
    db.init_schema(engine)
    asyncio.run(
        serve(
            address=settings.temporal_address,
            namespace=settings.temporal_namespace,
            task_queue=settings.task_queue,
            engine=engine,
        )
    )
