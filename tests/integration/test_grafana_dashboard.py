"""deploy/grafana/dashboards/flexhook.json names only metrics somebody exports: every panel's
PromQL is read for its metric names, and each must be one a live web process or a live worker
(Temporal's SDK metrics) serves after a few deliveries, or a recording rule of
deploy/prometheus/rules/flexhook-recording.yml. A renamed metric, a typo or a histogram queried
without its `_bucket` leaves a panel empty without anybody noticing; here it fails."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlmodel import Session
from temporalio.client import Client
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from app.store import db, reconcile_runs
from tests.integration.harness import JsonEndpoint, Samples, StackFactory, free_port, write_config
from workflows.worker import connect

pytestmark = [pytest.mark.integration, pytest.mark.observability]

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "flexhook.json"
RECORDING_RULES = ROOT / "deploy" / "prometheus" / "rules" / "flexhook-recording.yml"
DATASOURCE = {"type": "prometheus", "uid": "prometheus"}

# PromQL's functions and aggregation operators (prometheus/promql/parser/functions.go, lex.go).
FUNCTIONS = frozenset(
    re.findall(
        r"\w+",
        """abs absent absent_over_time acos acosh asin asinh atan atanh avg_over_time ceil changes
        clamp clamp_max clamp_min cos cosh count_over_time day_of_month day_of_week day_of_year
        days_in_month deg delta deriv exp floor histogram_avg histogram_count histogram_fraction
        histogram_quantile histogram_stddev histogram_stdvar histogram_sum holt_winters hour
        idelta increase irate label_join label_replace last_over_time ln log10 log2
        mad_over_time max_over_time min_over_time minute month predict_linear present_over_time
        quantile_over_time rad rate resets round scalar sgn sin sinh sort sort_by_label
        sort_by_label_desc sort_desc sqrt stddev_over_time stdvar_over_time sum_over_time tan
        tanh time timestamp vector year avg bottomk count count_values group limitk limit_ratio
        max min quantile stddev stdvar sum topk""",
    )
)
# Binary operators spelled as words, modifiers, and the number literals that look like names.
KEYWORDS = frozenset(
    re.findall(r"\w+", "and or unless atan2 by without on ignoring group_left group_right")
) | {"offset", "bool", "inf", "nan"}
LABEL_LIST = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
IDENTIFIER = re.compile(r"(?<![\w.:$])[A-Za-z_:][\w:]*")


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads: identifiers that are not functions,
    keywords, label names (in matchers and label lists), strings, durations or Grafana
    variables. An unknown function is an error rather than a metric."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # ranges and subqueries, with $__rate_interval
    text = LABEL_LIST.sub(r"\1", text)
    text = re.sub(r"\$\{?\w+\}?", " ", text)  # Grafana's variables
    names = set()
    for match in IDENTIFIER.finditer(text):
        word = match.group()
        if word in KEYWORDS or word in FUNCTIONS:
            continue
        if text[match.end() :].lstrip().startswith("("):
            raise ValueError(f"{word}( is no PromQL function: {expr}")
        names.add(word)
    return names


def exported_names(exposition: str) -> set[str]:
    """The series names a Prometheus exposition text offers: each sample's name, and each
    declared family's (a family with no sample yet still is exported), a histogram's as its
    `_bucket`, `_sum` and `_count` series (its own name is no series)."""
    names = set()
    for line in exposition.splitlines():
        declared = re.fullmatch(r"# TYPE (\S+) (\w+)", line)
        if declared:
            name, kind = declared.groups()
            if kind == "histogram":
                names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
            else:
                names.add(name)
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names


def recorded_names() -> set[str]:
    """The recording rules' names, where the rules' file exists."""
    if not RECORDING_RULES.is_file():
        return set()
    groups = yaml.safe_load(RECORDING_RULES.read_text())["groups"]
    return {rule["record"] for group in groups for rule in group["rules"] if "record" in rule}


def all_panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])  # a collapsed row keeps its panels


def unexported(dashboard: dict[str, Any], exported: set[str]) -> dict[str, set[str]]:
    """Each panel's metric names that are not in `exported`, by panel title."""
    missing = {}
    for panel in all_panels(dashboard):
        names = {n for t in panel.get("targets", []) for n in metric_names(t["expr"])}
        if names - exported:
            missing[panel["title"]] = names - exported
    return missing


