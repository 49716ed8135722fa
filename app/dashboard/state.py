"""What every dashboard endpoint reads: the state `create_dashboard` keeps on its application."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol

from jinja2 import Environment
from sqlalchemy.engine import Engine
from starlette.requests import Request
from temporalio.converter import PayloadCodec

from app.core.addresses import DEFAULT_RULES, DestinationRules
from app.core.exception_clock import (
    DEFAULT_ACK_SLA,
    DEFAULT_RESOLVE_SLA,
    parse_severity_durations,
)
from app.core.exception_families import Severity
from app.core.shares import ShareLifetime
from app.ingest.watch_relay import TellExceptionWatch

Redrive = Callable[[str], Awaitable[str]]
"""Runs one event again: `await redrive(event_id)` returns the start's status, and raises
`LookupError` for an event that is not in the log."""


def _default_ack_sla() -> Mapping[Severity, timedelta]:
    return parse_severity_durations(DEFAULT_ACK_SLA)


def _default_resolve_sla() -> Mapping[Severity, timedelta]:
    return parse_severity_durations(DEFAULT_RESOLVE_SLA)


class Limiter(Protocol):
    """Counts refused sign-ins per client address (the web layer's `RefusalLimiter`, shared
    with `/api`): a burst blocks the address for a while."""

    def retry_after(self, client: str) -> int | None:
        """Seconds until `client` may try again, or None when it is not blocked."""

    def refused(self, client: str) -> None:
        """Count one refused token from `client`."""


@dataclass(frozen=True)
class DashboardState:
    """The plain values one dashboard application serves from."""

    engine: Engine
    # Hex SHA-256 of FLEXHOOK_API_TOKEN: sign-in compares digests in constant time.
    environment_digest: str
    limiter: Limiter
    redrive: Redrive
    templates: Environment
    stylesheet: bytes
    css_version: str
    codec: PayloadCodec | None = None  # the Temporal UI's codec; None: payloads not encrypted
    # What recipients added on the recipients page must keep to.
    destination_rules: DestinationRules = DEFAULT_RULES
    # Share links made on a shipment's page: how long they live, and the public URL they open
    # under (empty: relative, `/track/<token>`).
    share_lifetime: ShareLifetime = field(default_factory=ShareLifetime)
    public_url: str = ""
    max_shares_per_shipment: int = 20  # active links a person may make to one shipment
    # The inbox marks an exception overdue past these (`app.core.exception_clock.deadlines`).
    ack_sla: Mapping[Severity, timedelta] = field(default_factory=_default_ack_sla)
    resolve_sla: Mapping[Severity, timedelta] = field(default_factory=_default_resolve_sla)
    tell_exception_watch: TellExceptionWatch | None = None  # None: no watch workflow to tell


def state_of(request: Request) -> DashboardState:
    """The state of the dashboard application serving `request`."""
    state = request.app.state.dashboard
    assert isinstance(state, DashboardState)
    return state
