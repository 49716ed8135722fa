"""deploy/caddy/Caddyfile in front of the web app, both real: Caddy (Debian's package, installed by
`make system-deps`) serves https for `localhost` from its own local CA and forwards to the app as
`flexhook web` builds it with FLEXHOOK_PUBLIC_URL https. Only what the compose network gives
cannot be had here: the listen address and the upstream are moved to loopback ports, the CA's
root is not installed in the system's trust store and Caddy's admin API is off."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from app import bootstrap
from app.ingest.starter import EventStarter
from app.settings import Settings
from app.store import db
from tests.helpers import eventually
from tests.integration.harness import free_port, serve_app
from tests.unit.fake_starter import FakeStarter

ROOT = Path(__file__).resolve().parents[2]
CADDYFILE = ROOT / "deploy" / "caddy" / "Caddyfile"
PROXY_BODY_LIMIT = 1024 * 1024  # request_body max_size 1MiB
APP_BODY_LIMIT = 8 * PROXY_BODY_LIMIT


def caddy_binary() -> str:
    found = shutil.which("caddy")
    if found is None:
        pytest.skip("no `caddy` binary (make system-deps installs it)")
    return found


def caddy_env(home: Path) -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", ""), "HOME": str(home), "XDG_DATA_HOME": str(home)}


def loopback_config(caddy: str, home: Path, *, listen: int, upstream: int) -> dict[str, Any]:
    """The Caddyfile as Caddy adapts it for `localhost`, moved onto loopback ports."""
    adapted = subprocess.run(
        [caddy, "adapt", "--config", str(CADDYFILE), "--adapter", "caddyfile"],
        env=caddy_env(home) | {"FLEXHOOK_DOMAIN": "localhost"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    config: dict[str, Any] = json.loads(adapted.stdout)
    [server] = config["apps"]["http"]["servers"].values()
    assert server["listen"] == [":443"]
    server["listen"] = [f"127.0.0.1:{listen}"]
    server["automatic_https"] = {"disable_redirects": True}  # no port 80 here
    found = 0
    for route in server["routes"]:
        for subroute in route["handle"]:
            for inner in subroute["routes"]:
                for handler in inner["handle"]:
                    if handler["handler"] == "reverse_proxy":
                        assert handler["upstreams"] == [{"dial": "web:8000"}]
                        handler["upstreams"] = [{"dial": f"127.0.0.1:{upstream}"}]
                        found += 1
    assert found == 1
    config["admin"] = {"disabled": True}
    config["storage"] = {"module": "file_system", "root": str(home / "caddy")}
    config["apps"]["pki"] = {"certificate_authorities": {"local": {"install_trust": False}}}
    return config


@dataclass
class Proxied:
    url: str
    api_token: str
    tls: ssl.SSLContext


async def fake_starter() -> EventStarter:
    return FakeStarter()


@pytest.fixture
async def proxied(tmp_path: Path) -> AsyncIterator[Proxied]:
    """The web app behind Caddy; Caddy keeps its CA and state in a folder of the test's."""
    caddy = caddy_binary()
    caddy_home = tmp_path / "caddy-home"
    caddy_home.mkdir()
    listen = free_port()
    api_token = secrets.token_urlsafe(32)
    settings = Settings(
        FLEXPORT_WEBHOOK_SECRET=("whsec-for-the-test",),
        FLEXHOOK_API_TOKEN=api_token,
        FLEXHOOK_DATA_DIR=tmp_path,
        DATABASE_URL=f"sqlite:///{tmp_path / 'flexhook.db'}",
        FLEXHOOK_PUBLIC_URL=f"https://localhost:{listen}",
        FLEXHOOK_MAX_BODY_BYTES=APP_BODY_LIMIT,  # above the proxy's: a 413 is the proxy's own
    )
    async with AsyncExitStack() as exits:
        engine = db.create_db_engine(settings.resolved_database_url)
        exits.callback(engine.dispose)
        db.upgrade(engine)
        web = await serve_app(
            bootstrap.web_apps(settings, engine, starter=fake_starter).public, exits
        )
        config = loopback_config(
            caddy, caddy_home, listen=listen, upstream=int(web.rsplit(":")[-1])
        )
        config_file = tmp_path / "caddy.json"
        config_file.write_text(json.dumps(config))
        log_file = tmp_path / "caddy.log"
        log = exits.enter_context(log_file.open("wb"))
        process = subprocess.Popen(
            [caddy, "run", "--config", str(config_file)],
            env=caddy_env(caddy_home),
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        exits.callback(process.wait, 30)
        exits.callback(process.terminate)
        root = caddy_home / "caddy" / "pki" / "authorities" / "local" / "root.crt"
        await eventually(root.exists, timeout=60, what="Caddy's local CA")
        tls = ssl.create_default_context(cafile=str(root))
        url = f"https://localhost:{listen}"

        async def answers() -> bool:
            assert process.poll() is None, log_file.read_text(errors="replace")
            try:
                async with httpx.AsyncClient(verify=tls, timeout=5) as client:
                    return (await client.get(f"{url}/healthz")).status_code == 200
            except httpx.TransportError:
                return False

        await eventually(answers, timeout=60, what="the proxy to answer")
        yield Proxied(url=url, api_token=api_token, tls=tls)


async def test_the_dashboard_signs_in_over_the_proxys_tls(proxied: Proxied) -> None:
    async with httpx.AsyncClient(base_url=proxied.url, verify=proxied.tls, timeout=30) as browser:
        page = await browser.get("/dashboard/sign-in")
        assert page.status_code == 200
        assert page.http_version in {"HTTP/1.1", "HTTP/2"}
        # HSTS would pin every local development server to https: never for localhost.
        assert "strict-transport-security" not in page.headers
        signed_in = await browser.post("/dashboard/sign-in", data={"token": proxied.api_token})
        assert signed_in.status_code == 303, signed_in.text
        attributes = {p.strip().lower() for p in signed_in.headers["set-cookie"].split(";")[1:]}
        assert {"secure", "httponly", "path=/dashboard"} <= attributes
        home = await browser.get("/dashboard/shipments")  # the Secure cookie comes back over https
        assert home.status_code == 200


async def test_a_webhook_body_up_to_the_proxys_limit_reaches_the_app(proxied: Proxied) -> None:
    # A signature the app reads the whole body to check (and refuses). Past the limit Caddy cuts
    # the body off (413 from Caddy 2.7 on, 502 from Debian's 2.6), so the app never takes it.
    headers = {"content-type": "application/json", "x-hub-signature-256": "sha256=" + "0" * 64}
    async with httpx.AsyncClient(base_url=proxied.url, verify=proxied.tls, timeout=30) as client:
        within = await client.post(
            "/webhooks/flexport", content=b"x" * PROXY_BODY_LIMIT, headers=headers
        )
        assert within.status_code == 401, within.text


async def test_plain_http_gets_no_answer_from_the_tls_port(proxied: Proxied) -> None:
    plain = proxied.url.replace("https://", "http://")
    async with httpx.AsyncClient(timeout=10) as client:
        answer = await client.get(f"{plain}/healthz")
        assert answer.status_code == 400  # Caddy: "Client sent an HTTP request to an HTTPS server"
