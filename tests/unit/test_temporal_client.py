"""Connecting to Temporal Cloud or a secured cluster uses Temporal's own environment config."""

from __future__ import annotations

import pytest

from app.temporal_client import connect_options


def test_an_api_key_turns_on_tls_and_our_address_and_namespace_win(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TEMPORAL_API_KEY", "key-123")
    monkeypatch.setenv("TEMPORAL_ADDRESS", "ignored:7233")

    options = connect_options(address="acme.a1b2c.tmprl.cloud:7233", namespace="acme.a1b2c")

    assert options["target_host"] == "acme.a1b2c.tmprl.cloud:7233"
    assert options["namespace"] == "acme.a1b2c"
    assert options["api_key"] == "key-123"
    assert options["tls"] is True


def test_a_local_server_needs_nothing_more(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TEMPORAL_API_KEY", "TEMPORAL_TLS", "TEMPORAL_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", "/nonexistent")

    options = connect_options(address="localhost:7233", namespace="default")

    assert options == {"target_host": "localhost:7233", "namespace": "default"}
