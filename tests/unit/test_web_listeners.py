"""`flexhook web`'s two listeners as the settings describe them: the public one with its guards
(connection cap, keep-alive, the proxies trusted), the metrics one on its own address."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from starlette.applications import Starlette

from app import bootstrap
from app.settings import load_settings
from app.web.serving import KEEP_ALIVE_SECONDS, metrics_config, public_config

PREFIXES = ("FLEXHOOK_", "FLEXPORT_", "TEMPORAL_", "DATABASE_URL", "FORWARDED_ALLOW_IPS")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.upper().startswith(PREFIXES):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_the_settings_reach_uvicorn(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLEXHOOK_METRICS_ADDRESS", "10.0.0.2:9100")
    monkeypatch.setenv("FLEXHOOK_MAX_CONNECTIONS", "64")
    monkeypatch.setenv("FLEXHOOK_FORWARDED_ALLOW_IPS", "10.0.0.5,10.1.0.0/16")
    listeners = bootstrap.web_listeners(load_settings(), host="0.0.0.0", port=8000)
    app = Starlette()

    public = public_config(app, listeners)
    metrics = metrics_config(app, listeners)

    assert (public.host, public.port) == ("0.0.0.0", 8000)
    assert public.limit_concurrency == 64
    assert public.timeout_keep_alive == KEEP_ALIVE_SECONDS
    assert public.forwarded_allow_ips == "10.0.0.5,10.1.0.0/16"
    assert public.proxy_headers
    assert (metrics.host, metrics.port) == ("10.0.0.2", 9100)


def test_by_default_metrics_stay_on_loopback_and_only_a_local_proxy_is_trusted() -> None:
    listeners = bootstrap.web_listeners(load_settings(), host="0.0.0.0", port=8000)
    app = Starlette()

    metrics = metrics_config(app, listeners)
    public = public_config(app, listeners)

    assert (metrics.host, metrics.port) == ("127.0.0.1", 9465)
    assert public.limit_concurrency == 512
    assert public.forwarded_allow_ips == "127.0.0.1,::1"  # uvicorn's own default
