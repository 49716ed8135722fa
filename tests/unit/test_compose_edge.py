"""What docker-compose.yml lets in (H1 of the security review): the TLS proxy alone is published
beyond this host's loopback; Temporal's frontend and both databases sit on a network with no way
in or out; the Temporal UI and mailpit come only with the `dev` profile, on 127.0.0.1; web
believes forwarded headers from the proxy's address alone. deploy/caddy/Caddyfile is checked
with Caddy itself where the `caddy` binary is installed (`make system-deps`), and the whole file
with `docker compose config` where a Compose v2 is."""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from tests.unit.test_compose import COMPOSE, ROOT, SERVICES, host_path, interpolate

PROXY = "proxy"
CADDYFILE = "/etc/caddy/Caddyfile"
DEV_TOOLS = {"temporal-ui", "mailpit"}
OBSERVABILITY = {"prometheus", "grafana"}  # tests/unit/test_compose_observability.py
INTERNAL_ONLY = {
    "temporal-db",
    "temporal-schema",
    "temporal",
    "temporal-namespace",
    "flexhook-db",
    "migrate",
}
DOMAIN = "flexhook.example.com"


def published(service: dict[str, Any]) -> list[tuple[str, str]]:
    """(host address, host port) of each published port; address "" when on every interface."""
    found = []
    for entry in service.get("ports", []):
        if isinstance(entry, dict):
            found.append((str(entry.get("host_ip", "")), str(entry.get("published", ""))))
            continue
        parts = str(entry).split("/")[0].split(":")
        address = parts[0] if len(parts) == 3 else ""
        found.append((address, parts[-2] if len(parts) >= 2 else parts[0]))
    return found


def networks_of(name: str) -> set[str]:
    networks = SERVICES[name].get("networks", [])
    return set(networks) if isinstance(networks, list | dict) else set()


def network_is_internal(name: str) -> bool:
    return bool((COMPOSE["networks"].get(name) or {}).get("internal"))


def test_only_the_proxy_publishes_beyond_loopback() -> None:
    for name, service in SERVICES.items():
        for address, _ in published(service):
            assert name == PROXY or address == "127.0.0.1", f"{name} publishes on {address!r}"
    assert sorted(port for _, port in published(SERVICES[PROXY])) == ["443", "80"]


def test_temporal_and_the_databases_sit_on_the_internal_network_alone() -> None:
    assert network_is_internal("internal")
    for name in INTERNAL_ONLY:
        assert networks_of(name) == {"internal"}, name
        assert "ports" not in SERVICES[name], name
    # Every service is on declared networks only (none falls back to compose's default one).
    for name in SERVICES:
        assert networks_of(name), f"{name} would join the default network"
        assert networks_of(name) <= set(COMPOSE["networks"]), name


def test_the_web_is_reached_through_the_proxy_and_trusts_it_alone() -> None:
    assert networks_of("web") == {"internal", "edge"}
    assert networks_of(PROXY) == {"edge"}, "the proxy never reaches Temporal or a database"
    variables: dict[str, str] = {}
    address = interpolate(SERVICES[PROXY]["networks"]["edge"]["ipv4_address"], variables)
    [subnet] = COMPOSE["networks"]["edge"]["ipam"]["config"]
    assert ipaddress.ip_address(address) in ipaddress.ip_network(
        interpolate(subnet["subnet"], variables)
    )
    trusted = interpolate(SERVICES["web"]["environment"]["FLEXHOOK_FORWARDED_ALLOW_IPS"], variables)
    assert trusted == address, "uvicorn must believe X-Forwarded-* from the proxy only"
    assert SERVICES[PROXY]["depends_on"] == {"web": {"condition": "service_healthy"}}


def test_the_worker_reaches_out_and_nothing_else_does_from_inside() -> None:
    assert networks_of("worker") == {"internal", "egress"}
    assert not network_is_internal("egress") and not network_is_internal("edge")
    for name in SERVICES:
        if name not in {"worker", "web", PROXY, "grafana"} | DEV_TOOLS:
            outside = {n for n in networks_of(name) if not network_is_internal(n)}
            assert not outside, f"{name} has a way out"


def test_the_ui_and_mailpit_come_with_the_dev_profile_alone() -> None:
    profiled = {name for name, service in SERVICES.items() if service.get("profiles")}
    assert profiled == DEV_TOOLS | OBSERVABILITY
    for name in DEV_TOOLS:
        assert SERVICES[name]["profiles"] == ["dev"]
        assert published(SERVICES[name]) and all(
            address == "127.0.0.1" for address, _ in published(SERVICES[name])
        )
    assert SERVICES["temporal-ui"]["environment"]["TEMPORAL_DISABLE_WRITE_ACTIONS"] == "true"
    # A service of the default profile may wait for a dev tool only where it is optional.
    for name, service in SERVICES.items():
        if name in DEV_TOOLS | OBSERVABILITY:
            continue
        for dependency, rule in service.get("depends_on", {}).items():
            if dependency in DEV_TOOLS | OBSERVABILITY:
                assert rule.get("required") is False, f"{name} needs {dependency}"


