"""`flexhook subscribe`: the CLI face of POST /api/shipments/{id}/subscriptions."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlmodel import Session, col, select

from app.cli import main
from app.store import db
from app.store.models import Recipient, Subscription


def test_subscribe_stores_the_url_and_shows_only_its_privacy_form(cli_database: str) -> None:
    result = CliRunner().invoke(
        main,
        ["subscribe", "418563", "json://user:hunter2@127.0.0.1:9/hook", "--kinds", "departed,eta"],
    )

    assert result.exit_code == 0, result.output
    assert "hunter2" not in result.output
    with Session(db.create_db_engine(cli_database)) as session:
        [row] = session.exec(select(Subscription)).all()
    assert (row.shipment_id, row.kinds) == ("418563", ["departed", "eta"])
    assert row.url == "json://user:hunter2@127.0.0.1:9/hook"


def test_subscribe_refuses_a_url_apprise_rejects(cli_database: str) -> None:
    result = CliRunner().invoke(main, ["subscribe", "418563", "bogus://nowhere"])

    assert result.exit_code != 0
    assert "bogus" in result.output


def test_commands_refuse_a_database_that_was_not_upgraded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'fresh.db'}")

    result = CliRunner().invoke(main, ["subscribe", "418563", "json://127.0.0.1:9"])

    assert result.exit_code != 0
    assert "flexhook db upgrade" in result.output


def test_subscribe_refuses_an_internal_host_the_allowlist_does_not_name(
    cli_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLEXHOOK_DESTINATION_ALLOW", "")

    result = CliRunner().invoke(main, ["subscribe", "418563", "json://127.0.0.1:9/hook"])

    assert result.exit_code != 0
    assert "FLEXHOOK_DESTINATION_ALLOW" in result.output


def test_subscribe_stops_at_the_cap_with_one_clear_line(
    cli_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLEXHOOK_MAX_SUBSCRIPTIONS_PER_SHIPMENT", "1")
    runner = CliRunner()

    first = runner.invoke(main, ["subscribe", "418563", "json://127.0.0.1:9/a"])
    second = runner.invoke(main, ["subscribe", "418563", "json://127.0.0.1:9/b"])

    assert first.exit_code == 0, first.output
    assert second.exit_code != 0
    assert second.output.count("\n") == 1
    assert "FLEXHOOK_MAX_SUBSCRIPTIONS_PER_SHIPMENT" in second.output


def test_subscribe_and_recipients_add_take_an_audience(cli_database: str) -> None:
    runner = CliRunner()
    subscribed = runner.invoke(
        main, ["subscribe", "418563", "json://127.0.0.1:9/buyer", "--audience", "external"]
    )
    internal = runner.invoke(main, ["subscribe", "418563", "json://127.0.0.1:9/team"])
    added = runner.invoke(
        main, ["recipients", "add", "json://127.0.0.1:9/customer", "--audience", "external"]
    )
    refused = runner.invoke(
        main, ["recipients", "add", "json://127.0.0.1:9/x", "--audience", "everyone"]
    )
    listed = runner.invoke(main, ["recipients", "list"])

    assert subscribed.exit_code == 0, subscribed.output
    assert "(external)" in subscribed.output and "(internal)" in internal.output
    assert added.exit_code == 0, added.output
    assert refused.exit_code != 0 and "internal" in refused.output
    assert listed.output.rstrip("\n").endswith("\texternal")
    with Session(db.create_db_engine(cli_database)) as session:
        subscriptions = session.exec(select(Subscription).order_by(col(Subscription.id))).all()
        [recipient] = session.exec(select(Recipient)).all()
    assert [s.audience for s in subscriptions] == ["external", "internal"]
    assert recipient.audience == "external"
