"""Settings from the environment: secret lists, defaults, and errors that name the variable."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest

from app.bootstrap import send_limits, tracking_links
from app.core.addresses import AddressAllowlist
from app.settings import ConfigError, Settings, load_settings, split_address

PREFIXES = ("FLEXHOOK_", "FLEXPORT_", "TEMPORAL_", "DATABASE_URL")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No flexhook variable set, and a working directory without a stray `.env`."""
    for name in list(os.environ):
        if name.upper().startswith(PREFIXES):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_the_secret_list_is_split_on_commas_and_trimmed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLEXPORT_WEBHOOK_SECRET", "a, b,,c")

    assert load_settings().webhook_secrets == ("a", "b", "c")


def test_a_single_secret_is_a_list_of_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLEXPORT_WEBHOOK_SECRET", "test_flexport_secret")

    assert load_settings().webhook_secrets == ("test_flexport_secret",)


def test_defaults() -> None:
    settings = load_settings()

    assert settings.webhook_secrets == ()
    assert settings.max_body_bytes == 256 * 1024
    assert settings.accept_sha1 is False
    assert settings.api_token is None
    assert settings.data_dir == Path("data")
    assert settings.resolved_database_url == f"sqlite:///{Path('data') / 'flexhook.db'}"


def test_the_database_lives_in_the_data_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLEXHOOK_DATA_DIR", "/srv/flexhook")

    assert load_settings().resolved_database_url == "sqlite:////srv/flexhook/flexhook.db"


def test_database_url_wins_over_the_data_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLEXHOOK_DATA_DIR", "/srv/flexhook")
    monkeypatch.setenv("DATABASE_URL", "postgresql://flexhook@db/flexhook")

    assert load_settings().resolved_database_url == "postgresql://flexhook@db/flexhook"


def test_values_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLEXHOOK_MAX_BODY_BYTES", "2048")
    monkeypatch.setenv("FLEXHOOK_ACCEPT_SHA1", "true")

    settings = load_settings()

    assert (settings.max_body_bytes, settings.accept_sha1) == (2048, True)


def test_a_dotenv_in_the_working_directory_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("FLEXHOOK_API_TOKEN=from-dotenv\n")

    assert load_settings().api_token == "from-dotenv"


def test_overrides_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLEXHOOK_API_TOKEN", "from-env")

    assert load_settings(api_token="given").api_token == "given"


@pytest.mark.parametrize("value", ["lots", "0", "-1", "1.5"])
def test_an_invalid_body_limit_names_its_variable(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("FLEXHOOK_MAX_BODY_BYTES", value)

    with pytest.raises(ConfigError, match="FLEXHOOK_MAX_BODY_BYTES"):
        load_settings()


def test_the_web_process_listens_for_metrics_on_loopback_with_its_guards_on() -> None:
    settings = load_settings()

    assert settings.metrics_address == "127.0.0.1:9465"
    assert settings.body_read_timeout == timedelta(seconds=10)
    assert settings.max_connections == 512
    assert settings.forwarded_allow_ips is None  # uvicorn's own: 127.0.0.1


def test_the_web_listeners_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLEXHOOK_METRICS_ADDRESS", "[::1]:9100")
    monkeypatch.setenv("FLEXHOOK_BODY_READ_TIMEOUT", "2s")
    monkeypatch.setenv("FLEXHOOK_MAX_CONNECTIONS", "64")
    monkeypatch.setenv("FLEXHOOK_FORWARDED_ALLOW_IPS", "10.0.0.5")

    settings = load_settings()

    assert split_address(settings.metrics_address) == ("::1", 9100)
    assert settings.body_read_timeout == timedelta(seconds=2)
    assert (settings.max_connections, settings.forwarded_allow_ips) == (64, "10.0.0.5")


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("FLEXHOOK_METRICS_ADDRESS", "9465"),
        ("FLEXHOOK_METRICS_ADDRESS", "localhost:"),
        ("FLEXHOOK_METRICS_ADDRESS", "localhost:99999"),
        ("FLEXHOOK_BODY_READ_TIMEOUT", "0"),
        ("FLEXHOOK_BODY_READ_TIMEOUT", "soon"),
        ("FLEXHOOK_MAX_CONNECTIONS", "0"),
    ],
)
def test_an_invalid_listener_setting_names_its_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)

    with pytest.raises(ConfigError, match=variable):
        load_settings()


