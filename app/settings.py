"""flexhook's one settings object, read from the environment (and an optional `.env`) at the edges.

Only the entry points (`flexhook web`, `flexhook worker`, `flexhook dev`) build a `Settings`;
everything below them receives plain values.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated

from pydantic import BeforeValidator, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from pytimeparse2 import parse as parse_duration

from app.core.access import MIN_ENVIRONMENT_TOKEN_LENGTH
from app.core.addresses import AddressAllowlist, parse_allowlist
from app.core.exception_clock import (
    DEFAULT_ACK_SLA,
    DEFAULT_RESOLVE_SLA,
    parse_severity_durations,
)
from app.core.exception_families import parse_severity_overrides
from app.core.follow import check_mail_url
from app.core.shares import ShareLifetime, share_key


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

PAYLOAD_KEY_BYTES = 32  # AES-256
_KEY_ID = re.compile(r"[A-Za-z0-9_.-]{1,32}")


def parse_payload_keys(value: object) -> object:
    """`k2:<base64 of 32 bytes>,k1:<...>` as ((id, key), ...), the encrypting key first; other
    values as given. A malformed entry is named by its position, never by its key."""
    if not isinstance(value, str):
        return value
    keys: list[tuple[str, bytes]] = []
    for position, entry in enumerate((e.strip() for e in value.split(",") if e.strip()), 1):
        key_id, _, encoded = entry.partition(":")
        key_id = key_id.strip()
        if not _KEY_ID.fullmatch(key_id):
            raise ValueError(
                f"entry {position} needs an id of letters, digits, '_', '.' or '-' before ':'"
            )
        try:
            key = base64.b64decode(encoded.strip(), altchars=b"-_", validate=True)
        except (binascii.Error, ValueError):
            key = b""
        if len(key) != PAYLOAD_KEY_BYTES:
            raise ValueError(
                f"key {key_id!r} is not the base64 of {PAYLOAD_KEY_BYTES} bytes "
                "(make one with `openssl rand -base64 32`)"
            )
        if any(key_id == known for known, _ in keys):
            raise ValueError(f"key id {key_id!r} appears twice")
        keys.append((key_id, key))
    return tuple(keys)


def split_address(address: str) -> tuple[str, int]:
    """`host:port` (`[::1]:9465` for IPv6) as (host, port); `ValueError` otherwise."""
    host, colon, port = address.strip().rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{address!r} is not host:port, such as 127.0.0.1:9465")
    return host, int(port)


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
    # The samples are 5-14 KB: 256 KiB is generous, and bounds what a slow client can hold.
    max_body_bytes: int = Field(default=256 * 1024, gt=0, alias="FLEXHOOK_MAX_BODY_BYTES")
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
    # Sending (docs/alerts.md#one-destination-cannot-stall-the-others): each send's hard
    # deadline, below the send activity's 60 s; the worker's send slots; the breaker.
    send_deadline: Duration = Field(
        default=timedelta(seconds=30),
        ge=timedelta(seconds=1),
        le=timedelta(seconds=50),
        alias="FLEXHOOK_SEND_DEADLINE",
    )
    send_concurrency: int = Field(default=8, gt=0, le=256, alias="FLEXHOOK_SEND_CONCURRENCY")
    send_breaker_after: int = Field(default=3, ge=0, alias="FLEXHOOK_SEND_BREAKER_AFTER")
    send_breaker_cooldown: Duration = Field(
        default=timedelta(minutes=5), alias="FLEXHOOK_SEND_BREAKER_COOLDOWN"
    )
    notify_config: Path | None = Field(default=None, alias="FLEXHOOK_NOTIFY_CONFIG")
    # Internal hosts and networks destinations may reach (`app.core.addresses`); empty: none.
    destination_allow: str = Field(default="", alias="FLEXHOOK_DESTINATION_ALLOW")
    max_recipients: int = Field(default=200, ge=1, alias="FLEXHOOK_MAX_RECIPIENTS")
    max_subscriptions_per_shipment: int = Field(
        default=20, ge=1, alias="FLEXHOOK_MAX_SUBSCRIPTIONS_PER_SHIPMENT"
    )
    templates_dir: Path | None = Field(default=None, alias="FLEXHOOK_TEMPLATES_DIR")
    public_url: str = Field(default="", alias="FLEXHOOK_PUBLIC_URL")
    temporal_ui_url: str = Field(default="", alias="FLEXHOOK_TEMPORAL_UI_URL")
    worker_metrics_address: str | None = Field(
        default=None, alias="FLEXHOOK_WORKER_METRICS_ADDRESS"
    )
    # The web process's own listeners: /metrics apart from the public port, and its guards.
    metrics_address: str = Field(default="127.0.0.1:9465", alias="FLEXHOOK_METRICS_ADDRESS")
    body_read_timeout: Duration = Field(
        default=timedelta(seconds=10), alias="FLEXHOOK_BODY_READ_TIMEOUT"
    )
    max_connections: int = Field(default=512, ge=1, alias="FLEXHOOK_MAX_CONNECTIONS")
    forwarded_allow_ips: str | None = Field(default=None, alias="FLEXHOOK_FORWARDED_ALLOW_IPS")
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
    # External readers' alerts link Flexport's app too (most cannot sign in there).
    external_flexport_link: bool = Field(default=False, alias="FLEXHOOK_EXTERNAL_FLEXPORT_LINK")
    eta_grace: Duration = Field(default=timedelta(hours=6), alias="FLEXHOOK_ETA_GRACE")
    # The exception inbox (`app.core.exception_clock`, `app.core.exception_families`): how long
    # an exception of each severity may stay unacknowledged before it escalates, and
    # acknowledged but unresolved before it reminds (a severity left out: no clock); the
    # families' severities changed from their defaults (`customs_hold=high,charges=low`).
    exception_ack_sla: str = Field(default=DEFAULT_ACK_SLA, alias="FLEXHOOK_EXCEPTION_ACK_SLA")
    exception_resolve_sla: str = Field(
        default=DEFAULT_RESOLVE_SLA, alias="FLEXHOOK_EXCEPTION_RESOLVE_SLA"
    )
    exception_severity: str = Field(default="", alias="FLEXHOOK_EXCEPTION_SEVERITY")
    ops_alert_after: Duration = Field(
        default=timedelta(minutes=5), alias="FLEXHOOK_OPS_ALERT_AFTER"
    )
    # Privacy: how long raw payloads stay in the event log (0: for ever), and the keys that
    # encrypt what flexhook hands to Temporal (none: no encryption).
    payload_retention: Duration = Field(
        default=timedelta(days=90), alias="FLEXHOOK_PAYLOAD_RETENTION"
    )
    payload_keys: Annotated[
        tuple[tuple[str, bytes], ...], NoDecode, BeforeValidator(parse_payload_keys)
    ] = Field(default=(), alias="FLEXHOOK_PAYLOAD_KEYS", repr=False)

    # Share links (`app.core.shares`): their lifetime, and the secret the alerts' link is derived
    # from (unset: derived from the first webhook secret).
    share_expiry: Duration = Field(
        default=timedelta(days=90), gt=timedelta(0), alias="FLEXHOOK_SHARE_EXPIRY"
    )
    share_after_delivery: Duration = Field(
        default=timedelta(days=30), gt=timedelta(0), alias="FLEXHOOK_SHARE_AFTER_DELIVERY"
    )
    share_max_age: Duration = Field(
        default=timedelta(days=365), gt=timedelta(0), alias="FLEXHOOK_SHARE_MAX_AGE"
    )
    share_secret: str | None = Field(default=None, alias="FLEXHOOK_SHARE_SECRET", repr=False)
    # Following by email (`app.core.follow`): the Apprise mailto:// or mailtos:// URL, without
    # recipients, that confirmations and followers' alerts go through. Unset: no following.
    mail_url: str | None = Field(default=None, alias="FLEXHOOK_MAIL_URL", repr=False)
    # Active share links a person may make to one shipment (the alerts' link aside).
    max_shares_per_shipment: int = Field(default=20, ge=1, alias="FLEXHOOK_MAX_SHARES_PER_SHIPMENT")
    # OpenTelemetry traces (`app.telemetry`), OpenTelemetry's own variables: on with an OTLP
    # endpoint unless the SDK is disabled; the rest (headers, TLS, batching) it reads itself.
    otel_sdk_disabled: bool = Field(default=False, alias="OTEL_SDK_DISABLED")
    otel_exporter_otlp_endpoint: str | None = Field(
        default=None, alias="OTEL_EXPORTER_OTLP_ENDPOINT"
    )
    otel_exporter_otlp_traces_endpoint: str | None = Field(
        default=None, alias="OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
    )
    otel_service_name: str | None = Field(default=None, alias="OTEL_SERVICE_NAME")
    otel_traces_exporter: str = Field(default="otlp", alias="OTEL_TRACES_EXPORTER")

    @field_validator("webhook_secrets", mode="before")
    @classmethod
    def _split_secrets(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("metrics_address")
    @classmethod
    def _host_and_port(cls, value: str) -> str:
        split_address(value)
        return value

    @field_validator("body_read_timeout")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("must be longer than 0, e.g. 10s")
        return value

    @field_validator("exception_ack_sla", "exception_resolve_sla")
    @classmethod
    def _check_slas(cls, value: str) -> str:
        parse_severity_durations(value)  # a ValueError naming the entry: pydantic reports it
        return value

    @field_validator("exception_severity")
    @classmethod
    def _check_severities(cls, value: str) -> str:
        parse_severity_overrides(value)
        return value

    @field_validator("mail_url")
    @classmethod
    def _check_mail_url(cls, value: str | None) -> str | None:
        return check_mail_url(value) if value and value.strip() else None

    @field_validator("destination_allow")
    @classmethod
    def _check_allowlist(cls, value: str) -> str:
        parse_allowlist(value)  # InvalidAllowlist is a ValueError: pydantic reports it
        return value

    @property
    def destination_allowlist(self) -> AddressAllowlist:
        """`FLEXHOOK_DESTINATION_ALLOW`, parsed."""
        return parse_allowlist(self.destination_allow)

    @property
    def share_lifetime(self) -> ShareLifetime:
        return ShareLifetime(
            expiry=self.share_expiry,
            after_delivery=self.share_after_delivery,
            max_age=self.share_max_age,
        )

    @property
    def share_link_key(self) -> bytes | None:
        """The key of the alerts' tracking links; None when there is no secret to derive it from."""
        secret = self.share_secret or next(iter(self.webhook_secrets), None)
        return share_key(secret) if secret else None

    @property
    def resolved_database_url(self) -> str:
        """`DATABASE_URL`, or an SQLite file in the data dir."""
        return self.database_url or f"sqlite:///{self.data_dir / 'flexhook.db'}"

    @property
    def resolved_notify_config(self) -> Path:
        """`FLEXHOOK_NOTIFY_CONFIG`, or `notifications.yml` in the data dir."""
        return self.notify_config or self.data_dir / "notifications.yml"

    @property
    def tracing_enabled(self) -> bool:
        """OpenTelemetry traces are exported (`app.telemetry`): an OTLP endpoint is set,
        OTEL_SDK_DISABLED is not true and OTEL_TRACES_EXPORTER is not `none`."""
        exporting = self.otel_traces_exporter.strip().lower() != "none"
        return (
            exporting
            and not self.otel_sdk_disabled
            and bool(
                (self.otel_exporter_otlp_endpoint or "").strip()
                or (self.otel_exporter_otlp_traces_endpoint or "").strip()
            )
        )

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