def load_dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


# -- the check itself ------------------------------------------------------------------------

WEB_EXPOSITION = """\
# HELP flexhook_events_received_total Verified deliveries.
# TYPE flexhook_events_received_total counter
flexhook_events_received_total{category="milestone",outcome="accepted"} 1.0
# HELP flexhook_ack_seconds Time to answer a verified delivery.
# TYPE flexhook_ack_seconds histogram
# HELP flexhook_alerts Alert ledger rows neither sent nor skipped.
# TYPE flexhook_alerts gauge
"""


def panel(title: str, *exprs: str) -> dict[str, Any]:
    return {"title": title, "targets": [{"refId": "A", "expr": expr} for expr in exprs]}


def test_a_panel_naming_a_metric_nobody_exports_is_found() -> None:
    dashboard = {
        "panels": [
            panel("Received", "sum by (outcome) (rate(flexhook_events_received_total[5m]))"),
            panel("Renamed", "sum(rate(flexhook_webhooks_received_total[$__rate_interval]))"),
            {"title": "row", "type": "row", "panels": [panel("Folded", "flexhook_spool_depth")]},
        ]
    }
    assert unexported(dashboard, exported_names(WEB_EXPOSITION)) == {
        "Renamed": {"flexhook_webhooks_received_total"},
        "Folded": {"flexhook_spool_depth"},
    }


def test_a_histogram_is_exported_as_its_series_not_its_family_name() -> None:
    exported = exported_names(WEB_EXPOSITION)
    quantile = "histogram_quantile(0.99, sum by (le) (rate(flexhook_ack_seconds_bucket[5m])))"
    assert unexported({"panels": [panel("p99", quantile)]}, exported) == {}
    bare = "histogram_quantile(0.99, rate(flexhook_ack_seconds[5m]))"
    assert unexported({"panels": [panel("bare", bare)]}, exported) == {
        "bare": {"flexhook_ack_seconds"}
    }
    assert "flexhook_alerts" in exported  # declared, no sample yet: still exported


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        (
            'max by (kind, status) (flexhook_alerts{status="failed", kind=~"eta|departed"})',
            {"flexhook_alerts"},
        ),
        (
            "time() - max(flexhook_reconcile_last_ok_timestamp_seconds offset 1h)",
            {"flexhook_reconcile_last_ok_timestamp_seconds"},
        ),
        (
            "sum(rate(a_total[5m])) / on (job) group_left (instance) sum(rate(b_total[1e3s]))",
            {"a_total", "b_total"},
        ),
        ('label_replace(up, "dst", "$1", "src", "(.*)") > bool 0.5e3', {"up"}),
        ("flexhook:ack_seconds:p99_5m > 2.5", {"flexhook:ack_seconds:p99_5m"}),
        ("sum without (instance) (temporal_request)", {"temporal_request"}),
    ],
)
def test_metric_names_are_read_from_promql(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names


def test_an_unknown_function_is_no_metric() -> None:
    with pytest.raises(ValueError, match="histogram_quantil"):
        metric_names("histogram_quantil(0.5, rate(flexhook_ack_seconds_bucket[5m]))")


# -- the dashboard's shape -------------------------------------------------------------------


def test_the_dashboard_is_grafana_json_with_unique_panel_ids() -> None:
    dashboard = load_dashboard()
    assert dashboard["uid"] == "flexhook" and dashboard["schemaVersion"] >= 39
    ids = [panel["id"] for panel in all_panels(dashboard)]
    assert len(ids) == len(set(ids)), "panel ids repeat"
    for item in all_panels(dashboard):
        grid = item["gridPos"]
        assert grid["x"] + grid["w"] <= 24, item["title"]
        assert item["type"] in {"row", "timeseries", "stat"}, item["title"]  # Grafana's own


def test_every_query_asks_the_provisioned_prometheus() -> None:
    dashboard = load_dashboard()
    queried = [p for p in all_panels(dashboard) if p["type"] != "row"]
    assert queried
    for item in queried:
        assert item["datasource"] == DATASOURCE, item["title"]
        assert item["targets"], item["title"]
        for target in item["targets"]:
            assert target["datasource"] == DATASOURCE, item["title"]
        ref_ids = [target["refId"] for target in item["targets"]]
        assert len(ref_ids) == len(set(ref_ids)), item["title"]
    assert "${" not in json.dumps(dashboard), "no datasource variable: the uid is fixed"


# Grafana's own variables, as Grafana fills them in before Prometheus sees a query.
GRAFANA_INTERVALS = {"$__rate_interval": "1m", "$__interval": "15s", "$__range": "6h"}


def as_prometheus_sees_it(expr: str) -> str:
    for variable, value in GRAFANA_INTERVALS.items():
        expr = expr.replace(variable, value)
    assert "$" not in expr, f"a variable Grafana does not fill in: {expr}"
    return expr


def test_every_query_is_promql_that_prometheus_parses(tmp_path: Path) -> None:
    """Each panel's query as a recording rule, checked by `promtool check rules` (Debian's
    `prometheus` package, `make system-deps`): a skip without it, a failure in CI."""
    promtool = shutil.which("promtool")
    if promtool is None:
        assert os.environ.get("CI", "").lower() not in ("true", "1"), "CI has no promtool"
        pytest.skip("promtool is not installed (make system-deps)")
    rules = [
        {"record": f"dashboard:panel_{item['id']}_{target['refId']}", "expr": expr}
        for item in all_panels(load_dashboard())
        for target in item.get("targets", [])
        for expr in [as_prometheus_sees_it(target["expr"])]
    ]
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    done = subprocess.run(
        [promtool, "check", "rules", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(rules)} rules found" in done.stdout


# -- against live processes ------------------------------------------------------------------


async def live_worker_client(temporal_client: Client) -> tuple[Client, str]:
    """A client on a runtime serving Temporal's SDK metrics, as `flexhook worker` makes one
    with FLEXHOOK_WORKER_METRICS_ADDRESS; and that address."""
    address = f"127.0.0.1:{free_port()}"
    runtime = Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=address)))
    target = temporal_client.service_client.config.target_host
    return await connect(target, namespace="default", runtime=runtime), address


