"""Prometheus metrics of the web process (`GET /metrics` on its own listener,
`FLEXHOOK_METRICS_ADDRESS`, never on the public port).

Counters and the ack histogram count what this process saw. State shared by every process
(events and alerts not yet settled, unknown types, the spool, reconciliation) is read from the
database, so any web replica reports the same truth, but at most once per `GaugeCache.max_age`
and by one refresh at a time, whatever the number of scrapes. Each of those reads is bounded
whatever the log's size (see `read_counts`), never a scan of the event log. Workers export
Temporal's own metrics (`FLEXHOOK_WORKER_METRICS_ADDRESS`).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.applications import Starlette
from starlette.requests import Request

from app.store import db, exception_stats, metric_counts, ops_incidents, reconcile_runs, spool

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass(frozen=True)
class DatabaseCounts:
    """What the database says at one refresh: `events` and `alerts` count the rows not
    settled yet (processed events, sent or skipped alerts are left out)."""

    events: dict[str, int]
    unknown_types: dict[str, int]
    alerts: dict[tuple[str, str], int]
    spool: spool.SpoolStats
    reconcile: reconcile_runs.ReconcileCounts
    exceptions: exception_stats.ExceptionCounts
    ops: ops_incidents.OpenIncidents


def read_counts(session: Session) -> DatabaseCounts:
    """Bounded reads only: the events that never settle (failed, ignored, unknown types,
    reconciled) and the reconcile runs from the tallies kept as they are written
    (`app.store.metric_counts`, `app.store.reconcile_tally`); the working set (events queued
    or processing, alerts not settled, exceptions not resolved) from index ranges holding just
    the rows counted, the open ops incidents too (`ix_ops_incident_open`); the spool and the
    exception histograms' buckets are small tables."""
    return DatabaseCounts(
        events=metric_counts.count_unsettled_events(session),
        unknown_types=metric_counts.count_unknown_types(session),
        alerts=metric_counts.count_unsettled_alerts(session),
        spool=spool.stats(session),
        reconcile=reconcile_runs.run_counts(session),
        exceptions=exception_stats.read_exception_counts(session),
        ops=ops_incidents.count_open(session),
    )


class DatabaseState(Collector):
    """Gauges of one scrape's `DatabaseCounts`."""

    def __init__(self, counts: DatabaseCounts, *, now: datetime) -> None:
        self._counts = counts
        self._now = now

    def collect(self) -> Iterator[Metric]:
        counts = self._counts
        yield _by_label(
            "flexhook_events",
            "Logged events not processed (yet): queued, processing, failed, ignored.",
            "status",
            counts.events,
        )
        yield _by_label(
            "flexhook_unknown_type_events",
            "Logged events of types flexhook does not know (stored, acknowledged), by type.",
            "type",
            counts.unknown_types,
        )
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
            "flexhook_alerts",
            "Alert ledger rows neither sent nor skipped: pending, held, sending, failed.",
            labels=["kind", "status"],
        )
        for (kind, status), count in sorted(counts.alerts.items()):
            by_kind.add_metric([kind, status], count)
        yield by_kind
        yield from _reconcile_metrics(counts.reconcile)
        yield from _exception_metrics(counts.exceptions, now=self._now)
        yield from _ops_metrics(counts.ops, now=self._now)


def _by_label(name: str, documentation: str, label: str, counts: Mapping[str, int]) -> Metric:
    """A gauge with one sample per value of its one label, in the label's order."""
    gauge = GaugeMetricFamily(name, documentation, labels=[label])
    for value, count in sorted(counts.items()):
        gauge.add_metric([value], count)
    return gauge


