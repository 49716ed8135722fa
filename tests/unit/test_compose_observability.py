"""The compose file's `observability` profile: Prometheus scrapes web and worker and loads the
rules of deploy/prometheus; Grafana, provisioned from deploy/grafana, is on 127.0.0.1:3000, shows
nothing to anonymous visitors, starts with no admin password but the operator's, and reaches
Prometheus and nothing else of the stack (an admin's datasource could otherwise talk to Temporal's
frontend, H1 of the security review). No Docker engine here: the file is held to the files it
mounts, and Grafana's start script is run with a stand-in for Grafana."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.unit.test_compose import COMPOSE, ROOT, SERVICES, host_path, interpolate
from tests.unit.test_compose_edge import network_is_internal, networks_of, published

PROMETHEUS = SERVICES["prometheus"]
GRAFANA = SERVICES["grafana"]
PROMETHEUS_CONFIG = "/etc/prometheus/prometheus.yml"
PROMETHEUS_PORT = 9090  # Prometheus's own default; the compose file does not change it
GRAFANA_PORT = "3000"


def image_tag(service: dict[str, Any]) -> tuple[str, str]:
    repository, _, tag = service["image"].rpartition(":")
    return repository, tag


def test_both_come_with_the_observability_profile_alone() -> None:
    for service in (PROMETHEUS, GRAFANA):
        assert service["profiles"] == ["observability"]
    assert {name for name, s in SERVICES.items() if "observability" in s.get("profiles", [])} == {
        "prometheus",
        "grafana",
    }


def test_images_are_pinned_to_a_release() -> None:
    repository, tag = image_tag(PROMETHEUS)
    assert repository == "prom/prometheus" and re.fullmatch(r"v3\.\d+\.\d+", tag), tag
    repository, tag = image_tag(GRAFANA)
    assert repository == "grafana/grafana" and re.fullmatch(r"11\.\d+\.\d+", tag), tag


def test_prometheus_reads_the_config_and_rules_kept_in_deploy() -> None:
    assert f"--config.file={PROMETHEUS_CONFIG}" in PROMETHEUS["command"]
    mounts = {str(v).split(":")[1]: str(v).split(":")[0] for v in PROMETHEUS["volumes"]}
    assert mounts[PROMETHEUS_CONFIG] == "./deploy/prometheus/prometheus.yml"
    assert mounts["/etc/prometheus/rules"] == "./deploy/prometheus/rules"
    assert all(str(v).endswith(":ro") for v in PROMETHEUS["volumes"] if str(v).startswith("./"))


def test_prometheus_reaches_the_metrics_listeners_of_web_and_worker() -> None:
    listeners = {"web": "FLEXHOOK_METRICS_ADDRESS", "worker": "FLEXHOOK_WORKER_METRICS_ADDRESS"}
    for name, variable in listeners.items():
        port = SERVICES[name]["environment"][variable].rsplit(":", 1)[1]
        assert port in SERVICES[name]["expose"], name
        assert networks_of("prometheus") & networks_of(name), f"prometheus cannot reach {name}"


def test_prometheus_scrapes_each_process_where_it_listens() -> None:
    config_path = host_path(PROMETHEUS, PROMETHEUS_CONFIG)
    if not config_path.is_file():
        pytest.skip("deploy/prometheus/prometheus.yml comes with the Prometheus rules' branch")
    config = yaml.safe_load(config_path.read_text())
    targets = set()
    for job in config["scrape_configs"]:
        for static in job.get("static_configs", []):
            targets |= set(static["targets"])
        for dns in job.get("dns_sd_configs", []):  # every replica of a service
            assert dns.get("type", "SRV") == "A", "compose's DNS answers A records"
            targets |= {f"{name}:{dns['port']}" for name in dns["names"]}
    web = SERVICES["web"]["environment"]["FLEXHOOK_METRICS_ADDRESS"].rsplit(":", 1)[1]
    worker = SERVICES["worker"]["environment"]["FLEXHOOK_WORKER_METRICS_ADDRESS"].rsplit(":", 1)[1]
    assert {f"web:{web}", f"worker:{worker}"} <= targets
    for pattern in config.get("rule_files", []):
        assert list(config_path.parent.glob(pattern)), pattern


def test_grafana_reaches_prometheus_and_nothing_else_of_the_stack() -> None:
    assert networks_of("grafana") & networks_of("prometheus")
    for name in SERVICES:
        if name not in {"grafana", "prometheus"}:
            assert not networks_of("grafana") & networks_of(name), f"grafana reaches {name}"
    assert network_is_internal("observability"), "prometheus has no way out"
    assert not network_is_internal("grafana"), "a port is published from a network with a way out"


def test_grafana_is_published_on_loopback_alone() -> None:
    assert published(GRAFANA) == [("127.0.0.1", GRAFANA_PORT)]
    assert "ports" not in PROMETHEUS
    assert f"127.0.0.1:{GRAFANA_PORT}/api/health" in " ".join(GRAFANA["healthcheck"]["test"])
    assert GRAFANA["depends_on"] == {"prometheus": {"condition": "service_healthy"}}


def test_grafana_shows_nothing_to_anonymous_visitors() -> None:
    environment = GRAFANA["environment"]
    assert environment["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
    assert environment["GF_USERS_ALLOW_SIGN_UP"] == "false"


def test_the_admin_password_is_the_operators_with_no_default_in_the_file() -> None:
    value = GRAFANA["environment"]["GF_SECURITY_ADMIN_PASSWORD"]
    assert value == "${GRAFANA_ADMIN_PASSWORD:-}"
    assert interpolate(value, {}) == ""  # unset: start.sh refuses to start Grafana
    assert interpolate(value, {"GRAFANA_ADMIN_PASSWORD": "s3cret-of-mine"}) == "s3cret-of-mine"
    # `:?` would stop every `docker compose up`, with or without the profile.
    assert "GRAFANA_ADMIN_PASSWORD:?" not in (ROOT / "docker-compose.yml").read_text()


def start_grafana(password: str | None) -> subprocess.CompletedProcess[str]:
    """Run Grafana's entrypoint as compose does, with `echo` standing in for Grafana."""
    shell, script = GRAFANA["entrypoint"]
    assert shell == "/bin/sh"  # busybox's, in Grafana's Alpine image
    assert GRAFANA["command"] == ["/run.sh"]  # the image's own start
    environment = {"PATH": "/usr/bin:/bin"}
    if password is not None:
        environment["GF_SECURITY_ADMIN_PASSWORD"] = password
    return subprocess.run(
        ["sh", str(host_path(GRAFANA, script)), "echo", "grafana started"],
        capture_output=True,
        text=True,
        env=environment,
        timeout=30,
        check=False,
    )


