"""`flexhook redrive --status processing`: events stuck in processing can be selected (review
M2), those received before `--until` only."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

from click.testing import CliRunner
from sqlmodel import Session

from app.cli import main
from app.core.events import parse_event
from app.store import db
from app.store.event_failures import record_attempt


def test_events_stuck_in_processing_can_be_selected_by_age(
    cli_database: str, sample: Callable[[str], bytes]
) -> None:
    payload = json.loads(sample("06_leg_departed"))
    engine = db.create_db_engine(cli_database)
    with Session(engine) as session:
        for event_id, day in (("stuck-old", 1), ("stuck-new", 3)):
            body = json.dumps({**payload, "id": event_id})
            record_attempt(
                session,
                event=parse_event(body.encode()),
                body=body,
                workflow_id=f"flexport-event-{event_id}",
                received_at=datetime(2026, 3, day, tzinfo=UTC),
                error="TypeError: a bug",
            )
        session.commit()
    engine.dispose()

    listed = CliRunner().invoke(
        main, ["redrive", "--status", "processing", "--until", "2026-03-02", "--dry-run"]
    )

    assert listed.exit_code == 0, listed.output
    assert "stuck-old\tprocessing" in listed.output
    assert "stuck-new" not in listed.output
    assert "1 processing event(s) match (dry run)" in listed.output
