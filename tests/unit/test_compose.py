"""docker-compose.yml cannot run here (no Docker engine), so it is held to the code instead:
every command is one the CLI accepts, every variable one the settings read, every port and
health check the one the process listens on."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from app.cli import main
from app.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
FLEXHOOK = [name for name, service in SERVICES.items() if "build" in service]

# Read by the CLI's own options or by Temporal's environment configuration, not by Settings.
OTHER_VARIABLES = {"FLEXHOOK_LOG_LEVEL", "FLEXHOOK_LOG_FORMAT", "TEMPORAL_API_KEY", "TEMPORAL_TLS"}


def parse_command(argv: list[str]) -> tuple[click.Command, dict[str, Any]]:
    """Resolve argv against the real CLI (raises on an unknown command or option)."""
    assert argv[0] == "flexhook"
    command: click.Command = main
    args = argv[1:]
    while isinstance(command, click.Group):  # compose passes no group options
        name, args = args[0], args[1:]
        sub = command.get_command(click.Context(command), name)
        assert sub is not None, f"unknown command {name}"
        command = sub
    context = command.make_context(command.name or "", list(args))
    return command, dict(context.params)


def test_the_flexhook_services_are_web_worker_and_migrate() -> None:
    assert sorted(FLEXHOOK) == ["migrate", "web", "worker"]


@pytest.mark.parametrize("name", FLEXHOOK)
def test_each_command_is_one_the_cli_accepts(name: str) -> None:
    command, _ = parse_command(SERVICES[name]["command"])
    assert command.name == {"migrate": "upgrade", "web": "web", "worker": "worker"}[name]


@pytest.mark.parametrize("name", FLEXHOOK)
def test_each_variable_is_one_flexhook_reads(name: str) -> None:
    known = {field.alias for field in Settings.model_fields.values()} | OTHER_VARIABLES
    unknown = set(SERVICES[name]["environment"]) - known
    assert not unknown, f"{name} sets variables nothing reads: {sorted(unknown)}"


def test_the_web_port_and_health_check_match_its_command() -> None:
    web = SERVICES["web"]
    _, params = parse_command(web["command"])
    assert web["ports"] == [f"{params['port']}:{params['port']}"]
    assert f"127.0.0.1:{params['port']}/healthz" in " ".join(web["healthcheck"]["test"])
    assert params["host"] == "0.0.0.0"


def test_secrets_are_required_never_defaulted() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    for variable in ("FLEXPORT_WEBHOOK_SECRET", "FLEXHOOK_API_TOKEN", "POSTGRES_PASSWORD"):
        uses = re.findall(r"\$\{" + variable + r"([^}]*)\}", text)
        assert uses, variable
        assert all(use.startswith(":?") for use in uses), f"{variable} must use ${{VAR:?...}}"


def test_services_wait_for_what_they_need_to_be_healthy() -> None:
    for name, service in SERVICES.items():
        for dependency, rule in service.get("depends_on", {}).items():
            wanted = (
                "service_completed_successfully" if dependency == "migrate" else "service_healthy"
            )
            assert rule["condition"] == wanted, f"{name} -> {dependency}"
            if wanted == "service_healthy":
                assert "healthcheck" in SERVICES[dependency], dependency


def test_workers_scale_and_read_the_mounted_alert_configuration() -> None:
    worker = SERVICES["worker"]
    assert worker["deploy"]["replicas"] >= 2
    config = worker["environment"]["FLEXHOOK_NOTIFY_CONFIG"]
    [mount] = [v for v in worker["volumes"] if v.endswith(f":{config}:ro")]
    assert (ROOT / mount.split(":")[0]).is_file()
    port = worker["environment"]["FLEXHOOK_WORKER_METRICS_ADDRESS"].rsplit(":", 1)[1]
    assert port in worker["expose"]


def test_every_database_url_points_at_the_compose_database() -> None:
    for name in FLEXHOOK:
        url = SERVICES[name]["environment"]["DATABASE_URL"]
        assert url.startswith("postgresql+psycopg://flexhook:")
        assert url.endswith("@flexhook-db:5432/flexhook")


def test_the_image_holds_every_package_the_project_ships() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = [p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]]
    for package in packages:
        assert f"COPY {package} ./{package}" in dockerfile, package
    assert "'.[postgres]'" in dockerfile
