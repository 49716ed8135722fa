"""The address guard at send time, through the whole pipeline (issue 17, H2): a configured
destination whose host is internal and not allowed is a failed delivery, at once and for good,
with a reason that says which setting allows it; a guarded destination follows no redirect."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from app.core.addresses import NOTHING_INTERNAL
from app.core.privacy import VIEWER_ERROR
from tests.helpers import eventually
from tests.integration.harness import JsonEndpoint, Samples, StackFactory, ledger, write_config

pytestmark = pytest.mark.integration


@pytest.fixture
def redirecting(json_server: JsonEndpoint) -> Iterator[int]:
    """A server that answers every POST with 307 to `json_server` (which would keep it)."""
    target = f"http://127.0.0.1:{json_server.port}/redirected"

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            self.send_response(307)
            self.send_header("Location", target)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


async def test_a_configured_internal_destination_fails_at_once_and_is_not_retried(
    make_stack: StackFactory, samples: Samples, json_server: JsonEndpoint, tmp_path: Path
) -> None:
    url = f"json://127.0.0.1:{json_server.port}/admin/purge?method=DELETE"
    config = write_config(tmp_path / "notifications.yml", (url, "departed"))
    stack = await make_stack(notify_config=config, destination_allow=NOTHING_INTERNAL)

    answer = await stack.deliver(samples.body("06_leg_departed"))

    async def failed() -> dict[str, Any]:
        [row] = await ledger(stack, event_id=answer["event_id"])
        assert row["status"] == "failed"
        return row

    row = await eventually(failed, what="the refused send to be failed")
    assert row["attempts"] == 1  # permanent: Temporal does not retry it
    assert "FLEXHOOK_DESTINATION_ALLOW" in row["last_error"]
    assert json_server.posts == []  # nothing reached the "internal admin API"


async def test_the_ledger_shows_viewers_only_that_delivery_failed(
    make_stack: StackFactory, samples: Samples, json_server: JsonEndpoint, tmp_path: Path
) -> None:
    config = write_config(
        tmp_path / "notifications.yml", (f"json://127.0.0.1:{json_server.port}/x", "departed")
    )
    stack = await make_stack(notify_config=config, destination_allow=NOTHING_INTERNAL)
    answer = await stack.deliver(samples.body("06_leg_departed"))
    await eventually(
        lambda: _failed(stack.http, stack.api_token, answer["event_id"]), what="a failed row"
    )
    viewer = await _viewer_token(stack)

    seen = await stack.http.get(
        "/api/notifications",
        params={"event_id": answer["event_id"]},
        headers={"authorization": f"Bearer {viewer}"},
    )

    assert seen.status_code == 200, seen.text
    assert [row["last_error"] for row in seen.json()["notifications"]] == [VIEWER_ERROR]


async def _failed(http: Any, token: str, event_id: str) -> bool:
    answer = await http.get(
        "/api/notifications",
        params={"event_id": event_id},
        headers={"authorization": f"Bearer {token}"},
    )
    return [row["status"] for row in answer.json()["notifications"]] == ["failed"]


async def _viewer_token(stack: Any) -> str:
    created = await stack.http.post(
        "/api/tokens",
        json={"name": "vic", "role": "viewer"},
        headers={"authorization": f"Bearer {stack.api_token}"},
    )
    assert created.status_code == 201, created.text
    token: str = created.json()["token"]
    return token


async def test_a_guarded_destination_follows_no_redirect(
    make_stack: StackFactory,
    samples: Samples,
    json_server: JsonEndpoint,
    redirecting: int,
    tmp_path: Path,
) -> None:
    """A host allowed (or public) could otherwise send the worker on to one that is not."""
    config = write_config(
        tmp_path / "notifications.yml", (f"json://127.0.0.1:{redirecting}/hook", "departed")
    )
    stack = await make_stack(notify_config=config, give_up_after=timedelta(0))

    answer = await stack.deliver(samples.body("06_leg_departed"))

    async def settled() -> dict[str, Any]:
        [row] = await ledger(stack, event_id=answer["event_id"])
        assert row["status"] in {"failed", "pending"} and row["last_error"]
        return row

    await eventually(settled, what="the redirected send to fail")
    assert json_server.posts == []  # the redirect's target never heard from the worker
