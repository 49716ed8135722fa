"""What the web process is configured with: plain values, read from settings by the CLI."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class WebConfig:
    webhook_secrets: tuple[str, ...]
    api_token: str
    max_body_bytes: int = 1024 * 1024
    accept_sha1: bool = False
    relay_idle_seconds: float = 1.0
    temporal_ui_url: str = ""
    namespace: str = "default"
    # Spool non-empty, or Temporal unreachable, this long: the operators hear it (tag `ops`).
    ops_alert_after: timedelta = timedelta(minutes=5)
    stuck_after: timedelta = timedelta(minutes=30)  # an event `processing` this long: ops alert
    # Refused tokens from one address within a minute before it is answered 429 for a minute.
    refused_tokens_per_minute: int = 10
