"""What the web process is configured with: plain values, read from settings by the CLI."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from app.core.addresses import DEFAULT_RULES, DestinationRules
from app.core.exception_clock import DEFAULT_ACK_SLA, DEFAULT_RESOLVE_SLA
from app.core.shares import ShareLifetime
from app.tracking.follow import FollowConfig


@dataclass(frozen=True)
class WebConfig:
    webhook_secrets: tuple[str, ...]
    api_token: str
    max_body_bytes: int = 256 * 1024
    accept_sha1: bool = False
    relay_idle_seconds: float = 1.0
    temporal_ui_url: str = ""
    namespace: str = "default"
    # Spool non-empty, or Temporal unreachable, this long: the operators hear it (tag `ops`).
    ops_alert_after: timedelta = timedelta(minutes=5)
    stuck_after: timedelta = timedelta(minutes=30)  # an event `processing` this long: ops alert
    # Refused tokens from one address within a minute before it is answered 429 for a minute.
    refused_tokens_per_minute: int = 10
    # FLEXHOOK_PAYLOAD_KEYS, for the codec endpoints (none: they answer payloads as given).
    payload_keys: tuple[tuple[str, bytes], ...] = field(default=(), repr=False)
    # A webhook body not fully read this long after its headers: 408, nothing stored.
    body_read_timeout: timedelta = timedelta(seconds=10)
    # How long the database's gauges in /metrics are reused before they are read again.
    metrics_max_age: timedelta = timedelta(seconds=30)
    # What recipients and subscriptions added through /api and the dashboard must keep to.
    destination_rules: DestinationRules = DEFAULT_RULES
    # Share links (FLEXHOOK_SHARE_*): how long they live, and the public URL they open under
    # (empty: the links are relative, `/track/<token>`).
    share_lifetime: ShareLifetime = field(default_factory=ShareLifetime)
    public_url: str = ""
    max_shares_per_shipment: int = 20  # active links a person may make to one shipment
    # The inbox's clocks, to mark exceptions overdue (FLEXHOOK_EXCEPTION_ACK_SLA, _RESOLVE_SLA).
    exception_ack_sla: str = DEFAULT_ACK_SLA
    exception_resolve_sla: str = DEFAULT_RESOLVE_SLA
    # A person's change an exception's watch has not heard of this long (Temporal was away) is
    # told by the relay (`app.ingest.watch_relay`); until then it is its request's to tell.
    untold_watch_after: timedelta = timedelta(seconds=30)
    # Following a shipment by email from its tracking page (FLEXHOOK_MAIL_URL); None: off.
    follow: FollowConfig | None = None