def test_an_invalid_boolean_names_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLEXHOOK_ACCEPT_SHA1", "perhaps")

    with pytest.raises(ConfigError, match="FLEXHOOK_ACCEPT_SHA1"):
        load_settings()


class TestRequireWeb:
    def test_without_a_secret_names_the_secret_variable(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("FLEXHOOK_API_TOKEN", "token")

        with pytest.raises(ConfigError, match="FLEXPORT_WEBHOOK_SECRET"):
            load_settings().require_web()

    def test_a_secret_of_only_commas_is_no_secret(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("FLEXPORT_WEBHOOK_SECRET", " , ,")
        monkeypatch.setenv("FLEXHOOK_API_TOKEN", "token")

        with pytest.raises(ConfigError, match="FLEXPORT_WEBHOOK_SECRET"):
            load_settings().require_web()

    def test_without_a_token_names_the_token_variable(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("FLEXPORT_WEBHOOK_SECRET", "secret")

        with pytest.raises(ConfigError, match="FLEXHOOK_API_TOKEN"):
            load_settings().require_web()

    def test_a_token_shorter_than_32_characters_stops_start_up(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("FLEXPORT_WEBHOOK_SECRET", "secret")
        monkeypatch.setenv("FLEXHOOK_API_TOKEN", "x" * 31)

        with pytest.raises(ConfigError, match=r"FLEXHOOK_API_TOKEN is 31 characters.*at least 32"):
            load_settings().require_web()

    def test_with_both_it_passes(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("FLEXPORT_WEBHOOK_SECRET", "secret")
        monkeypatch.setenv("FLEXHOOK_API_TOKEN", "t" * 32)

        settings = load_settings()
        settings.require_web()

        assert isinstance(settings, Settings)


class TestDurations:
    """FLEXHOOK_RECONCILE_EVERY, _LOOKBACK, FLEXHOOK_ETA_GRACE, _OPS_ALERT_AFTER: Go-style."""

    def test_their_defaults(self) -> None:
        settings = load_settings()

        assert settings.reconcile_every == timedelta(minutes=15)
        assert settings.reconcile_lookback == timedelta(hours=72)
        assert settings.eta_grace == timedelta(hours=6)
        assert settings.ops_alert_after == timedelta(minutes=5)
        assert settings.process_deadline == timedelta(hours=1)
        assert settings.stuck_after == timedelta(minutes=30)

    @pytest.mark.parametrize("name", ["FLEXHOOK_PROCESS_DEADLINE", "FLEXHOOK_STUCK_AFTER"])
    def test_a_deadline_of_zero_is_refused(
        self, monkeypatch: pytest.MonkeyPatch, name: str
    ) -> None:
        monkeypatch.setenv(name, "0")

        with pytest.raises(ConfigError, match=name):
            load_settings()

    @pytest.mark.parametrize(
        ("text", "expected"),
        [("15m", timedelta(minutes=15)), ("1h30m", timedelta(minutes=90)), ("0", timedelta(0))],
    )
    def test_go_style_values_are_read(
        self, monkeypatch: pytest.MonkeyPatch, text: str, expected: timedelta
    ) -> None:
        monkeypatch.setenv("FLEXHOOK_RECONCILE_EVERY", text)

        assert load_settings().reconcile_every == expected

    @pytest.mark.parametrize("text", ["soon", "-5m", ""])
    def test_a_bad_duration_names_its_variable(
        self, monkeypatch: pytest.MonkeyPatch, text: str
    ) -> None:
        monkeypatch.setenv("FLEXHOOK_ETA_GRACE", text)

        with pytest.raises(ConfigError, match="FLEXHOOK_ETA_GRACE"):
            load_settings()

    def test_reconciliation_is_off_without_a_token_or_with_a_zero_period(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        assert not load_settings().reconcile_enabled
        monkeypatch.setenv("FLEXPORT_API_TOKEN", "t0ken")
        assert load_settings().reconcile_enabled
        monkeypatch.setenv("FLEXHOOK_RECONCILE_EVERY", "0")
        assert not load_settings().reconcile_enabled


def test_send_limits_default_to_a_30_second_deadline_and_a_breaker_after_three() -> None:
    settings = load_settings()

    assert settings.send_deadline == timedelta(seconds=30)
    assert settings.send_concurrency == 8
    assert settings.send_breaker_after == 3
    assert settings.send_breaker_cooldown == timedelta(minutes=5)


def test_send_limits_are_read_as_durations_and_wired_into_one_set_of_limits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FLEXHOOK_SEND_DEADLINE", "10s")
    monkeypatch.setenv("FLEXHOOK_SEND_BREAKER_AFTER", "0")
    monkeypatch.setenv("FLEXHOOK_SEND_BREAKER_COOLDOWN", "1m30s")

    limits = send_limits(load_settings())

    assert limits.deadline == 10.0
    assert (limits.breaker.threshold, limits.breaker.cooldown) == (0, 90.0)


@pytest.mark.parametrize("deadline", ["0", "55s", "2m"])
def test_a_send_deadline_the_send_activity_cannot_outlast_is_refused(
    monkeypatch: pytest.MonkeyPatch, deadline: str
) -> None:
    monkeypatch.setenv("FLEXHOOK_SEND_DEADLINE", deadline)

    with pytest.raises(ConfigError, match="FLEXHOOK_SEND_DEADLINE"):
        load_settings()


def test_the_destination_allowlist_and_caps(monkeypatch: pytest.MonkeyPatch) -> None:
    defaults = load_settings()
    assert defaults.destination_allowlist == AddressAllowlist()
    assert (defaults.max_recipients, defaults.max_subscriptions_per_shipment) == (200, 20)

    monkeypatch.setenv("FLEXHOOK_DESTINATION_ALLOW", "10.0.0.0/8,mailpit")
    assert load_settings().destination_allowlist.allows_name("mailpit")

    monkeypatch.setenv("FLEXHOOK_DESTINATION_ALLOW", "10.0.0.0/8,http://x/")
    with pytest.raises(ConfigError, match="FLEXHOOK_DESTINATION_ALLOW"):
        load_settings()


def test_alerts_carry_tracking_links_only_with_a_secret_to_derive_them_from(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert tracking_links(load_settings()) is None
    assert load_settings().external_flexport_link is False

    monkeypatch.setenv("FLEXPORT_WEBHOOK_SECRET", "first_webhook_secret,second")
    monkeypatch.setenv("FLEXHOOK_SHARE_EXPIRY", "240h")
    monkeypatch.setenv("FLEXHOOK_EXTERNAL_FLEXPORT_LINK", "true")
    settings = load_settings()
    links = tracking_links(settings)

    assert links is not None and links.key == settings.share_link_key
    assert links.lifetime.expiry == timedelta(days=10)
    assert "first_webhook_secret" not in repr(links)
    assert settings.external_flexport_link is True


def test_the_exception_settings_default_and_refuse_what_the_core_cannot_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = load_settings()
    assert settings.exception_ack_sla == "critical=1h,high=4h,normal=24h"
    assert settings.exception_resolve_sla == "critical=24h,high=72h,normal=168h"
    assert settings.exception_severity == ""

    for name, value in (
        ("FLEXHOOK_EXCEPTION_ACK_SLA", "critical=soon"),
        ("FLEXHOOK_EXCEPTION_RESOLVE_SLA", "urgent=1h"),
        ("FLEXHOOK_EXCEPTION_SEVERITY", "customs_hold=very"),
    ):
        monkeypatch.setenv(name, value)
        with pytest.raises(ConfigError, match=name):
            load_settings()
        monkeypatch.delenv(name)
