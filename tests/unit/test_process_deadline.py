"""`process_event` past its run's deadline gives the event up only once the failed row is
written: while the database is away the attempt is retried, so the event is never lost (review
of the hardening issue: a database outage longer than the deadline lost its events)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError
from temporalio.testing import ActivityEnvironment

from activities.delivery import NotificationActivities
from activities.processing import EventActivities
from activities.types import ProcessEventInput
from app.store import db
from notifications.destinations import NotifyConfig
from notifications.notifier import Notifier
from notifications.render import Renderer
from tests.helpers import read_sample

PAST = (datetime.now(UTC) - timedelta(hours=2)).isoformat()


def process(engine_url: str, *, attempt: int) -> None:
    engine = db.create_db_engine(engine_url)
    notifications = NotificationActivities(engine, Notifier(Renderer()), config=NotifyConfig(None))
    activities = EventActivities(engine, notifications, eta_slip_hours=24)
    environment = ActivityEnvironment()
    environment.info = dataclasses.replace(environment.info, attempt=attempt)
    environment.run(
        activities.process_event,
        ProcessEventInput(
            event_id="48262090",
            body=read_sample("06_leg_departed").decode(),
            workflow_id="flexport-event-48262090",
            received_at=PAST,
            fail_after=PAST,
        ),
    )


def test_past_the_deadline_with_the_database_away_the_attempt_is_retried(tmp_path: Path) -> None:
    away = f"sqlite:///{tmp_path / 'no-such-dir' / 'flexhook.db'}"  # cannot be opened

    with pytest.raises(OperationalError):  # retryable: not the run-ending ProcessDeadline
        process(away, attempt=5)
