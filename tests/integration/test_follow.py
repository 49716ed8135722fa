"""Following a shipment by email through the whole stack: the web process served by uvicorn, a
real Temporal dev server and worker, a real SMTP server. The confirmation arrives, confirming it
makes the address hear the next milestone with RFC 8058 headers and an unsubscribe link in the
body, and that link's one-click POST stops the next one."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from email.message import EmailMessage
from urllib.parse import urlsplit

import pytest
from sqlmodel import Session

from app.core.addresses import DestinationRules
from app.core.shares import ShareLifetime
from app.store import shares
from app.tracking.follow import FollowConfig
from tests.integration.harness import LOCAL, Inbox, Samples, Stack, StackFactory
from tests.log_registry import register_secret

pytestmark = pytest.mark.integration

PUBLIC = "http://flexhook.test"
SHIPMENT = "418563"
FOLLOWER = "ana@example.com"


def share_link(stack: Stack) -> str:
    with Session(stack.engine) as session:
        _, token = shares.create_share(
            session,
            shipment_id=SHIPMENT,
            created_by="ana",
            lifetime=ShareLifetime(),
            now=datetime.now(UTC),
        )
        session.commit()
    return token


async def mail_to(inbox: Inbox, address: str, count: int) -> list[EmailMessage]:
    """The messages to `address` once there are `count` of them (the confirmation goes out after
    the answer, so it is waited for); fails if they never come."""
    for _ in range(300):
        found = [m for m in inbox.messages() if m["To"] == address]
        if len(found) >= count:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"{count} message(s) to {address} never arrived")


def link_in(message: EmailMessage, path: str) -> str:
    html = message.get_body(("html",))
    assert html is not None
    match = re.search(rf"{re.escape(PUBLIC)}{path}[A-Za-z0-9_-]{{43}}", html.get_content())
    assert match is not None, f"no {path} link in the email"
    register_secret(match[0].rsplit("/", 1)[1])
    return urlsplit(match[0]).path


async def test_a_confirmed_follower_hears_the_milestone_and_one_click_stops_the_next(
    make_stack: StackFactory, samples: Samples, smtp: tuple[Inbox, int], quiet_test_client: None
) -> None:
    inbox, port = smtp
    stack = await make_stack(
        follow=FollowConfig(
            mail_url=f"mailto://127.0.0.1:{port}?from=track@example.com&mode=insecure",
            public_url=PUBLIC,
            rules=DestinationRules(allowlist=LOCAL),
        )
    )
    share = share_link(stack)
    register_secret(share)

    asked = await stack.http.post(f"/track/{share}/follow", data={"email": FOLLOWER})
    assert asked.status_code == 200 and "Check your inbox" in asked.text
    [confirmation] = await mail_to(inbox, FOLLOWER, 1)
    confirm = link_in(confirmation, "/follow/confirm/")
    assert (await stack.http.get(confirm)).status_code == 200
    assert (await stack.api(f"/shipments/{SHIPMENT}/subscriptions")).json()["subscriptions"] == []
    assert (await stack.http.post(confirm)).status_code == 200

    await stack.deliver(samples.body("06_leg_departed"))
    page = await stack.http.get(f"/track/{share}")
    assert page.status_code == 200 and f'action="/track/{share}/follow"' in page.text

    _, departed = await mail_to(inbox, FOLLOWER, 2)
    assert "Departed" in departed["Subject"]
    assert departed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe = link_in(departed, "/follow/unsubscribe/")
    assert departed["List-Unsubscribe"] == f"<{PUBLIC}{unsubscribe}>"
    text = departed.get_body(("plain",))
    assert text is not None and unsubscribe in text.get_content()

    one_click = await stack.http.post(
        unsubscribe,
        content=b"List-Unsubscribe=One-Click",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert one_click.status_code == 200
    assert (await stack.api(f"/shipments/{SHIPMENT}/subscriptions")).json()["subscriptions"] == []
    await stack.deliver(samples.body("09_leg_arrived"))
    assert len([m for m in inbox.messages() if m["To"] == FOLLOWER]) == 2