@pytest.mark.parametrize("password", [None, "", "admin"])
def test_grafana_refuses_to_start_without_an_admin_password_of_its_own(
    password: str | None,
) -> None:
    done = start_grafana(password)
    assert done.returncode == 1
    assert "grafana started" not in done.stdout
    assert "set GRAFANA_ADMIN_PASSWORD" in done.stderr


def test_grafana_starts_with_a_password_and_never_prints_it() -> None:
    done = start_grafana("s3cret-of-mine")
    assert (done.returncode, done.stdout) == (0, "grafana started\n")
    assert "s3cret-of-mine" not in done.stdout + done.stderr


def provisioning(kind: str, name: str) -> dict[str, Any]:
    path = host_path(GRAFANA, f"/etc/grafana/provisioning/{kind}/{name}")
    loaded: dict[str, Any] = yaml.safe_load(path.read_text())
    return loaded


def test_the_datasource_is_the_compose_prometheus() -> None:
    [datasource] = provisioning("datasources", "prometheus.yml")["datasources"]
    assert (datasource["uid"], datasource["type"]) == ("prometheus", "prometheus")
    assert datasource["url"] == f"http://prometheus:{PROMETHEUS_PORT}"
    assert f"127.0.0.1:{PROMETHEUS_PORT}/" in " ".join(PROMETHEUS["healthcheck"]["test"])


def test_the_dashboard_provider_reads_the_mounted_dashboards() -> None:
    [provider] = provisioning("dashboards", "flexhook.yml")["providers"]
    assert provider["type"] == "file"
    folder = host_path(GRAFANA, provider["options"]["path"])
    assert sorted(p.name for p in folder.glob("*.json")) == ["flexhook.json"]
    home = GRAFANA["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert host_path(GRAFANA, home) == folder / "flexhook.json"
    assert Path(folder).resolve().is_relative_to(ROOT / "deploy" / "grafana")


def test_their_data_lives_in_named_volumes() -> None:
    for service, path in ((PROMETHEUS, "/prometheus"), (GRAFANA, "/var/lib/grafana")):
        [volume] = [v for v in service["volumes"] if str(v).endswith(f":{path}")]
        assert str(volume).split(":")[0] in COMPOSE["volumes"]
