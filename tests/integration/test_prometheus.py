"""deploy/prometheus against the real thing: promtool checks the rules and runs their unit tests,
lints a live flexhook's `/metrics`, and a real Prometheus server scrapes a live flexhook and
evaluates every rule. Debian's `prometheus` package provides both binaries (`make system-deps`);
without them the module is skipped, except in CI (CI=true), where that is a failure."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import yaml

from tests.integration.harness import Samples, Stack, free_port

pytestmark = [pytest.mark.integration, pytest.mark.observability]

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy" / "prometheus"
RULE_FILES = sorted((DEPLOY / "rules").glob("*.yml"))
RULE_TESTS = sorted((DEPLOY / "tests").glob("*.yml"))
OPERATIONS = ROOT / "docs" / "operations.md"
T = TypeVar("T")
WAIT_SECONDS = 20.0  # for the server to scrape and evaluate; it takes a few seconds


def prometheus_tool(name: str) -> str:
    """The path of `promtool` or `prometheus`; a skip without it, a failure in CI."""
    path = shutil.which(name)
    if path is not None:
        return path
    reason = f"{name} is missing (Debian package prometheus; `make system-deps` installs it)"
    if os.environ.get("CI", "").lower() in ("true", "1"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture
def promtool() -> str:
    return prometheus_tool("promtool")


def run_promtool(promtool: str, *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [promtool, *args], input=stdin, capture_output=True, text=True, timeout=60, check=False
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    return output


def alert_rules() -> list[dict[str, Any]]:
    loaded = yaml.safe_load((DEPLOY / "rules" / "flexhook-alerts.yml").read_text())
    return [rule for group in loaded["groups"] for rule in group["rules"]]


def test_the_rules_pass_promtool_check_and_their_unit_tests(promtool: str) -> None:
    run_promtool(promtool, "check", "config", str(DEPLOY / "prometheus.yml"))
    run_promtool(promtool, "check", "rules", *map(str, RULE_FILES))
    output = run_promtool(promtool, "test", "rules", *map(str, RULE_TESTS))

    assert output.count("SUCCESS") == len(RULE_TESTS)


def test_every_alert_has_its_runbook_row_in_the_operations_guide() -> None:
    anchors = set(re.findall(r'<a id="([\w-]+)"></a>', OPERATIONS.read_text()))
    rules = alert_rules()

    assert len(rules) >= 10
    for rule in rules:
        annotations = rule["annotations"]
        assert annotations["summary"] and annotations["description"], rule["alert"]
        assert annotations["runbook"] == f"docs/operations.md#{rule['alert'].lower()}"
        assert rule["alert"].lower() in anchors, f"no runbook row for {rule['alert']}"


def test_every_flexhook_series_a_rule_reads_is_one_flexhook_exports() -> None:
    exported = set(re.findall(r'"(flexhook_\w+)"', (ROOT / "app/web/metrics.py").read_text()))
    text = "\n".join(path.read_text() for path in RULE_FILES)
    read = set(re.findall(r"\b(flexhook_\w+)", text))

    assert read, "the rules read no flexhook metric"
    for name in sorted(read):
        base = re.sub(r"_(total|bucket|count|sum)$", "", name)
        assert base in exported, f"{name}: no such metric in app/web/metrics.py"


async def test_a_live_scrape_passes_promtool_check_metrics(
    promtool: str, stack: Stack, samples: Samples
) -> None:
    await stack.deliver(samples.body("06_leg_departed"))
    await stack.post(samples.body("06_leg_departed"))  # a duplicate
    await stack.post(samples.body("09_leg_arrived"), secret="forged")  # refused
    await stack.deliver(samples.body("09_leg_arrived", type="/shipment#drone_sighted"))
    scraped = (await stack.metrics.get("/metrics")).text
    assert "flexhook_deliveries_refused_total" in scraped

    problems = run_promtool(promtool, "check", "metrics", stdin=scraped)

    assert problems.strip() == ""


def scrape_config(metrics_target: str) -> dict[str, Any]:
    """prometheus.yml's job for the web processes, aimed at one live metrics listener, every
    second, with the rule files of deploy/prometheus."""
    return {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(path) for path in RULE_FILES],
        "scrape_configs": [
            {"job_name": "flexhook-web", "static_configs": [{"targets": [metrics_target]}]}
        ],
    }


@pytest.fixture
async def prometheus(stack: Stack, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """A real Prometheus server scraping `stack`'s metrics listener: its HTTP API."""
    binary = prometheus_tool("prometheus")
    target = str(stack.metrics.base_url).removeprefix("http://").rstrip("/")
    config = tmp_path / "prometheus.yml"
    config.write_text(yaml.safe_dump(scrape_config(target)))
    address = f"127.0.0.1:{free_port()}"
    log = (tmp_path / "prometheus.log").open("w")
    server = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address={address}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://{address}", timeout=5) as api:
            yield api
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


