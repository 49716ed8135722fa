"""The payload codec (M6) on a real Temporal dev server: with FLEXHOOK_PAYLOAD_KEYS set, an
event's body reaches Temporal's history as ciphertext (read here by a client without the
codec) while the event is processed as ever; operators read it back through the codec endpoint
(the Temporal CLI's `--codec-endpoint` included), viewers are refused, and only the Temporal
UI's origin may call it from a browser."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import secrets
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack
from datetime import timedelta
from typing import Any

import httpx
import pytest
from temporalio.client import Client, WorkflowFailureError

from activities.digest import DigestSender
from app.bootstrap import wire_activities
from app.core.access import Role
from app.core.ids import event_workflow_id
from app.ingest.starter import EventStarter
from app.payload_codec import ENCODING, KEY_ID, PayloadKeys
from app.temporal_client import connect
from app.web.application import create_app
from app.web.config import WebConfig
from notifications.destinations import NotifyConfig
from notifications.notifier import Notifier
from notifications.render import Renderer
from tests.integration.harness import Samples, Stack, StackFactory, serve_app, temporal_binary
from tests.integration.test_authorization import make_token
from workflows.worker import ACTIVITY_THREADS, build_worker

pytestmark = pytest.mark.integration

KEYS: PayloadKeys = (("k2", os.urandom(32)), ("k1", os.urandom(32)))
UI = "http://127.0.0.1:8233"
NAME = "SS26 Apparel"  # a shipment name in the sample: party data that must not be in the clear


@pytest.fixture
async def exits() -> AsyncIterator[AsyncExitStack]:
    async with AsyncExitStack() as stack:
        yield stack


@pytest.fixture
async def encrypted(
    make_stack: StackFactory, temporal_client: Client, exits: AsyncExitStack
) -> tuple[Stack, Client, str]:
    """A stack whose web app, worker and codec endpoint all encrypt with `KEYS`, connected as
    every flexhook process connects (`app.temporal_client.connect`); with the encrypting client
    and the URL of a web app serving the codec endpoint. `Stack.client` has no codec."""
    client = await connect(
        address=temporal_client.service_client.config.target_host,
        namespace="default",
        payload_keys=KEYS,
    )
    stack = await make_stack(client=client, with_worker=False)
    activities = wire_activities(
        stack.engine,
        client=client,
        task_queue=stack.task_queue,
        notifier=Notifier(Renderer(), public_url="http://flexhook.test", timeout=10),
        config=NotifyConfig(None),
        digests=DigestSender(Renderer()),
    )
    executor = exits.enter_context(ThreadPoolExecutor(ACTIVITY_THREADS))
    worker = build_worker(
        client, task_queue=stack.task_queue, activities=activities, executor=executor
    )
    await exits.enter_async_context(worker)

    async def starter() -> EventStarter:
        return EventStarter(client, task_queue=stack.task_queue, rpc_timeout=timedelta(seconds=5))

    codec_app = create_app(
        config=WebConfig(
            webhook_secrets=(stack.secret,),
            api_token=secrets.token_urlsafe(24),
            temporal_ui_url=UI,
            payload_keys=KEYS,
        ),
        engine=stack.engine,
        starter_factory=starter,
    )
    return stack, client, await serve_app(codec_app, exits)


async def test_the_history_holds_ciphertext_and_the_event_is_processed(
    encrypted: tuple[Stack, Client, str], samples: Samples
) -> None:
    stack, client, _ = encrypted
    body = samples.body("06_leg_departed")
    assert NAME.encode() in body

    response = await stack.post(body)
    event_id = response.json()["event_id"]
    await client.get_workflow_handle(event_workflow_id(event_id)).result()

    assert (await stack.api(f"/events/{event_id}")).json()["status"] == "processed"
    assert (await stack.api("/shipments/418563")).json()["name"].startswith(NAME)
    # Read by the test's plain client: no codec.
    history = await stack.client.get_workflow_handle(event_workflow_id(event_id)).fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    [payload] = started.input.payloads
    assert payload.metadata["encoding"] == ENCODING
    assert payload.metadata[KEY_ID] == b"k2"
    assert NAME.encode() not in payload.data and event_id.encode() not in payload.data
    for event in history.events:  # no payload anywhere in the history is in the clear
        assert NAME.encode() not in event.SerializeToString()


async def test_a_failure_message_in_the_history_is_ciphertext_and_plain_in_the_log(
    encrypted: tuple[Stack, Client, str], samples: Samples
) -> None:
    stack, client, _ = encrypted
    bad = samples.body("09_leg_arrived", occurred_at="the day before yesterday")
    event_id = (await stack.post(bad)).json()["event_id"]
    with pytest.raises(WorkflowFailureError) as failed:
        await client.get_workflow_handle(event_workflow_id(event_id)).result()

    assert "the day before yesterday" in str(failed.value.cause)  # decoded for flexhook
    assert "the day before yesterday" in (await stack.api(f"/events/{event_id}")).json()["error"]
    history = await stack.client.get_workflow_handle(event_workflow_id(event_id)).fetch_history()
    closed = history.events[-1].workflow_execution_failed_event_attributes.failure
    assert closed.message == "Encoded failure"
    assert closed.encoded_attributes.metadata["encoding"] == ENCODING
    for event in history.events:
        assert b"the day before yesterday" not in event.SerializeToString()


async def test_operators_decode_through_the_endpoint_and_the_temporal_cli(
    encrypted: tuple[Stack, Client, str], samples: Samples
) -> None:
    stack, client, codec_url = encrypted
    event_id = (await stack.post(samples.body("06_leg_departed"))).json()["event_id"]
    workflow_id = event_workflow_id(event_id)
    await client.get_workflow_handle(workflow_id).result()
    history = await stack.client.get_workflow_handle(workflow_id).fetch_history()
    request = sealed_request(history.events[0])
    operator = make_token(stack, "codec-operator", Role.OPERATOR)
    viewer = make_token(stack, "codec-viewer", Role.VIEWER)

    async with httpx.AsyncClient(base_url=codec_url, timeout=30) as http:
        decoded = await http.post(
            "/api/codec/decode",
            json=request,
            headers={"authorization": f"Bearer {operator}", "x-namespace": "default"},
        )
        refused = await http.post(
            "/api/codec/decode", json=request, headers={"authorization": f"Bearer {viewer}"}
        )

    assert decoded.status_code == 200, decoded.text
    [plain] = decoded.json()["payloads"]
    assert base64.b64decode(plain["metadata"]["encoding"]) == b"json/plain"
    assert json.loads(base64.b64decode(plain["data"]))["event_id"] == event_id
    assert refused.status_code == 403
    assert NAME not in refused.text
    shown = await asyncio.create_subprocess_exec(
        temporal_binary(),
        *("workflow", "show", "-w", workflow_id, "-o", "json"),
        *("--address", stack.client.service_client.config.target_host),
        *("--codec-endpoint", f"{codec_url}/api/codec", "--codec-auth", f"Bearer {operator}"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await shown.communicate()
    assert shown.returncode == 0, err.decode()
    started = json.loads(out)["events"][0]["workflowExecutionStartedEventAttributes"]
    [shown_input] = started["input"]["payloads"]
    assert base64.b64decode(shown_input["metadata"]["encoding"]) == b"json/plain"
    assert NAME in base64.b64decode(shown_input["data"]).decode()


def sealed_request(history_event: Any) -> dict[str, Any]:
    """A codec request for the run input in `history_event` (its started event)."""
    [sealed] = history_event.workflow_execution_started_event_attributes.input.payloads
    return {
        "payloads": [
            {
                "metadata": {k: base64.b64encode(v).decode() for k, v in sealed.metadata.items()},
                "data": base64.b64encode(sealed.data).decode(),
            }
        ]
    }


async def test_operators_signed_in_to_the_dashboard_decode_for_the_temporal_ui(
    encrypted: tuple[Stack, Client, str], samples: Samples
) -> None:
    stack, client, codec_url = encrypted
    event_id = (await stack.post(samples.body("06_leg_departed"))).json()["event_id"]
    workflow_id = event_workflow_id(event_id)
    await client.get_workflow_handle(workflow_id).result()
    history = await stack.client.get_workflow_handle(workflow_id).fetch_history()
    request = sealed_request(history.events[0])
    from_ui = {"origin": UI, "x-namespace": "default"}
    answers = {}
    for role in (Role.OPERATOR, Role.VIEWER):
        token = make_token(stack, f"ui-{role}", role)
        async with httpx.AsyncClient(base_url=codec_url, timeout=30) as browser:
            signed_in = await browser.post("/dashboard/sign-in", data={"token": token})
            assert signed_in.status_code == 303, signed_in.text
            answers[role] = await browser.post(
                "/dashboard/codec/decode", json=request, headers=from_ui
            )
            if role == Role.OPERATOR:
                no_namespace = await browser.post("/dashboard/codec/decode", json=request)
                assert no_namespace.status_code == 400

    decoded = answers[Role.OPERATOR]
    assert decoded.status_code == 200, decoded.text
    assert decoded.headers["access-control-allow-origin"] == UI
    assert decoded.headers["access-control-allow-credentials"] == "true"
    [plain] = decoded.json()["payloads"]
    assert NAME in base64.b64decode(plain["data"]).decode()
    assert answers[Role.VIEWER].status_code == 403
    assert NAME not in answers[Role.VIEWER].text


@pytest.mark.parametrize(("origin", "allowed"), [(UI, True), ("http://evil.test", False)])
async def test_only_the_temporal_ui_origin_may_call_it_from_a_browser(
    encrypted: tuple[Stack, Client, str], origin: str, allowed: bool
) -> None:
    _, _, codec_url = encrypted
    preflight_headers = {
        "origin": origin,
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type,x-namespace",
    }

    async with httpx.AsyncClient(base_url=codec_url, timeout=30) as http:
        preflight = await http.options("/api/codec/decode", headers=preflight_headers)
        other_path = await http.options("/api/events", headers=preflight_headers)

    answered: dict[str, Any] = dict(preflight.headers)
    assert (preflight.status_code == 200) is allowed
    assert (answered.get("access-control-allow-origin") == UI) is allowed
    assert "access-control-allow-origin" not in other_path.headers
