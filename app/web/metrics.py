"""Prometheus metrics of the web process (`GET /metrics`).

Counters and the ack histogram count what this process saw. State shared by every process
(events by status, the spool, alerts by kind and outcome) is read from the database at scrape
time, so any web replica reports the same truth. Workers export Temporal's own metrics
(`FLEXHOOK_WORKER_METRICS_ADDRESS`).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.store import reads as queries
from app.store import spool

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class DatabaseState(Collector):
    """Gauges read from the database when Prometheus scrapes."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def collect(self) -> Iterator[Metric]:
        with Session(self._engine) as session:
            events = queries.count_events_by_status(session)
            alerts = queries.count_alerts(session)
            spooled = spool.stats(session)
        by_status = GaugeMetricFamily(
            "flexhook_events", "Logged events by processing status.", labels=["status"]
        )
        for status, count in sorted(events.items()):
            by_status.add_metric([status], count)
        yield by_status
        yield GaugeMetricFamily(
            "flexhook_spool_depth", "Verified events waiting for Temporal.", value=spooled.depth
        )
        oldest = spooled.oldest_received_at
        age = (datetime.now(UTC) - oldest).total_seconds() if oldest else 0.0
        yield GaugeMetricFamily(
            "flexhook_spool_oldest_age_seconds", "Age of the oldest spooled event.", value=age
        )
        by_kind = GaugeMetricFamily(
            "flexhook_alerts", "Alert ledger rows by kind and outcome.", labels=["kind", "status"]
        )
        for (kind, status), count in sorted(alerts.items()):
            by_kind.add_metric([kind, status], count)
        yield by_kind


class WebMetrics:
    def __init__(self, engine: Engine) -> None:
        self.registry = CollectorRegistry()
        self.received = Counter(
            "flexhook_events_received",
            "Verified deliveries by event category and outcome (accepted, duplicate, queued).",
            ["category", "outcome"],
            registry=self.registry,
        )
        self.refused = Counter(
            "flexhook_deliveries_refused",
            "Deliveries refused, by error (invalid_signature, malformed_event, body_too_large...).",
            ["error"],
            registry=self.registry,
        )
        self.ack_seconds = Histogram(
            "flexhook_ack_seconds",
            "Time to answer a verified delivery.",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
            registry=self.registry,
        )
        self.registry.register(DatabaseState(engine))

    def render(self) -> bytes:
        """The exposition text (reads the database: call it off the event loop)."""
        return generate_latest(self.registry)