def _ops_metrics(counts: ops_incidents.OpenIncidents, *, now: datetime) -> Iterator[Metric]:
    """Ops incidents not over, and those whose alert has not gone out: ops alerts that nobody
    heard are for Prometheus to tell (deploy/prometheus, `FlexhookOpsAlertsUnsent`)."""
    yield _by_label(
        "flexhook_ops_incidents_open",
        "Ops incidents not over, by kind (event-failed, destination-failing, spool-stuck...).",
        "kind",
        counts.open,
    )
    yield _by_label(
        "flexhook_ops_incidents_unalerted",
        "Open ops incidents whose alert has not gone out (not due yet, or its send failed).",
        "kind",
        counts.unalerted,
    )
    oldest = counts.oldest_unalerted_at
    yield GaugeMetricFamily(
        "flexhook_ops_incident_oldest_unalerted_age_seconds",
        "Age of the oldest open ops incident whose alert has not gone out; 0 when none.",
        value=max(0.0, (now - oldest).total_seconds()) if oldest else 0.0,
    )


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


EXCEPTION_HISTOGRAMS: dict[exception_stats.Measure, tuple[str, str]] = {
    "acknowledge": (
        "flexhook_exception_acknowledge_seconds",
        "From an exception's (re)opening to its first acknowledgement, per episode.",
    ),
    "resolve": (
        "flexhook_exception_resolve_seconds",
        "From an exception's (re)opening to its resolution (by Flexport's event or a person).",
    ),
}


def _le(bound: float) -> str:
    """A bucket's bound as Prometheus writes it: `300.0`, `+Inf`."""
    return "+Inf" if math.isinf(bound) else repr(float(bound))


def _exception_metrics(
    counts: exception_stats.ExceptionCounts, *, now: datetime
) -> Iterator[Metric]:
    """The exception inbox (issue 19), the same from every replica: read from the database."""
    open_now = GaugeMetricFamily(
        "flexhook_exceptions_open",
        "Exceptions not resolved (open, acknowledged, snoozed), by family and severity.",
        labels=["family", "severity"],
    )
    for (family, severity), count in sorted(counts.open.items()):
        open_now.add_metric([family, severity], count)
    yield open_now
    oldest = counts.oldest_opened_at
    yield GaugeMetricFamily(
        "flexhook_exception_oldest_open_age_seconds",
        "Age of the oldest unresolved exception's episode; 0 when none is unresolved.",
        value=max(0.0, (now - oldest).total_seconds()) if oldest else 0.0,
    )
    for measure, (name, documentation) in EXCEPTION_HISTOGRAMS.items():
        histogram = counts.histograms[measure]
        yield HistogramMetricFamily(
            name,
            documentation,
            buckets=[(_le(bound), count) for bound, count in histogram.buckets],
            sum_value=histogram.sum,
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


class GaugeCache:
    """The database's `DatabaseCounts`, read again only once they are `max_age` old, and then
    by one refresh that every scrape arriving meanwhile waits for."""

    def __init__(
        self,
        engine: Engine,
        *,
        max_age: timedelta = timedelta(seconds=30),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._engine = engine
        self._max_age = max_age.total_seconds()
        self._clock = clock
        self._refresh = asyncio.Lock()
        self._counts: DatabaseCounts | None = None
        self._read_at = 0.0
        self.refreshes = 0  # database reads so far

    def _fresh(self) -> DatabaseCounts | None:
        if self._counts is None or self._clock() - self._read_at >= self._max_age:
            return None
        return self._counts

    async def counts(self) -> DatabaseCounts:
        fresh = self._fresh()
        if fresh is not None:
            return fresh
        async with self._refresh:
            fresh = self._fresh()  # read by the refresh this scrape waited for
            if fresh is not None:
                return fresh
            self.refreshes += 1
            counts = await db.in_session(self._engine, read_counts)
            self._counts, self._read_at = counts, self._clock()
            return counts


@dataclass(frozen=True)
class MetricsState:
    """What the metrics listener's endpoint needs, kept on its app's state."""

    metrics: WebMetrics
    gauges: GaugeCache


def install_metrics(app: Starlette, state: MetricsState) -> None:
    app.state.metrics = state


def metrics_state(request: Request) -> MetricsState:
    state = getattr(request.app.state, "metrics", None)
    if not isinstance(state, MetricsState):
        raise RuntimeError("the metrics app has no state: build it with create_metrics_app")
    return state
