"""What ops see without SQL: Prometheus metrics that move, JSON logs with the ids that matter."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import urllib.request

import pytest
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.testing import WorkflowEnvironment

from tests.integration.harness import Samples, Stack, free_port
from workflows.worker import connect

pytestmark = pytest.mark.integration


def sample_value(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample in Prometheus exposition text, or None if absent."""
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        match = re.fullmatch(r"([a-zA-Z_:][\w:]*)(\{(.*)\})? (\S+)", line)
        if not match or match.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(3) or ""))
        if found == labels:
            return float(match.group(4))
    return None


async def test_metrics_count_deliveries_refusals_and_processing(
    stack: Stack, samples: Samples
) -> None:
    before = (await stack.metrics.get("/metrics")).text
    assert sample_value(before, "flexhook_spool_depth") == 0

    await stack.deliver(samples.body("06_leg_departed"))
    await stack.post(samples.body("06_leg_departed"))
    await stack.post(samples.body("09_leg_arrived"), secret="forged")
    response = await stack.metrics.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    received = "flexhook_events_received_total"
    assert sample_value(text, received, category="milestone", outcome="accepted") == 1
    assert sample_value(text, received, category="milestone", outcome="duplicate") == 1
    assert sample_value(text, "flexhook_deliveries_refused_total", error="invalid_signature") == 1
    assert sample_value(text, "flexhook_ack_seconds_count") == 2
    # Processed events are the log itself: counted as they arrive, never re-counted per scrape.
    assert sample_value(text, "flexhook_events", status="processed") is None
    assert sample_value(text, "flexhook_spool_oldest_age_seconds") == 0


async def test_metrics_are_served_on_their_own_listener_only(stack: Stack) -> None:
    public = await stack.http.get("/metrics")
    scraped = await stack.metrics.get("/metrics")

    assert public.status_code == 404
    assert scraped.status_code == 200
    assert "flexhook_spool_depth" in scraped.text
    assert (await stack.metrics.get("/readyz")).status_code == 404  # metrics alone there


async def test_metrics_count_events_of_unknown_types_by_type(
    stack: Stack, samples: Samples
) -> None:
    new_type = "/shipment#drone_sighted"
    await stack.deliver(samples.body("06_leg_departed", type=new_type))
    await stack.deliver(samples.body("09_leg_arrived", type=new_type))

    text = (await stack.metrics.get("/metrics")).text

    assert sample_value(text, "flexhook_unknown_type_events", type=new_type) == 2
    assert sample_value(text, "flexhook_events", status="ignored") == 2
    assert sample_value(text, "flexhook_unknown_type_events", type="/shipment_leg#departed") is None


async def test_a_worker_exports_temporals_own_metrics(temporal_env: WorkflowEnvironment) -> None:
    address = f"127.0.0.1:{free_port()}"
    runtime = Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=address)))
    client = await connect(
        temporal_env.client.service_client.config.target_host, namespace="default", runtime=runtime
    )
    await client.count_workflows()

    def scrape() -> str:
        with urllib.request.urlopen(f"http://{address}/metrics", timeout=5) as response:
            return str(response.read().decode())

    text = await asyncio.to_thread(scrape)
    assert "temporal_request" in text


def test_json_logs_carry_the_event_workflow_and_shipment_ids() -> None:
    script = (
        "import logging; from app.cli import _logging; _logging('info', 'json');"
        "logging.getLogger('flexhook.web').info('event %s (%s): %s', '48262090',"
        " '/shipment_leg#departed', 'accepted', extra={'event_id': '48262090',"
        " 'workflow_id': 'flexport-event-48262090', 'shipment_id': '418563'})"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )

    [line] = done.stderr.strip().splitlines()
    record = json.loads(line)
    assert record["message"] == "event 48262090 (/shipment_leg#departed): accepted"
    assert record["level"] == "INFO"
    assert record["logger"] == "flexhook.web"
    assert (record["event_id"], record["workflow_id"], record["shipment_id"]) == (
        "48262090",
        "flexport-event-48262090",
        "418563",
    )
