"""The daily digest: composed from the day's alerts, put into words per form (event data never
markup), and sent once by `send_digest` whatever happens to the attempt (no servers: a real
SQLite file, the activity in Temporal's `ActivityEnvironment`, a stand-in sender)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.delivery import UNKNOWN_OUTCOME
from activities.digest import DigestRenderer, DigestSender
from activities.recipient import RecipientActivities, digest_key
from activities.recipient_types import DigestInput
from app.core.alert import Alert, Links
from app.core.audience import Audience
from app.core.digest import Digest, InTransit, compose_digest
from app.store import db
from app.store.models import EventRecord, Notification
from app.store.recipients import add_recipient
from notifications.destinations import NotifyConfig
from notifications.notifier import DeliveryFailed, Destination, SendTimedOut
from notifications.render import Renderer, shipment

URL = "json://hooks.example.test:9/digest"
NOW = datetime(2026, 6, 10, 6, 0, tzinfo=UTC)


def alert(
    kind: str, *, at: str, name: str = "SS26 <b>Apparel</b> *bold*", **extra: object
) -> Alert:
    return Alert(
        kind=kind,
        event_id=f"evt-{kind}-{at}",
        event_type=f"/shipment_leg#{kind}",
        shipment_id="418563",
        headline=kind.capitalize(),
        occurred_at=at,
        shipment_name=name,
        place_name="Yantian",
        place_country="CN",
        place_timezone="Asia/Shanghai",
        **extra,  # type: ignore[arg-type]
    )


DEPARTED = alert("departed", at="2026-06-09T13:20:00+00:00")
ARRIVED = alert("arrived", at="2026-06-09T20:00:00+00:00")
EARLIER = alert("departed", at="2026-06-09T01:00:00+00:00", name="Other")


def digest(*alerts: Alert) -> Digest:
    transit = InTransit(
        shipment_id="418563", shipment_name="SS26 [x](http://evil)", status="arrived"
    )
    return compose_digest(
        alerts,
        local_date="2026-06-10",
        timezone="Europe/Berlin",
        since=None,
        in_transit=[transit],
        total_in_transit=3,
    )


def test_a_digest_groups_the_days_alerts_by_kind_in_the_order_they_happened() -> None:
    composed = digest(ARRIVED, DEPARTED, EARLIER)
    assert [(s.title, [a.event_id for a in s.alerts]) for s in composed.sections] == [
        ("Departed", [EARLIER.event_id, DEPARTED.event_id]),
        ("Arrived", [ARRIVED.event_id]),
    ]
    assert (composed.count, composed.more_in_transit) == (3, 2)


def test_event_data_never_becomes_markup_in_any_form() -> None:
    rendered = DigestRenderer(Renderer(), digest(DEPARTED, ARRIVED))
    email = rendered.email(DEPARTED, Links())
    slack = rendered.chat(DEPARTED, Links(), dialect="slack")
    teams = rendered.chat(DEPARTED, Links(), dialect="markdown")
    text = rendered.text(DEPARTED, Links())

    assert email.subject == "Daily digest 2026-06-10: 2 shipment updates"
    assert "<table" in email.html and "&lt;b&gt;Apparel&lt;/b&gt;" in email.html
    assert "<b>Apparel" not in email.html
    for chat in (slack.markdown, teams.markdown):
        assert "](http://evil)" not in chat and "*bold*" not in chat
        assert "**In transit (3)**" in chat and "- and 2 more" in chat
    assert "SS26 <b>Apparel</b> *bold* (418563): Departed, Yantian, CN" in text.body


def test_a_digest_lists_the_tracking_link_of_each_shipment_it_tells_of() -> None:
    token = "T" * 43
    url = f"https://flexhook.example.com/track/{token}"
    told = digest(DEPARTED, ARRIVED)
    sender = DigestSender(Renderer(), public_url="https://flexhook.example.com/")
    rendered = sender.render(told, {DEPARTED.shipment_id: token})

    text = rendered.text(DEPARTED, Links()).body
    assert text.endswith(f"Track these shipments:\n- {shipment(DEPARTED)}: {url}")
    assert text.count(url) == 1  # one line per shipment, however many alerts it had
    assert (
        f'<a href="{url}" style="color:#1d4ed8;">{url}</a>'
        in rendered.email(DEPARTED, Links()).html
    )
    chat = rendered.chat(DEPARTED, Links(), dialect="slack").markdown
    assert chat.endswith(f"]({url})") and "<b>Apparel" not in chat
    # No public URL, or no link yet: the digest has no such section.
    assert (
        "Track"
        not in DigestSender(Renderer()).render(told, {"418563": token}).text(DEPARTED, Links()).body
    )
    assert "Track" not in sender.render(told).text(DEPARTED, Links()).body


# -- sent once -----------------------------------------------------------------------------


class Sender(DigestSender):
    """Records what it is asked to send; raises what it is told to."""

    def __init__(self) -> None:
        super().__init__(Renderer())
        self.sent: list[Digest] = []
        self.audiences: list[Audience] = []
        self.failure: Exception | None = None

    def send(
        self, destination: Destination, digest: Digest, *, tokens: Mapping[str, str] | None = None
    ) -> None:
        if self.failure is not None:
            raise self.failure
        self.sent.append(digest)
        self.audiences.append(destination.audience)


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    return digest_database(tmp_path)


def digest_database(tmp_path: Path) -> Engine:
    """A migrated SQLite file with a digest recipient (every shipment, internal) and two
    alerts held for it."""
    engine = db.create_db_engine(f"sqlite:///{tmp_path / 'flexhook.db'}")
    db.upgrade(engine)
    with Session(engine) as session:
        recipient = add_recipient(
            session,
            url=URL,
            delivery="digest",
            digest_at="08:00",
            timezone="Europe/Berlin",
            now=NOW,
        )
        for held in (DEPARTED, ARRIVED):
            session.add(
                EventRecord(
                    event_id=held.event_id,
                    type=held.event_type,
                    category="milestone",
                    name=held.kind,
                    shipment_id=held.shipment_id,
                    received_at=NOW,
                    status="processed",
                    workflow_id=f"flexport-event-{held.event_id}",
                    payload="{}",
                    alerts=[asdict(held)],
                )
            )
            session.add(
                Notification(
                    dedup_key=held.dedup_key,
                    destination_id=recipient.destination_id,
                    destination=recipient.privacy_url,
                    kind=held.kind,
                    event_id=held.event_id,
                    shipment_id=held.shipment_id,
                    status="held",
                    created_at=NOW - timedelta(hours=1),
                )
            )
        session.commit()
    return engine


def statuses(engine: Engine) -> dict[str, str]:
    with Session(engine) as session:
        return {row.kind: row.status for row in session.exec(select(Notification)).all()}


def the_input(engine: Engine) -> DigestInput:
    with Session(engine) as session:
        [row] = session.exec(select(Notification.destination_id).distinct()).all()
    return DigestInput(destination_id=row, local_date="2026-06-10")


def test_a_digest_is_sent_once_and_carries_the_held_alerts(engine: Engine) -> None:
    sender = Sender()
    activities = RecipientActivities(engine, config=NotifyConfig(None), digests=sender)
    run = ActivityEnvironment().run

    assert run(activities.send_digest, the_input(engine)) == "sent"
    assert run(activities.send_digest, the_input(engine)) == "sent"

    assert len(sender.sent) == 1 and sender.sent[0].count == 2
    assert statuses(engine) == {"departed": "sent", "arrived": "sent", "digest": "sent"}


def test_a_digest_that_did_not_get_through_gives_its_alerts_back(engine: Engine) -> None:
    sender = Sender()
    sender.failure = DeliveryFailed("json://hooks.example.test:9/digest: connection refused")
    activities = RecipientActivities(engine, config=NotifyConfig(None), digests=sender)

    with pytest.raises(DeliveryFailed):
        ActivityEnvironment().run(activities.send_digest, the_input(engine))

    assert statuses(engine) == {"departed": "held", "arrived": "held", "digest": "pending"}
    sender.failure = None
    assert ActivityEnvironment().run(activities.send_digest, the_input(engine)) == "sent"
    assert statuses(engine) == {"departed": "sent", "arrived": "sent", "digest": "sent"}


def test_a_digest_that_ran_past_its_deadline_is_failed_not_sent_again(engine: Engine) -> None:
    # The abandoned send's thread may still deliver it: a retry could send it twice.
    sender = Sender()
    sender.failure = SendTimedOut(f"{URL}: the send did not finish within 30 s")
    activities = RecipientActivities(engine, config=NotifyConfig(None), digests=sender)

    with pytest.raises(ApplicationError, match="outcome unknown") as raised:
        ActivityEnvironment().run(activities.send_digest, the_input(engine))

    assert raised.value.non_retryable
    assert statuses(engine)["digest"] == "failed"


def test_an_attempt_that_died_while_sending_is_never_sent_again(engine: Engine) -> None:
    sender = Sender()
    activities = RecipientActivities(engine, config=NotifyConfig(None), digests=sender)
    digest_input = the_input(engine)
    with Session(engine) as session:  # what an attempt leaves when the worker dies mid-send
        for row in session.exec(select(Notification)).all():
            row.status, row.claimed_by = "sending", digest_key(digest_input)
        session.add(
            Notification(
                dedup_key=digest_key(digest_input),
                destination_id=digest_input.destination_id,
                destination=URL,
                kind="digest",
                event_id=digest_key(digest_input),
                shipment_id="",
                status="sending",
                claimed_by="test",  # ActivityEnvironment's workflow id
                attempts=1,
                created_at=NOW,
            )
        )
        session.commit()

    assert ActivityEnvironment().run(activities.send_digest, digest_input) == "failed"

    assert sender.sent == []
    assert statuses(engine) == {"departed": "failed", "arrived": "failed", "digest": "failed"}
    with Session(engine) as session:
        errors = {row.last_error for row in session.exec(select(Notification)).all()}
    assert errors == {UNKNOWN_OUTCOME}


def test_an_empty_day_sends_nothing(engine: Engine) -> None:
    with Session(engine) as session:
        for row in session.exec(select(Notification)).all():
            row.status = "sent"
        session.commit()
    sender = Sender()
    activities = RecipientActivities(engine, config=NotifyConfig(None), digests=sender)

    assert ActivityEnvironment().run(activities.send_digest, the_input(engine)) == "empty"
    assert sender.sent == [] and "digest" not in statuses(engine)