async def query(api: httpx.AsyncClient, promql: str) -> list[dict[str, Any]]:
    try:
        response = await api.get("/api/v1/query", params={"query": promql})
    except httpx.TransportError:  # not listening yet
        return []
    result: list[dict[str, Any]] = response.json()["data"]["result"]
    return result


async def rules(api: httpx.AsyncClient) -> list[dict[str, Any]]:
    groups = (await api.get("/api/v1/rules")).json()["data"]["groups"]
    return [rule for group in groups for rule in group["rules"]]


async def eventually(check: Callable[[], Awaitable[T | None]], what: str) -> T:
    """`check`'s first answer that is not None, asked again until WAIT_SECONDS have passed."""
    try:
        async with asyncio.timeout(WAIT_SECONDS):
            while True:
                found = await check()
                if found is not None:
                    return found
                await asyncio.sleep(0.25)
    except TimeoutError:
        raise AssertionError(f"{what} within {WAIT_SECONDS:g} s") from None


def finite(result: list[dict[str, Any]]) -> float | None:
    values = [float(sample["value"][1]) for sample in result]
    return next((value for value in values if value == value), None)  # NaN != NaN


async def test_a_real_prometheus_scrapes_flexhook_and_evaluates_every_rule(
    prometheus: httpx.AsyncClient, stack: Stack, samples: Samples
) -> None:
    api = prometheus
    # One of each before Prometheus has the counters: a rate needs a series' earlier sample.
    await stack.deliver(samples.body("06_leg_departed"))
    await stack.post(samples.body("09_leg_arrived"), secret="forged")

    async def target_up() -> bool | None:
        return True if finite(await query(api, 'up{job="flexhook-web"} == 1')) else None

    async def counters_seen() -> list[dict[str, Any]] | None:
        return await query(api, 'flexhook_deliveries_refused_total{job="flexhook-web"}') or None

    await eventually(target_up, "Prometheus never scraped flexhook's metrics listener")
    await eventually(counters_seen, "no flexhook series in Prometheus")

    # Then one more delivery and a bulk of forgeries.
    await stack.deliver(samples.body("09_leg_arrived"))
    for _ in range(12):
        refused = await stack.post(samples.body("09_leg_arrived"), secret="forged")
        assert refused.status_code == 401

    async def refusal_ratio() -> float | None:
        ratio = finite(await query(api, "flexhook:deliveries_refused_ratio:rate5m"))
        return ratio if ratio is not None and ratio > 0.5 else None

    async def ack_p99() -> float | None:
        return finite(await query(api, "flexhook:ack_seconds_p99:rate5m"))

    async def refusal_alert_pending() -> str | None:
        for rule in await rules(api):
            if rule["name"] == "FlexhookDeliveriesRefusedInBulk" and rule["state"] != "inactive":
                return str(rule["state"])
        return None

    assert await eventually(refusal_ratio, "no refusal ratio recorded") > 0.5
    assert await eventually(ack_p99, "no ack latency recorded") > 0
    # Realistic `for: 5m`: pending here; deploy/prometheus/tests shows it firing.
    assert await eventually(refusal_alert_pending, "refusals in bulk not noticed") == "pending"

    evaluated = await rules(api)
    names = {rule["name"] for rule in evaluated}
    assert {rule["alert"] for rule in alert_rules()} <= names
    assert "flexhook:ack_seconds_p99:rate5m" in names
    assert [(r["name"], r["lastError"]) for r in evaluated if r["health"] != "ok"] == []