def test_alert_hosts_of_the_compose_configuration_are_on_the_allowlist() -> None:
    config = yaml.safe_load((ROOT / "deploy" / "notifications.yml").read_text())
    hosts = set()
    for entry in config["urls"]:
        for url in entry if isinstance(entry, dict) else [entry]:
            hosts.add(urlsplit(url).hostname)
    assert hosts == {"mailpit"}
    assert networks_of("mailpit") & networks_of("worker"), "the worker reaches mailpit"
    for name in ("web", "worker"):
        listed = interpolate(SERVICES[name]["environment"]["FLEXHOOK_DESTINATION_ALLOW"], {})
        allowed = listed.split(",")
        assert hosts <= {host.strip() for host in allowed}, name


@pytest.mark.parametrize(
    ("variables", "url"),
    [({}, "https://localhost"), ({"FLEXHOOK_DOMAIN": DOMAIN}, f"https://{DOMAIN}")],
)
def test_the_public_url_is_https_on_the_proxys_domain(variables: dict[str, str], url: str) -> None:
    for name in ("web", "worker"):
        assert interpolate(SERVICES[name]["environment"]["FLEXHOOK_PUBLIC_URL"], variables) == url
    domain = interpolate(SERVICES[PROXY]["environment"]["FLEXHOOK_DOMAIN"], variables)
    assert f"https://{domain}" == url


def test_metrics_listen_inside_and_are_never_published() -> None:
    web = SERVICES["web"]
    port = web["environment"]["FLEXHOOK_METRICS_ADDRESS"].rsplit(":", 1)[1]
    assert port in web["expose"]
    every_published = {port for service in SERVICES.values() for _, port in published(service)}
    assert port not in every_published


# -- deploy/caddy/Caddyfile ---------------------------------------------------------------------


def caddyfile() -> Path:
    proxy = SERVICES[PROXY]
    repository, _, tag = proxy["image"].rpartition(":")
    assert repository == "caddy" and tag.split(".")[0] == "2", proxy["image"]
    return host_path(proxy, CADDYFILE)


def test_the_caddyfile_proxies_the_domain_to_the_web_port() -> None:
    text = caddyfile().read_text()
    lines = [line.split("#")[0].strip() for line in text.splitlines()]
    assert "{$FLEXHOOK_DOMAIN:localhost} {" in lines
    assert "reverse_proxy web:8000 {" in lines or "reverse_proxy web:8000" in lines
    assert text.count("{") == text.count("}")
    for deadline in ("read_header", "read_body", "dial_timeout", "response_header_timeout"):
        assert any(line.startswith(f"{deadline} ") for line in lines), deadline
    assert "tls" not in {line.split(" ")[0] for line in lines}, "Caddy picks the CA by domain"


def run_caddy(
    args: list[str], tmp_path: Path, **variables: str
) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("caddy")
    if binary is None:
        pytest.skip("no `caddy` binary (make system-deps installs it)")
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)}
    env |= {"XDG_DATA_HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path)} | variables
    argv = [binary, *args, "--config", str(caddyfile()), "--adapter", "caddyfile"]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("domain", ["", DOMAIN])
def test_caddy_reads_the_caddyfile_as_intended(domain: str, tmp_path: Path) -> None:
    variables = {"FLEXHOOK_DOMAIN": domain} if domain else {}
    adapted = run_caddy(["adapt"], tmp_path, **variables)
    assert adapted.returncode == 0, adapted.stderr
    assert "not formatted" not in adapted.stderr, "run `caddy fmt --overwrite` on it"
    [server] = json.loads(adapted.stdout)["apps"]["http"]["servers"].values()
    assert server["listen"] == [":443"]
    [route] = server["routes"]
    assert route["match"] == [{"host": [domain or "localhost"]}]
    handlers = [h for sub in route["handle"] for r in sub["routes"] for h in r["handle"]]
    [proxy] = [h for h in handlers if h["handler"] == "reverse_proxy"]
    [body] = [h for h in handlers if h["handler"] == "request_body"]
    assert body["max_size"] == 1024 * 1024
    assert handlers.index(body) < handlers.index(proxy), "the limit applies before proxying"
    assert proxy["upstreams"] == [{"dial": "web:8000"}]
    assert server["read_header_timeout"] > 0 and server["read_timeout"] > 0
    validated = run_caddy(["validate"], tmp_path, **variables)
    assert validated.returncode == 0, validated.stderr


def test_compose_itself_accepts_the_file() -> None:
    """`docker compose config`, with and without the dev profile, where a Compose v2 is installed
    (it needs no Docker engine)."""
    found = shutil.which("docker-compose") or shutil.which("docker")
    if found is None:
        pytest.skip("no docker compose here")
    argv = [found] if found.endswith("docker-compose") else [found, "compose"]
    version = subprocess.run([*argv, "version"], capture_output=True, text=True, timeout=60)
    if version.returncode != 0 or " v2." not in version.stdout:
        pytest.skip(f"no Compose v2 here: {version.stdout.strip() or version.stderr.strip()}")
    secrets = {
        name: "x" for name in ("POSTGRES_PASSWORD", "FLEXPORT_WEBHOOK_SECRET", "FLEXHOOK_API_TOKEN")
    }
    env = {"PATH": os.environ.get("PATH", "")} | secrets
    for profile in ([], ["--profile", "dev"]):
        command = [*argv, "-f", str(ROOT / "docker-compose.yml"), *profile, "config", "--quiet"]
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
