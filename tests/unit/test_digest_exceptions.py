"""The daily digest's "Open exceptions" section (issue 19): what it lists (the unresolved
exceptions of the shipments the destination follows, most severe first, then oldest, 20 and a
count of the rest) and what each reader may see of it: links to the inbox and assignees for
internal readers only, event data and names never markup."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from temporalio.testing import ActivityEnvironment

from activities.digest import DigestRenderer
from activities.recipient import RecipientActivities
from app.core.alert import Links
from app.core.audience import Audience
from app.core.digest import Digest, OpenException, compose_digest, open_exception, seen_by
from app.core.exception_families import exception_effect
from app.store import exceptions
from app.store.models import Recipient
from notifications.destinations import NotifyConfig
from notifications.render import Renderer
from tests.unit.exception_samples import sample_event
from tests.unit.test_digest import DEPARTED, NOW, Sender, digest_database, the_input


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    return digest_database(tmp_path)


INBOX = "https://flexhook.example.com/dashboard/exceptions"
HOLD = OpenException(
    exception_id=7,
    shipment_id="418563",
    shipment_name="SS26 <b>Apparel</b> [x](http://evil)",
    family="Customs hold",
    severity="critical",
    state="acknowledged",
    age="2 d 4 h",
    assignee="Ana <script>",
)


def with_exceptions(*problems: OpenException, total: int | None = None) -> Digest:
    return compose_digest(
        [DEPARTED],
        local_date="2026-06-10",
        timezone="Europe/Berlin",
        since=None,
        open_exceptions=problems,
        total_open_exceptions=total,
    )


def forms(told: Digest) -> dict[str, str]:
    rendered = DigestRenderer(Renderer(), told)
    return {
        "email": rendered.email(DEPARTED, Links()).html,
        "slack": rendered.chat(DEPARTED, Links(), dialect="slack").markdown,
        "teams": rendered.chat(DEPARTED, Links(), dialect="markdown").markdown,
        "text": rendered.text(DEPARTED, Links()).body,
    }


def test_an_open_exception_says_its_family_shipment_age_and_state() -> None:
    opened = datetime(2026, 6, 8, 2, 0, tzinfo=UTC)
    made = open_exception(
        exception_id=7,
        shipment_id="418563",
        shipment_name=None,
        family_name="customs_hold",
        severity="critical",
        state="open",
        opened_at=opened,
        assignee=None,
        now=opened + timedelta(days=2, hours=4, minutes=3),
    )
    retired = open_exception(
        exception_id=8,
        shipment_id="418563",
        shipment_name=None,
        family_name="retired_family",
        severity="low",
        state="open",
        opened_at=opened,
        assignee=None,
        now=opened,
    )
    assert (made.family, made.age) == ("Customs hold", "2 d 4 h")
    assert (retired.family, retired.age) == ("Retired family", "0 min")


def test_external_readers_get_no_inbox_link_and_no_name_in_any_form() -> None:
    told = with_exceptions(HOLD, total=25)
    external = seen_by(told, audience=Audience.EXTERNAL, public_url="https://flexhook.example.com")

    for form, body in forms(external).items():
        assert "Open exceptions (25)" in body, form
        assert "Customs hold" in body and "2 d 4 h" in body, form
        assert "and 24 more" in body, form
        assert "/dashboard" not in body and "Ana" not in body, form
    assert external.inbox_url == "" and external.open_exceptions[0].url == ""


def test_internal_readers_get_the_exceptions_page_and_its_assignee_as_text() -> None:
    internal = seen_by(
        with_exceptions(HOLD, total=25),
        audience=Audience.INTERNAL,
        public_url="https://flexhook.example.com/",
    )
    rendered = forms(internal)

    assert internal.open_exceptions[0].url == f"{INBOX}/7"
    assert f'<a href="{INBOX}/7" style="color:#1d4ed8;">Customs hold</a>' in rendered["email"]
    assert "assigned to Ana &lt;script&gt;" in rendered["email"]
    assert "<script>" not in rendered["email"] and "<b>Apparel" not in rendered["email"]
    assert f"{INBOX}/7" in rendered["text"] and f"and 24 more: {INBOX}" in rendered["text"]
    assert "assigned to Ana <script>" in rendered["text"]  # plain text: as it is
    for chat in (rendered["slack"], rendered["teams"]):
        assert f"[Customs hold]({INBOX}/7)" in chat
        assert "](http://evil)" not in chat
    # No public URL: nothing to link to, the names stay.
    unlinked = seen_by(with_exceptions(HOLD), audience=Audience.INTERNAL, public_url="")
    assert "/dashboard" not in forms(unlinked)["text"] and "Ana" in forms(unlinked)["text"]


def test_a_digest_without_open_exceptions_has_no_such_section() -> None:
    for body in forms(with_exceptions()).values():
        assert "Open exceptions" not in body


HOLD_TYPE = "/shipment#customs_agriculture_hold"
DELAY_TYPE = "/shipment#cargo_ready_date_changed_exception"


def open_problems(engine: Engine) -> None:
    """A customs hold (critical) on 24 shipments, opened an hour apart; a departure delay
    (high) on the first, opened first of all; and a hold on S-99 that Flexport released."""
    effects = {
        t: exception_effect(e.type, e.classification, e.facts())
        for t, e in (
            (t, sample_event("01_shipment_created", event_type=t)) for t in (HOLD_TYPE, DELAY_TYPE)
        )
    }
    release = sample_event("11_customs_released")
    reports = [("S-00", DELAY_TYPE, -1)] + [(f"S-{n:02}", HOLD_TYPE, n) for n in range(24)]
    with Session(engine) as session:
        for shipment_id, event_type, hours in [*reports, ("S-99", HOLD_TYPE, 0)]:
            at = NOW - timedelta(days=3) + timedelta(hours=hours)
            exceptions.record_event(
                session,
                shipment_id=shipment_id,
                event_id=f"{shipment_id}-{event_type}",
                occurred_at=at,
                effect=effects[event_type],
                severities={},
                now=at,
            )
        exceptions.record_event(
            session,
            shipment_id="S-99",
            event_id="release",
            occurred_at=NOW - timedelta(days=1),
            effect=exception_effect(release.type, release.classification, release.facts()),
            severities={},
            now=NOW - timedelta(days=1),
        )
        session.commit()


def test_the_digest_lists_20_open_exceptions_most_severe_then_oldest(engine: Engine) -> None:
    open_problems(engine)
    sender = Sender()
    activities = RecipientActivities(engine, config=NotifyConfig(None), digests=sender)

    assert ActivityEnvironment().run(activities.send_digest, the_input(engine)) == "sent"

    [told] = sender.sent
    listed = [(p.shipment_id, p.family) for p in told.open_exceptions]
    assert listed == [(f"S-{n:02}", "Customs hold") for n in range(20)]  # resolved S-99: none
    assert told.more_open_exceptions == 5  # 4 holds and the delay
    assert sender.audiences == [Audience.INTERNAL]


def test_a_recipient_sees_the_open_exceptions_of_its_shipments_as_its_audience(
    engine: Engine,
) -> None:
    open_problems(engine)
    with Session(engine) as session:
        recipient = session.exec(select(Recipient)).one()
        recipient.shipments, recipient.audience = ["S-00", "S-99"], "external"
        session.commit()
    sender = Sender()
    activities = RecipientActivities(engine, config=NotifyConfig(None), digests=sender)

    assert ActivityEnvironment().run(activities.send_digest, the_input(engine)) == "sent"

    [told] = sender.sent
    assert [(p.shipment_id, p.family, p.state) for p in told.open_exceptions] == [
        ("S-00", "Customs hold", "open"),
        ("S-00", "Departure delay", "open"),
    ]
    assert told.more_open_exceptions == 0
    assert sender.audiences == [Audience.EXTERNAL]  # the stored recipient's audience
