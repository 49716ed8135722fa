"""M5 of the security review: behind a TLS proxy that uvicorn does not trust (another container,
a load balancer), the request reaches flexhook as plain HTTP. With FLEXHOOK_PUBLIC_URL https, the
dashboard's session cookie is Secure all the same and its answers carry HSTS. The whole web app
as `flexhook web` builds it (app/bootstrap.py), served by uvicorn over plain HTTP on loopback,
with a stand-in for the Temporal starter."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import httpx
import pytest

from app import bootstrap
from app.dashboard.session import HSTS, SESSION_COOKIE
from app.ingest.starter import EventStarter
from app.settings import Settings
from app.store import db
from tests.integration.harness import serve_app
from tests.unit.fake_starter import FakeStarter


async def fake_starter() -> EventStarter:
    return FakeStarter()


async def start_web(tmp_path: Path, exits: AsyncExitStack, public_url: str) -> tuple[str, str]:
    """The web app on a fresh SQLite file; its base URL and the environment admin token."""
    api_token = secrets.token_urlsafe(32)
    settings = Settings(
        FLEXPORT_WEBHOOK_SECRET=("whsec-for-the-test",),
        FLEXHOOK_API_TOKEN=api_token,
        FLEXHOOK_DATA_DIR=tmp_path,
        DATABASE_URL=f"sqlite:///{tmp_path / 'flexhook.db'}",
        FLEXHOOK_PUBLIC_URL=public_url,
    )
    engine = db.create_db_engine(settings.resolved_database_url)
    exits.callback(engine.dispose)
    db.upgrade(engine)
    app = bootstrap.web_apps(settings, engine, starter=fake_starter).public
    return await serve_app(app, exits), api_token


def attributes(set_cookie: str) -> set[str]:
    return {part.strip().lower() for part in set_cookie.split(";")[1:]}


@pytest.fixture
async def exits() -> AsyncIterator[AsyncExitStack]:
    async with AsyncExitStack() as stack:
        yield stack


async def test_an_https_public_url_makes_the_cookie_secure_over_a_plain_hop(
    tmp_path: Path, exits: AsyncExitStack
) -> None:
    base_url, api_token = await start_web(tmp_path, exits, "https://flexhook.example.com")
    assert base_url.startswith("http://127.0.0.1:")
    # As the proxy forwards it: the public host name, over a plain hop.
    public_host = {"Host": "flexhook.example.com"}
    async with httpx.AsyncClient(base_url=base_url, headers=public_host, timeout=30) as browser:
        page = await browser.get("/dashboard/sign-in")
        assert page.status_code == 200
        assert page.headers["strict-transport-security"] == HSTS
        # No X-Forwarded-Proto: the proxy in front is not one uvicorn trusts.
        signed_in = await browser.post("/dashboard/sign-in", data={"token": api_token})
        assert signed_in.status_code == 303, signed_in.text
        cookie = signed_in.headers["set-cookie"]
        assert cookie.startswith(f"{SESSION_COOKIE}=")
        assert {"secure", "httponly", "samesite=lax", "path=/dashboard"} <= attributes(cookie)
        assert signed_in.headers["strict-transport-security"] == HSTS
        refused = await browser.post("/dashboard/sign-in", data={"token": "not-the-token"})
        assert refused.status_code == 401
        assert refused.headers["strict-transport-security"] == HSTS
        # Beyond the dashboard nothing changes here: the API and the probes keep their headers.
        assert "strict-transport-security" not in (await browser.get("/healthz")).headers


async def test_a_loopback_host_gets_the_secure_cookie_but_no_hsts(
    tmp_path: Path, exits: AsyncExitStack
) -> None:
    base_url, api_token = await start_web(tmp_path, exits, "https://localhost")
    for host in ("localhost", "127.0.0.1:8443", "[::1]:8443", "app.localhost"):
        async with httpx.AsyncClient(base_url=base_url, headers={"Host": host}) as browser:
            signed_in = await browser.post("/dashboard/sign-in", data={"token": api_token})
            assert signed_in.status_code == 303, (host, signed_in.text)
            assert "secure" in attributes(signed_in.headers["set-cookie"]), host
            assert "strict-transport-security" not in signed_in.headers, host


async def test_an_http_public_url_keeps_the_cookie_for_plain_http(
    tmp_path: Path, exits: AsyncExitStack
) -> None:
    base_url, api_token = await start_web(tmp_path, exits, "http://localhost:8000")
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as browser:
        signed_in = await browser.post("/dashboard/sign-in", data={"token": api_token})
        assert signed_in.status_code == 303, signed_in.text
        assert "secure" not in attributes(signed_in.headers["set-cookie"])
        assert "strict-transport-security" not in signed_in.headers
        page = await browser.get("/dashboard/shipments")
        assert page.status_code == 200  # the cookie came back over plain HTTP
