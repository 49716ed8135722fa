"""Prometheus metrics of the web process (`GET /metrics`).

Counters and the ack histogram count what this process saw. State shared by every process
(events by status, the spool, alerts by kind and outcome) is read from the database, in a
read-only session, at scrape time, so any web replica reports the same truth. Workers export
Temporal's own metrics (`FLEXHOOK_WORKER_METRICS_ADDRESS`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlmodel import Session

from app.store import reads, reconcile_runs, spool

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass(frozen=True)
class DatabaseCounts:
    """What the database says at one scrape."""

    events: dict[str, int]
    unknown_types: dict[str, int]
    alerts: dict[tuple[str, str], int]
    spool: spool.SpoolStats
    reconcile: reconcile_runs.ReconcileCounts


def read_counts(session: Session) -> DatabaseCounts:
    return DatabaseCounts(
        events=reads.count_events_by_status(session),
        unknown_types=reads.count_unknown_types(session),
        alerts=reads.count_alerts(session),
        spool=spool.stats(session),
        reconcile=reconcile_runs.run_counts(session),
    )


class DatabaseState(Collector):
    """Gauges of one scrape's `DatabaseCounts`."""

    def __init__(self, counts: DatabaseCounts, *, now: datetime) -> None:
        self._counts = counts
        self._now = now

    def collect(self) -> Iterator[Metric]:
        counts = self._counts
        by_status = GaugeMetricFamily(
            "flexhook_events", "Logged events by processing status.", labels=["status"]
        )
        for status, count in sorted(counts.events.items()):
            by_status.add_metric([status], count)
        yield by_status
        unknown = GaugeMetricFamily(
            "flexhook_unknown_type_events",
            "Logged events of types flexhook does not know (stored, acknowledged), by type.",
            labels=["type"],
        )
        for event_type, count in sorted(counts.unknown_types.items()):
            unknown.add_metric([event_type], count)
        yield unknown
        yield GaugeMetricFamily(
            "flexhook_spool_depth",
            "Verified events waiting for Temporal.",
            value=counts.spool.depth,
        )
        oldest = counts.spool.oldest_received_at
        age = (self._now - oldest).total_seconds() if oldest else 0.0
        yield GaugeMetricFamily(
            "flexhook_spool_oldest_age_seconds", "Age of the oldest spooled event.", value=age
        )
        by_kind = GaugeMetricFamily(
            "flexhook_alerts", "Alert ledger rows by kind and outcome.", labels=["kind", "status"]
        )
        for (kind, status), count in sorted(counts.alerts.items()):
            by_kind.add_metric([kind, status], count)
        yield by_kind
        yield from _reconcile_metrics(counts.reconcile)


def _reconcile_metrics(counts: reconcile_runs.ReconcileCounts) -> Iterator[Metric]:
    """Reconciliation with Flexport's Events API: runs by outcome and what they found."""
    runs = GaugeMetricFamily(
        "flexhook_reconcile_runs",
        "Reconciliation runs by trigger (cli, schedule) and outcome (ok, error).",
        labels=["trigger", "outcome"],
    )
    for (trigger, outcome), count in sorted(counts.runs.items()):
        runs.add_metric([trigger, outcome], count)
    yield runs
    yield GaugeMetricFamily(
        "flexhook_reconcile_started_events",
        "Events reconciliation found missing and started.",
        value=counts.started,
    )
    yield GaugeMetricFamily(
        "flexhook_reconciled_events",
        "Events in the log that came from reconciliation, not from a webhook.",
        value=counts.reconciled_events,
    )
    if counts.last_missing is not None:
        yield GaugeMetricFamily(
            "flexhook_reconcile_last_missing",
            "Events the latest run found missing: above 0 run after run, webhooks are lost.",
            value=counts.last_missing,
        )
    finished = GaugeMetricFamily(
        "flexhook_reconcile_last_finished_timestamp_seconds",
        "When the latest run of each trigger finished (Unix time).",
        labels=["trigger"],
    )
    for trigger, at in sorted(counts.last_finished_at.items()):
        finished.add_metric([trigger], at.timestamp())
    yield finished
    if counts.last_ok_at is not None:
        yield GaugeMetricFamily(
            "flexhook_reconcile_last_ok_timestamp_seconds",
            "When the latest run without errors finished (Unix time).",
            value=counts.last_ok_at.timestamp(),
        )


class WebMetrics:
    def __init__(self) -> None:
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

    def render(self, counts: DatabaseCounts) -> bytes:
        """The exposition text: this process's counters, then the database's gauges."""
        shared = CollectorRegistry()
        shared.register(DatabaseState(counts, now=datetime.now(UTC)))
        return generate_latest(self.registry) + generate_latest(shared)