def scrape(address: str) -> str:
    with urllib.request.urlopen(f"http://{address}/metrics", timeout=5) as response:
        return str(response.read().decode())


def record_reconcile_run(session: Session) -> None:
    """A finished scheduled run, so that the latest run's gauges are served too."""
    now = datetime.now(UTC)
    reconcile_runs.record_run(
        session,
        trigger="schedule",
        since=now - timedelta(hours=1),
        until=now,
        tally=reconcile_runs.Tally(listed=3, known=3),
        started_at=now,
        finished_at=now,
    )


async def test_every_panel_names_metrics_that_web_worker_or_rules_export(
    make_stack: StackFactory,
    temporal_client: Client,
    samples: Samples,
    json_server: JsonEndpoint,
    tmp_path: Path,
) -> None:
    client, worker_metrics = await live_worker_client(temporal_client)
    alerts_to = f"json://127.0.0.1:{json_server.port}/alerts"
    config = write_config(tmp_path / "notifications.yml", (alerts_to, "departed"))
    stack = await make_stack(client=client, worker_client=client, notify_config=config)
    await stack.deliver(samples.body("06_leg_departed"))  # processed, one alert sent
    await stack.post(samples.body("09_leg_arrived"), secret="forged")  # refused
    await db.in_session(stack.engine, record_reconcile_run, commit=True)
    assert json_server.received, "the alert went out through the send activity"

    web = (await stack.metrics.get("/metrics")).text
    worker = await asyncio.to_thread(scrape, worker_metrics)
    exported = exported_names(web) | exported_names(worker) | recorded_names()

    assert "temporal_activity_execution_latency_bucket" in exported  # the live worker's
    assert unexported(load_dashboard(), exported) == {}
