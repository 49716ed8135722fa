"""flexhook's one settings object, read from the environment (and an optional `.env`) at the edges.

Only the entry points (`flexhook web`, `flexhook worker`, `flexhook dev`) build a `Settings`;
everything below them receives plain values.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated

from pydantic import BeforeValidator, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from pytimeparse2 import parse as parse_duration

from app.core.access import MIN_ENVIRONMENT_TOKEN_LENGTH


class ConfigError(Exception):
    """A setting is missing or invalid; the message names the environment variable."""


def _go_duration(value: object) -> object:
    """A Go-style duration (`15m`, `72h`, `1h30m`, `0`) as a timedelta; other values as given."""
    if isinstance(value, str):
        seconds = parse_duration(value.strip())
        if seconds is None or seconds < 0:
            raise ValueError(f"{value!r} is not a duration such as 15m, 72h or 1h30m")
        return timedelta(seconds=seconds)
    return value


Duration = Annotated[timedelta, BeforeValidator(_go_duration)]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    webhook_secrets: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(), alias="FLEXPORT_WEBHOOK_SECRET"
    )
    data_dir: Path = Field(default=Path("data"), alias="FLEXHOOK_DATA_DIR")
    database_url: str | None = Field(default=None, alias="DATABASE_URL")
    temporal_address: str = Field(default="localhost:7233", alias="TEMPORAL_ADDRESS")
    temporal_namespace: str = Field(default="default", alias="TEMPORAL_NAMESPACE")
    task_queue: str = Field(default="flexhook", alias="FLEXHOOK_TASK_QUEUE")
    api_token: str | None = Field(default=None, alias="FLEXHOOK_API_TOKEN")
    refused_tokens_per_minute: int = Field(
        default=10, ge=1, alias="FLEXHOOK_REFUSED_TOKENS_PER_MINUTE"
    )
    max_body_bytes: int = Field(default=1024 * 1024, gt=0, alias="FLEXHOOK_MAX_BODY_BYTES")
    accept_sha1: bool = Field(default=False, alias="FLEXHOOK_ACCEPT_SHA1")
    start_timeout_seconds: float = Field(default=2.0, gt=0, alias="FLEXHOOK_START_TIMEOUT")
    # How long an event's processing is retried before it is failed (and ops told); how long an
    # event may sit in `processing` before the ops watch alerts.
    process_deadline: Duration = Field(
        default=timedelta(hours=1), gt=timedelta(0), alias="FLEXHOOK_PROCESS_DEADLINE"
    )
    stuck_after: Duration = Field(
        default=timedelta(minutes=30), gt=timedelta(0), alias="FLEXHOOK_STUCK_AFTER"
    )
    eta_slip_hours: float = Field(default=24.0, ge=0, alias="FLEXHOOK_ETA_SLIP_HOURS")
    notify_config: Path | None = Field(default=None, alias="FLEXHOOK_NOTIFY_CONFIG")
    templates_dir: Path | None = Field(default=None, alias="FLEXHOOK_TEMPLATES_DIR")
    public_url: str = Field(default="", alias="FLEXHOOK_PUBLIC_URL")
    temporal_ui_url: str = Field(default="", alias="FLEXHOOK_TEMPORAL_UI_URL")
    worker_metrics_address: str | None = Field(
        default=None, alias="FLEXHOOK_WORKER_METRICS_ADDRESS"
    )
    # Reconciliation with Flexport's Events API: off without a token.
    flexport_api_token: str | None = Field(default=None, alias="FLEXPORT_API_TOKEN")
    flexport_api_url: str = Field(default="https://api.flexport.com", alias="FLEXPORT_API_URL")
    flexport_api_version: str = Field(default="2", alias="FLEXPORT_API_VERSION")
    reconcile_every: Duration = Field(
        default=timedelta(minutes=15), alias="FLEXHOOK_RECONCILE_EVERY"
    )
    reconcile_lookback: Duration = Field(
        default=timedelta(hours=72), alias="FLEXHOOK_RECONCILE_LOOKBACK"
    )
    # Alerts.
    flexport_app_url: str = Field(
        default="https://app.flexport.com", alias="FLEXHOOK_FLEXPORT_APP_URL"
    )
    eta_grace: Duration = Field(default=timedelta(hours=6), alias="FLEXHOOK_ETA_GRACE")
    ops_alert_after: Duration = Field(
        default=timedelta(minutes=5), alias="FLEXHOOK_OPS_ALERT_AFTER"
    )

    @field_validator("webhook_secrets", mode="before")
    @classmethod
    def _split_secrets(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @property
    def resolved_database_url(self) -> str:
        """`DATABASE_URL`, or an SQLite file in the data dir."""
        return self.database_url or f"sqlite:///{self.data_dir / 'flexhook.db'}"

    @property
    def resolved_notify_config(self) -> Path:
        """`FLEXHOOK_NOTIFY_CONFIG`, or `notifications.yml` in the data dir."""
        return self.notify_config or self.data_dir / "notifications.yml"

    @property
    def reconcile_enabled(self) -> bool:
        """Reconciliation runs on its schedule only with an API token and a non-zero period."""
        return bool(self.flexport_api_token) and self.reconcile_every > timedelta(0)

    def require_web(self) -> None:
        """The web process cannot verify or guard anything without these two."""
        if not self.webhook_secrets:
            raise ConfigError(
                "FLEXPORT_WEBHOOK_SECRET is not set (a comma-separated list of secrets)"
            )
        if not self.api_token:
            raise ConfigError("FLEXHOOK_API_TOKEN is not set (the bearer token for /api)")
        if len(self.api_token) < MIN_ENVIRONMENT_TOKEN_LENGTH:
            raise ConfigError(
                f"FLEXHOOK_API_TOKEN is {len(self.api_token)} characters; the break-glass admin "
                f"token needs at least {MIN_ENVIRONMENT_TOKEN_LENGTH} (`flexhook dev` generates "
                "one; `flexhook tokens create` makes named ones)"
            )


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment, turning validation errors into a `ConfigError`."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else "?"
            alias = Settings.model_fields[field].alias if field in Settings.model_fields else field
            problems.append(f"{alias or field}: {error['msg']}")
        raise ConfigError("invalid configuration: " + "; ".join(problems)) from None
