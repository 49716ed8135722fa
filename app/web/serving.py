"""How `flexhook web` serves its two apps with uvicorn on one event loop: the public listener,
with its guards against slow and numerous clients, and the metrics listener beside it.

The public listener caps its connections (`limit_concurrency`: past it, a request is answered
503 and its connection closed), drops idle keep-alive connections, and trusts `X-Forwarded-*`
only from the proxies named. The webhook's own body deadline is `WebConfig.body_read_timeout`.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import uvicorn
from starlette.applications import Starlette
from uvicorn.config import STARTUP_FAILURE

from app.web.application import WebApps

# Idle keep-alive connections are closed after this long (uvicorn's default, said here).
KEEP_ALIVE_SECONDS = 5
# Prometheus and a person or two: the metrics listener needs few connections.
METRICS_MAX_CONNECTIONS = 16


@dataclass(frozen=True)
class Listeners:
    """Where and how the web process listens."""

    host: str
    port: int
    metrics_host: str
    metrics_port: int
    max_connections: int = 512
    forwarded_allow_ips: str | None = None  # None: uvicorn's FORWARDED_ALLOW_IPS or 127.0.0.1


def public_config(app: Starlette, listeners: Listeners) -> uvicorn.Config:
    """The public listener: the webhook, the API, the dashboard, `/healthz` and `/readyz`."""
    return uvicorn.Config(
        app,
        host=listeners.host,
        port=listeners.port,
        log_level="warning",
        access_log=False,
        lifespan="on",
        limit_concurrency=listeners.max_connections,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        forwarded_allow_ips=listeners.forwarded_allow_ips,
    )


def metrics_config(app: Starlette, listeners: Listeners) -> uvicorn.Config:
    """The metrics listener: `GET /metrics` alone, on its own (internal) address."""
    return uvicorn.Config(
        app,
        host=listeners.metrics_host,
        port=listeners.metrics_port,
        log_level="warning",
        access_log=False,
        lifespan="off",
        limit_concurrency=METRICS_MAX_CONNECTIONS,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
    )


class CompanionServer(uvicorn.Server):
    """A server that leaves the signals to the main one and is stopped with it."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class ListenerUnavailable(Exception):
    """A listener's address cannot be bound: taken, or not one of this host's."""


def bind(host: str, port: int) -> socket.socket:
    """A socket bound to `host:port`, as uvicorn binds its own (`ListenerUnavailable`)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except OSError as exc:
        raise ListenerUnavailable(f"{host}:{port}: {exc}") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise ListenerUnavailable(f"{host}:{port}: {exc.strerror or exc}") from None
    return sock


async def serve(
    public: uvicorn.Config, metrics: uvicorn.Config, *, metrics_socket: socket.socket
) -> bool:
    """Serve both listeners until a stop signal (the public server's) or until either stops;
    whether both had started."""
    servers = [uvicorn.Server(public), CompanionServer(metrics)]
    tasks = [
        asyncio.create_task(servers[0].serve()),
        asyncio.create_task(servers[1].serve(sockets=[metrics_socket])),
    ]
    await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for server in servers:
        server.should_exit = True
    await asyncio.gather(*tasks)
    return all(server.started for server in servers)


def run(apps: WebApps, listeners: Listeners) -> None:
    """`serve` on the event loop uvicorn would choose (uvloop where installed). The metrics
    address is bound first (`ListenerUnavailable`); the process exits as `uvicorn.run` does
    (status 3) when the public listener could not start."""
    public = public_config(apps.public, listeners)
    metrics = metrics_config(apps.metrics, listeners)
    with (
        bind(listeners.metrics_host, listeners.metrics_port) as metrics_socket,
        asyncio.Runner(loop_factory=public.get_loop_factory()) as runner,
    ):
        started = runner.run(serve(public, metrics, metrics_socket=metrics_socket))
    if not started:
        sys.exit(STARTUP_FAILURE)
