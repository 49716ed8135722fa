"""`flexhook tokens`: named tokens from the command line, shown once, audited, revocable."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlmodel import Session

from app.cli import main
from app.core.access import token_digest
from app.store import audit, db, tokens


def test_a_token_is_printed_once_alone_on_the_last_line_and_only_its_hash_is_kept(
    cli_database: str,
) -> None:
    created = CliRunner().invoke(
        main, ["tokens", "create", "erp-sync", "--role", "viewer", "--expires", "90d"]
    )
    listed = CliRunner().invoke(main, ["tokens", "list"])

    assert created.exit_code == 0, created.output
    token = created.stdout.splitlines()[-1]
    assert token.startswith("fxh_") and token == created.stdout.strip()
    assert listed.stdout.startswith(f"erp-sync\tviewer\t…{token[-4:]}\t")
    assert "active" in listed.stdout and token not in listed.stdout
    with Session(db.create_db_engine(cli_database)) as session:
        row = tokens.find_token(session, name="erp-sync")
        assert row is not None and row.digest == token_digest(token)
        assert row.expires_at is not None
        [entry] = audit.list_entries(session, where=audit.AuditFilter())
    assert (entry.action, entry.target) == ("token.create", "erp-sync (viewer)")
    assert entry.actor.startswith("cli:")


def test_a_revoked_token_is_listed_as_revoked_and_cannot_be_revoked_twice(
    cli_database: str,
) -> None:
    CliRunner().invoke(main, ["tokens", "create", "planner", "--role", "operator"])

    revoked = CliRunner().invoke(main, ["tokens", "revoke", "planner"])
    again = CliRunner().invoke(main, ["tokens", "revoke", "planner"])
    listed = CliRunner().invoke(main, ["tokens", "list"])

    assert revoked.exit_code == 0 and again.exit_code == 1
    assert again.output.strip() == "Error: no active token named 'planner'"
    assert listed.stdout.rstrip().endswith("revoked")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["bad name!", "--role", "viewer"], "name must be 1-64 letters"),
        (["ok", "--role", "viewer", "--expires", "soon"], "expires must be a positive count"),
        (["ok", "--role", "viewer", "--contact", "bogus://x"], "contact:"),
    ],
    ids=["name", "expires", "contact"],
)
def test_a_bad_request_is_one_clear_line(
    cli_database: str, arguments: list[str], message: str
) -> None:
    result = CliRunner().invoke(main, ["tokens", "create", *arguments])

    assert result.exit_code == 1
    assert len(result.output.strip().splitlines()) == 1 and message in result.output
