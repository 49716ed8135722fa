"""The exception watch's steps without a server: its clock (escalate, remind, wake; each
escalation and reminder once per episode), the notices outbox (written with the transition,
planned once, found again by a retry), person destinations (only an active token's contact),
escalations that no quiet hours or digest hold, the inbox link and the messages' wording."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from activities.delivery import NotificationActivities, person_destination_id
from activities.exceptions import ExceptionActivities, ExceptionRules
from activities.types import Delivery, ExceptionDueInput
from app.core.access import Role
from app.core.addresses import DestinationRules, parse_allowlist
from app.core.alert import NOTICE_KIND, Alert
from app.core.alert_links import LinkBases, alert_links
from app.core.audience import Audience
from app.core.exception_clock import go_duration, parse_severity_durations
from app.core.exception_families import ExceptionEffect
from app.core.preferences import hold_until, parse_preferences
from app.store import db, exceptions, tokens
from app.store.exception_models import ExceptionEntry
from app.store.recipients import add_recipient
from app.store.subscriptions import add_subscription
from notifications.destinations import NotifyConfig
from notifications.notifier import Notifier
from notifications.render import Renderer

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
HOLD = ExceptionEffect(opens="customs_hold")
RULES = ExceptionRules(
    ack_sla=parse_severity_durations("critical=1h"),
    resolve_sla=parse_severity_durations("critical=24h"),
)


@pytest.fixture
def engine(cli_database: str) -> Iterator[Engine]:
    engine = db.create_db_engine(cli_database)
    yield engine
    engine.dispose()


def config(tmp_path: Path, url: str) -> NotifyConfig:
    path = tmp_path / "notifications.yml"
    path.write_text(f'urls:\n  - "{url}":\n      tag: escalation\n', encoding="utf-8")
    return NotifyConfig(path)


ESCALATIONS_URL = "json://127.0.0.1:9/escalations"


@pytest.fixture
def watch(engine: Engine, tmp_path: Path) -> ExceptionActivities:
    notifications = NotificationActivities(
        engine, Notifier(Renderer()), config=config(tmp_path, ESCALATIONS_URL)
    )
    return ExceptionActivities(engine, notifications, RULES)


def open_hold(engine: Engine, *, event_id: str = "hold-1", minutes: int = 0) -> int:
    with Session(engine) as session:
        [outcome] = exceptions.record_event(
            session,
            shipment_id="418563",
            event_id=event_id,
            occurred_at=T0 + timedelta(minutes=minutes),
            effect=HOLD,
            severities={},
            now=T0 + timedelta(minutes=minutes),
        )
        session.commit()
    return outcome.exception_id


def act(engine: Engine, exception_id: int, action: exceptions.Action, **values: Any) -> None:
    with Session(engine) as session:
        exceptions.act(session, exception_id=exception_id, action=action, **values)
        session.commit()


def at(delta: timedelta, exception_id: int) -> ExceptionDueInput:
    return ExceptionDueInput(exception_id=exception_id, at=(T0 + delta).isoformat())


def whats(engine: Engine, exception_id: int) -> list[str]:
    with Session(engine) as session:
        entries = session.exec(
            select(ExceptionEntry).where(ExceptionEntry.exception_id == exception_id)
        ).all()
        return [e.what for e in entries]


def test_an_open_exception_escalates_once_at_its_ack_sla(
    engine: Engine, watch: ExceptionActivities
) -> None:
    exception_id = open_hold(engine)
    clock = watch.read_exception_clock(at(timedelta(0), exception_id))
    assert (clock.resolved, clock.due, clock.due_at) == (
        False,
        "escalate",
        (T0 + timedelta(hours=1)).isoformat(),
    )
    early = watch.perform_exception_due(at(timedelta(minutes=59), exception_id))
    assert early.deliveries == []

    [delivery] = watch.perform_exception_due(at(timedelta(hours=1), exception_id)).deliveries

    alert = delivery.alert
    assert (alert.kind, alert.exception_id) == ("escalation", exception_id)
    assert alert.headline == "Customs hold not acknowledged within 1h"
    assert alert.dedup_key == f"exception-{exception_id}:{T0.isoformat()}:escalation"
    assert whats(engine, exception_id) == ["opened", "escalated"]
    # Performed again (a retried activity): the same delivery, no second entry.
    again = watch.perform_exception_due(at(timedelta(hours=2), exception_id))
    assert again.deliveries == [delivery]
    assert whats(engine, exception_id) == ["opened", "escalated"]
    # The episode escalated: no clock runs until it is acknowledged.
    assert watch.read_exception_clock(at(timedelta(hours=2), exception_id)).due is None


def test_an_acknowledged_exception_reminds_once_and_a_reopened_one_escalates_again(
    engine: Engine, watch: ExceptionActivities
) -> None:
    exception_id = open_hold(engine)
    act(engine, exception_id, "acknowledge", by="alice", at=T0 + timedelta(minutes=5))
    clock = watch.read_exception_clock(at(timedelta(minutes=5), exception_id))
    assert (clock.due, clock.due_at) == ("remind", (T0 + timedelta(hours=24)).isoformat())

    [reminder] = watch.perform_exception_due(at(timedelta(hours=24), exception_id)).deliveries
    assert reminder.alert.headline == "Customs hold acknowledged, not resolved within 24h"
    assert reminder.alert.dedup_key.endswith(":reminder")
    assert whats(engine, exception_id) == ["opened", "acknowledged", "reminded"]

    act(engine, exception_id, "resolve", by="alice", at=T0 + timedelta(hours=25), note="ok")
    assert watch.read_exception_clock(at(timedelta(hours=25), exception_id)).resolved
    act(engine, exception_id, "reopen", by="bob", at=T0 + timedelta(hours=26))
    [escalation] = watch.perform_exception_due(at(timedelta(hours=27), exception_id)).deliveries
    assert escalation.alert.kind == "escalation"
    assert escalation.alert.dedup_key != reminder.alert.dedup_key  # a new episode


def test_a_snooze_wakes_at_its_time_and_holds_the_escalation_until_then(
    engine: Engine, watch: ExceptionActivities
) -> None:
    exception_id = open_hold(engine)
    until = T0 + timedelta(hours=3)
    act(engine, exception_id, "snooze", by="alice", at=T0, until=until)
    clock = watch.read_exception_clock(at(timedelta(0), exception_id))
    assert (clock.due, clock.due_at) == ("wake", until.isoformat())

    [escalation] = watch.perform_exception_due(at(timedelta(hours=3), exception_id)).deliveries

    assert escalation.alert.kind == "escalation"
    assert whats(engine, exception_id)[-2:] == ["woke", "escalated"]


def test_notices_are_written_with_the_transition_and_planned_once(
    engine: Engine, watch: ExceptionActivities
) -> None:
    with Session(engine) as session:
        tokens.create_token(
            session,
            name="carol",
            role=Role.OPERATOR,
            expires_in=None,
            contact="json://127.0.0.1:9/carol",
            created_by="admin",
            now=T0,
        )
        session.commit()
    exception_id = open_hold(engine)
    act(engine, exception_id, "assign", by="carol", at=T0, assignee="carol")  # herself
    act(engine, exception_id, "assign", by="alice", at=T0, assignee="bob")  # no token
    act(engine, exception_id, "assign", by="alice", at=T0, assignee="carol")
    assert watch.read_exception_clock(at(timedelta(0), exception_id)).notices == 2

    [delivery] = watch.plan_exception_notices(at(timedelta(0), exception_id)).deliveries

    assert delivery.destination_id == person_destination_id("carol")
    assert (delivery.alert.kind, delivery.alert.person) == (NOTICE_KIND, "carol")
    assert delivery.alert.headline == "Customs hold assigned to you"
    assert watch.read_exception_clock(at(timedelta(0), exception_id)).notices == 0
    # Planned again (a retry whose first result was lost): the same delivery, nothing new.
    again = watch.plan_exception_notices(at(timedelta(0), exception_id)).deliveries
    assert again == [delivery]
    assert watch.read_exception_clock(at(timedelta(0), exception_id)).notices == 0


def test_a_person_destination_is_only_an_active_tokens_contact(
    engine: Engine, tmp_path: Path
) -> None:
    notifications = NotificationActivities(
        engine, Notifier(Renderer()), config=config(tmp_path, ESCALATIONS_URL)
    )
    with Session(engine) as session:
        for name in ("active", "revoked"):
            tokens.create_token(
                session,
                name=name,
                role=Role.VIEWER,
                expires_in=None,
                contact=f"json://127.0.0.1:9/{name}",
                created_by="admin",
                now=T0,
            )
        tokens.revoke_token(session, name="revoked", now=T0)
        session.commit()
    notice = Alert(
        kind=NOTICE_KIND,
        event_id="exception-1",
        event_type="customs_hold",
        shipment_id="418563",
        headline="Customs hold assigned to you",
        occurred_at=T0.isoformat(),
        person="active",
    )
    with Session(engine) as session:
        found = notifications.destination(
            session, Delivery(notice, person_destination_id("active"))
        )
        assert found is not None and found.url == "json://127.0.0.1:9/active"
        assert found.audience is Audience.INTERNAL
        # Another person's id for this notice, a tag-routed URL's id: not this notice's.
        assert notifications.destination(session, Delivery(notice, "url-0")) is None
        revoked = dataclasses.replace(notice, person="revoked")
        assert (
            notifications.destination(session, Delivery(revoked, person_destination_id("revoked")))
            is None
        )
        assert notifications.plan(session, [revoked], now=T0) == []


ESCALATION = Alert(
    kind="escalation",
    event_id="hold-1",
    event_type="customs_hold",
    shipment_id="418563",
    headline="Customs hold not acknowledged within 1h",
    occurred_at=T0.isoformat(),
    exception_id=7,
)


def test_neither_quiet_hours_nor_a_digest_hold_an_escalation() -> None:
    quiet = parse_preferences(quiet_hours="00:00-23:59")
    digest = parse_preferences(delivery="digest", digest_at="09:00")
    for preferences in (quiet, digest):
        assert hold_until(preferences, ESCALATION, now=T0) is None
        routine = dataclasses.replace(ESCALATION, kind="departed")
        assert hold_until(preferences, routine, now=T0) is not None


def test_an_escalation_links_its_watch_in_temporal_and_an_event_alert_its_event() -> None:
    bases = LinkBases(temporal_ui_url="http://temporal.test", namespace="default")

    watch_link = alert_links(bases, ESCALATION).workflow_url
    event_link = alert_links(bases, CUSTOMS).workflow_url

    assert watch_link == "http://temporal.test/namespaces/default/workflows/exception-7"
    assert event_link == "http://temporal.test/namespaces/default/workflows/flexport-event-hold-2"


def test_the_inbox_link_is_for_internal_readers_only() -> None:
    bases = LinkBases(public_url="https://flexhook.example/")
    internal = alert_links(bases, ESCALATION)
    external = alert_links(bases, ESCALATION, audience=Audience.EXTERNAL)

    assert internal.exception_url == "https://flexhook.example/dashboard/exceptions/7"
    assert external.exception_url == ""
    assert (
        alert_links(bases, dataclasses.replace(ESCALATION, exception_id=None)).exception_url == ""
    )


def test_an_escalation_says_what_and_links_the_inbox_in_every_form() -> None:
    links = alert_links(LinkBases(public_url="https://flexhook.example"), ESCALATION)
    renderer = Renderer()

    email, chat, text = (
        renderer.email(ESCALATION, links),
        renderer.chat(ESCALATION, links),
        renderer.text(ESCALATION, links),
    )

    assert email.subject == "Customs hold not acknowledged within 1h — Shipment 418563"
    for body in (email.html, chat.markdown, text.body):
        assert "https://flexhook.example/dashboard/exceptions/7" in body


def test_durations_read_as_the_settings_write_them() -> None:
    assert [go_duration(timedelta(seconds=s)) for s in (2, 90 * 60, 3600, 3605)] == [
        "2s",
        "1h30m",
        "1h",
        "1h5s",
    ]


CUSTOMS = dataclasses.replace(
    ESCALATION,
    kind="customs",
    event_id="hold-2",
    event_type="/shipment#customs_agriculture_hold",
    headline="Customs hold: agriculture hold",
)


def test_an_escalation_reaches_internal_escalation_targets_only(
    engine: Engine, tmp_path: Path
) -> None:
    """Attacker's view: a shipment's subscriber or an external recipient (a customer, a
    follower) must not learn the team's missed SLAs; `always` and `shipment-<id>` tags are for
    the shipment's news, not for the team's clocks."""
    path = tmp_path / "notifications.yml"
    path.write_text(
        "urls:\n"
        + "".join(
            f'  - "json://127.0.0.1:9/{tag}":\n      tag: {tag}\n'
            for tag in ("escalation", "always", "shipment-418563", "customs")
        ),
        encoding="utf-8",
    )
    local = DestinationRules(allowlist=parse_allowlist("127.0.0.1"))
    with Session(engine) as session:
        add_subscription(
            session,
            shipment_id="418563",
            url="json://127.0.0.1:9/subscriber",
            kinds=None,
            rules=local,
            now=T0,
        )
        for audience in ("internal", "external"):
            add_recipient(
                session,
                url=f"json://127.0.0.1:9/recipient-{audience}",
                audience=audience,
                rules=local,
                now=T0,
            )
        session.commit()
    notifications = NotificationActivities(engine, Notifier(Renderer()), config=NotifyConfig(path))

    with Session(engine) as session:
        planned = notifications.plan(session, [ESCALATION], now=T0)
        heard = sorted(
            found.url.split("?")[0].rsplit("/", 1)[-1]
            for delivery in planned
            if (found := notifications.destination(session, delivery)) is not None
        )
        assert heard == ["escalation", "recipient-internal"]
        # A delivery to a subscriber's id, made up or from before: refused when it is sent.
        routine = {
            found.url.split("?")[0].rsplit("/", 1)[-1]: delivery.destination_id
            for delivery in notifications.plan(session, [CUSTOMS], now=T0)
            if (found := notifications.destination(session, delivery)) is not None
        }
        for name in ("subscriber", "always", "shipment-418563", "recipient-external"):
            assert routine[name]
            assert notifications.destination(session, Delivery(ESCALATION, routine[name])) is None
