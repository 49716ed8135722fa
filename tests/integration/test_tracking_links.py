"""Alerts link to the shipment's tracking page, and only to what their reader can open: an
external reader (configuration tag `audience:external`, an external recipient or subscription)
gets the tracking link alone; an internal one also the dashboard and Temporal; nobody the API,
which answers 401 to every reader without a token. Real SMTP, a real json:// endpoint, a real
database: the link is the one row per shipment `app.store.shares.alert_share` keeps."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from app.core.audience import EXTERNAL_TAG
from app.core.shares import ShareLifetime, SharePurpose, ShareState
from app.store.models import Share
from app.store.shares import open_share
from tests.integration.harness import Inbox, Samples, Stack, StackFactory, mailto, write_config
from tests.log_registry import register_secret

pytestmark = pytest.mark.integration

PUBLIC = "http://flexhook.test"  # the stack's FLEXHOOK_PUBLIC_URL
TRACK_RE = re.compile(re.escape(PUBLIC) + r"/track/([A-Za-z0-9_-]+)")
CUSTOMER = "buyer@customer.example"


def _text(message: EmailMessage) -> str:
    """Both parts of an email: what a reader of either could click."""
    parts = [message.get_body(("html",)), message.get_body(("plain",))]
    return "\n".join(part.get_content() for part in parts if part is not None)


def _tokens(body: str) -> set[str]:
    """The tracking links' tokens in `body`, each registered with the log watch: a token opens
    its page for whoever holds it, so no log line may show it."""
    found = set(TRACK_RE.findall(body))
    for token in found:
        register_secret(token)
    return found


def _by_recipient(inbox: Inbox) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for message in inbox.messages():
        found.setdefault(str(message["To"]), []).append(_text(message))
    return found


def _alert_shares(stack: Stack, shipment_id: str = "418563") -> list[Share]:
    with Session(stack.engine) as session:
        return list(
            session.exec(
                select(Share)
                .where(Share.shipment_id == shipment_id)
                .where(Share.purpose == SharePurpose.ALERTS.value)
            ).all()
        )


def _opens(stack: Stack, token: str) -> tuple[ShareState | None, str | None]:
    with Session(stack.engine) as session:
        opened = open_share(session, token=token, lifetime=ShareLifetime(), now=datetime.now(UTC))
        session.commit()
    return opened.state, opened.shipment_id


async def test_an_external_reader_gets_the_tracking_link_alone_and_the_team_gets_more(
    make_stack: StackFactory,
    samples: Samples,
    smtp: tuple[Inbox, int],
    tmp_path: Path,
    quiet_test_client: None,
) -> None:
    inbox, port = smtp
    config = write_config(
        tmp_path / "notifications.yml",
        (mailto(port), "departed"),
        (mailto(port, to=CUSTOMER), f"departed, {EXTERNAL_TAG}"),
    )
    stack = await make_stack(notify_config=config)

    await stack.deliver(samples.body("06_leg_departed"))

    mail = _by_recipient(inbox)
    [external], [internal] = mail[CUSTOMER], mail["ops@example.com"]
    # The customer can open nothing of flexhook's but the tracking page.
    assert "/api/" not in external and "/dashboard/" not in external
    assert "127.0.0.1:8233" not in external and "app.flexport.com" not in external
    assert "Track this shipment" in external
    [token] = _tokens(external)
    # Every link of flexhook's in either email opens for its reader without a token: the
    # tracking page answers (no 401), the dashboard's page sends the team to sign in.
    for url in sorted(set(re.findall(re.escape(PUBLIC) + r"/[^\s\"'<>)]+", external + internal))):
        answer = await stack.http.get(url.removeprefix(PUBLIC), follow_redirects=False)
        assert answer.status_code in (200, 303), (url, answer.status_code)
    page = await stack.http.get(f"/track/{token}")
    assert page.status_code == 200 and "Shipment 418563" in page.text
    assert _opens(stack, token) == (ShareState.ACTIVE, "418563")
    # The team gets the same tracking link, the dashboard's page and the workflow too.
    assert _tokens(internal) == {token}
    assert f"{PUBLIC}/dashboard/shipments/418563" in internal
    assert "http://127.0.0.1:8233/namespaces/default/workflows/" in internal
    assert "https://app.flexport.com/shipments/418563" in internal
    assert "/api/shipments" not in internal
    # The link is kept as a digest only, and its making is in the audit trail, by `system`.
    [share] = _alert_shares(stack)
    assert share.digest != token and token not in json.dumps(share.model_dump(mode="json"))
    audit = (await stack.api("/audit", action="share.create")).json()["entries"]
    assert [(e["actor"], e["target"]) for e in audit] == [
        ("system", "shipment 418563: alerts link")
    ]
    assert token not in json.dumps(audit)


async def test_later_alerts_and_a_redelivery_reuse_the_one_link(
    make_stack: StackFactory, samples: Samples, smtp: tuple[Inbox, int], tmp_path: Path
) -> None:
    inbox, port = smtp
    config = write_config(
        tmp_path / "notifications.yml", (mailto(port), f"departed, arrived, {EXTERNAL_TAG}")
    )
    stack = await make_stack(notify_config=config)

    await stack.deliver(samples.body("06_leg_departed"))
    again = await stack.post(samples.body("06_leg_departed"))
    await stack.deliver(samples.body("09_leg_arrived"))

    assert again.json()["status"] == "duplicate"
    departed, arrived = (_text(m) for m in inbox.messages())
    assert _tokens(departed) == _tokens(arrived) and len(_tokens(departed)) == 1
    assert len(_alert_shares(stack)) == 1
    audit = (await stack.api("/audit", action="share.create")).json()["entries"]
    assert len(audit) == 1


async def test_without_a_share_key_alerts_carry_no_tracking_link_and_make_none(
    make_stack: StackFactory, samples: Samples, smtp: tuple[Inbox, int], tmp_path: Path
) -> None:
    inbox, port = smtp
    config = write_config(tmp_path / "notifications.yml", (mailto(port), "departed"))
    stack = await make_stack(notify_config=config, tracking=False)

    await stack.deliver(samples.body("06_leg_departed"))

    [message] = inbox.messages()
    assert _tokens(_text(message)) == set() and "Track this shipment" not in _text(message)
    assert _alert_shares(stack) == []


async def test_the_audience_round_trips_through_the_api_and_decides_the_links(
    make_stack: StackFactory,
    samples: Samples,
    json_endpoint: tuple[list[dict[str, Any]], int],
) -> None:
    posted, port = json_endpoint
    stack = await make_stack()
    headers = {"authorization": f"Bearer {stack.api_token}"}

    refused = await stack.http.post(
        "/api/recipients",
        json={"url": f"json://127.0.0.1:{port}/r", "audience": "everyone"},
        headers=headers,
    )
    recipient = await stack.http.post(
        "/api/recipients",
        json={"url": f"json://127.0.0.1:{port}/team", "kinds": ["departed"]},
        headers=headers,
    )
    subscription = await stack.http.post(
        "/api/shipments/418563/subscriptions",
        json={"url": f"json://127.0.0.1:{port}/buyer", "audience": "External"},
        headers=headers,
    )

    assert refused.status_code == 400 and "internal or external" in refused.text
    assert recipient.status_code == 201 and recipient.json()["audience"] == "internal"
    assert subscription.status_code == 201 and subscription.json()["audience"] == "external"
    [listed] = (await stack.api("/shipments/418563/subscriptions")).json()["subscriptions"]
    assert listed["audience"] == "external"
    [listed] = (await stack.api("/recipients")).json()["recipients"]
    assert listed["audience"] == "internal"

    await stack.deliver(samples.body("06_leg_departed"))

    bodies = {post["path"]: json.dumps(post["body"]) for post in posted}
    buyer, team = bodies["/buyer"], bodies["/team"]
    [token] = _tokens(buyer)
    assert "/dashboard/" not in buyer and "8233" not in buyer and "/api/" not in buyer
    assert _tokens(team) == {token} and "/dashboard/shipments/418563" in team
    assert "/api/shipments" not in team
