"""The web process: `POST /webhooks/flexport`, the read API under `/api`, and health checks.

A thin adapter over the pure core: read raw bytes, verify, parse, start the workflow, answer.
Errors of every layer map to HTTP status codes in one table, `ERROR_STATUS`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote_plus

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from app.core.events import MalformedEvent, parse_event
from app.core.ids import event_workflow_id
from app.core.signature import SignatureError, verify
from app.dashboard.routes import dashboard_routes
from app.ingest import redrive as replay
from app.ingest.relay import SpoolRelay, TemporalBreaker
from app.ingest.starter import (
    EventRejected,
    EventStarter,
    EventTooLarge,
    TemporalUnavailable,
    ensure_fits,
)
from app.store import db, spool, subscriptions
from app.store import reads as queries
from app.store.filters import EventFilter
from app.store.subscriptions import InvalidSubscription
from app.web.metrics import CONTENT_TYPE, WebMetrics

log = logging.getLogger("flexhook.web")


class RequestError(Exception):
    """A delivery we refuse before it reaches the core."""


class BodyTooLarge(RequestError):
    pass


class UnsupportedEncoding(RequestError):
    pass


class BadRequest(RequestError):
    pass


class Unavailable(Exception):
    """Neither Temporal nor the database took the event: Flexport must deliver it again."""


# One place where every refusal becomes a status code and a stable error name.
ERROR_STATUS: dict[type[Exception], tuple[int, str]] = {
    SignatureError: (401, "invalid_signature"),
    MalformedEvent: (400, "malformed_event"),
    BadRequest: (400, "bad_request"),
    InvalidSubscription: (400, "invalid_subscription"),
    BodyTooLarge: (413, "body_too_large"),
    UnsupportedEncoding: (415, "unsupported_encoding"),
    EventTooLarge: (413, "body_too_large"),
    EventRejected: (422, "rejected_by_temporal"),
    TemporalUnavailable: (503, "temporal_unavailable"),
    Unavailable: (503, "unavailable"),
}


WEBHOOK_PATH = "/webhooks/flexport"


@dataclass(frozen=True)
class WebConfig:
    webhook_secrets: tuple[str, ...]
    api_token: str
    max_body_bytes: int = 1024 * 1024
    accept_sha1: bool = False
    relay_idle_seconds: float = 1.0
    temporal_ui_url: str = ""
    namespace: str = "default"


def _error(status: int, error: str, detail: str) -> JSONResponse:
    return JSONResponse({"error": error, "detail": detail}, status_code=status)


async def _handle_error(request: Request, exc: Exception) -> Response:
    status, name = next(ERROR_STATUS[cls] for cls in type(exc).__mro__ if cls in ERROR_STATUS)
    if request.url.path == WEBHOOK_PATH:
        request.app.state.metrics.refused.labels(error=name).inc()
    return _error(status, name, str(exc) or name)


async def _http_error(request: Request, exc: Exception) -> Response:
    """Routing's own refusals (404, 405) in the JSON shape of every other one; the dashboard
    keeps Starlette's plain text."""
    assert isinstance(exc, HTTPException)
    if request.url.path.startswith("/dashboard"):
        return PlainTextResponse(exc.detail, status_code=exc.status_code, headers=exc.headers)
    name = exc.detail.lower().replace(" ", "_")
    return JSONResponse(
        {"error": name, "detail": exc.detail}, status_code=exc.status_code, headers=exc.headers
    )


async def read_body(request: Request, *, limit: int) -> bytes:
    """The raw body, refusing more than `limit` bytes without reading them all into memory."""
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise UnsupportedEncoding(f"Content-Encoding {encoding!r} is not accepted; send plain JSON")
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            raise BadRequest("Content-Length is not a number")
        if int(declared) > limit:
            raise BodyTooLarge(f"body is larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"body is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


class NulGuardMiddleware:
    """A NUL character in the path or query is never meaningful, and PostgreSQL cannot compare
    text with one: refuse it before any handler sees it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (
            "\x00" in scope["path"]
            or "\x00" in unquote_plus(scope["query_string"].decode("latin-1"))
        ):
            await _error(400, "bad_request", "NUL characters are not allowed in URLs")(
                scope, receive, send
            )
            return
        await self.app(scope, receive, send)


class BearerTokenMiddleware:
    """Every request under it needs `Authorization: Bearer <token>` (compared in constant time)."""

    def __init__(self, app: ASGIApp, *, token: str) -> None:
        self.app = app
        self._token = token.encode("utf-8")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            header = Request(scope).headers.get("authorization", "")
            scheme, _, given = header.partition(" ")
            ok = scheme.lower() == "bearer" and hmac.compare_digest(
                given.strip().encode("utf-8", errors="replace"), self._token
            )
            if not ok:
                response = _error(401, "unauthorized", "a valid bearer token is required")
                response.headers["WWW-Authenticate"] = "Bearer"
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _is_number(value: str) -> bool:
    """ASCII digits only: `isdigit` alone admits ² and other digits `int` refuses."""
    return value.isascii() and value.isdigit()


def _int_param(request: Request, name: str) -> int | None:
    """A non-negative integer parameter; absurdly long ones count as huge (and get clamped)."""
    value = request.query_params.get(name)
    if value is None or value == "":
        return None
    if not _is_number(value):
        raise BadRequest(f"{name} must be a positive integer")
    return int(value) if len(value) <= 9 else 10**9


def create_app(
    *,
    config: WebConfig,
    engine: Engine,
    starter_factory: Callable[[], Awaitable[EventStarter]],
) -> Starlette:
    """The ASGI app. `starter_factory` runs once at start-up (it connects to Temporal)."""

    async def query(fn: Callable[..., Any], **kwargs: Any) -> Any:
        return await db.in_session(engine, fn, **kwargs)

    async def write(fn: Callable[..., Any], **kwargs: Any) -> Any:
        return await db.in_session(engine, fn, commit=True, **kwargs)

    async def receive_webhook(request: Request) -> Response:
        body = await read_body(request, limit=config.max_body_bytes)
        verify(body, request.headers, config.webhook_secrets, accept_sha1=config.accept_sha1)
        event = parse_event(body)
        started = time.perf_counter()
        text = body.decode("utf-8")
        ensure_fits(text)
        received_at = datetime.now(UTC)
        state = request.app.state
        workflow_id = event_workflow_id(event.event_id)
        fields = {
            "event_id": event.event_id,
            "workflow_id": workflow_id,
            "shipment_id": event.shipment_id,
        }
        status: str
        if not state.breaker.is_open:
            try:
                result = await state.starter.start(event, body=text, received_at=received_at)
                status = result.status
            except TemporalUnavailable as exc:
                state.breaker.trip()
                log.warning(
                    "event %s (%s): Temporal unavailable (%s), spooling",
                    event.event_id,
                    event.type,
                    exc,
                    extra=fields,
                )
        if state.breaker.is_open:
            try:
                status = await write(spool.enqueue, event=event, body=text, received_at=received_at)
            except SQLAlchemyError as exc:
                log.error(
                    "event %s not kept: the database is unavailable too",
                    event.event_id,
                    extra=fields,
                )
                raise Unavailable("Temporal and the database are unavailable; retry later") from exc
            state.relay.wake()
        state.metrics.received.labels(category=event.category, outcome=status).inc()
        state.metrics.ack_seconds.observe(time.perf_counter() - started)
        log.info("event %s (%s): %s", event.event_id, event.type, status, extra=fields)
        return JSONResponse(
            {"status": status, "event_id": event.event_id, "workflow_id": workflow_id}
        )

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        down: dict[str, str] = {}
        try:
            await run_in_threadpool(db.ping, engine)
        except Exception as exc:
            down["database"] = type(exc).__name__
        try:
            await request.app.state.starter.check()
        except TemporalUnavailable as exc:
            down["temporal"] = str(exc)
        try:
            spooled = (await query(spool.stats)).as_json(now=datetime.now(UTC))
        except Exception:
            spooled = None
        if down:
            return JSONResponse(
                {"status": "unavailable", "down": down, "spool": spooled}, status_code=503
            )
        return JSONResponse({"status": "ready", "spool": spooled})

    async def spool_stats(request: Request) -> Response:
        stats = await query(spool.stats)
        return JSONResponse(stats.as_json(now=datetime.now(UTC)))

    async def redrive(event_id: str) -> str | None:
        """Run a logged event again (`None` if there is no such event)."""
        found = await query(replay.candidates, where=EventFilter(event_id=event_id))
        if not found:
            return None
        status = await replay.replay(found[0], starter=app.state.starter)
        if found[0].status == "queued":
            await write(spool.forget, event_id=event_id)
        log.info(
            "event %s replayed by an operator: %s", event_id, status, extra={"event_id": event_id}
        )
        return status

    async def replay_event(request: Request) -> Response:
        event_id = request.path_params["event_id"]
        status = await redrive(event_id)
        if status is None:
            return _error(404, "not_found", "no such event")
        return JSONResponse(
            {"status": status, "event_id": event_id, "workflow_id": event_workflow_id(event_id)}
        )

    async def dashboard_replay(event_id: str) -> str:
        status = await redrive(event_id)
        if status is None:
            raise LookupError(f"no event {event_id}")
        return status

    async def shipments(request: Request) -> Response:
        rows = await query(
            queries.list_shipments,
            status=request.query_params.get("status"),
            limit=_int_param(request, "limit"),
        )
        return JSONResponse({"shipments": rows})

    async def shipment(request: Request) -> Response:
        found = await query(queries.get_shipment, shipment_id=request.path_params["id"])
        if found is None:
            return _error(404, "not_found", "no such shipment")
        return JSONResponse(found)

    async def events(request: Request) -> Response:
        params = request.query_params
        rows = await query(
            queries.list_events,
            where=EventFilter(
                status=params.get("status"),
                event_type=params.get("type"),
                shipment_id=params.get("shipment_id"),
            ),
            limit=_int_param(request, "limit"),
        )
        return JSONResponse({"events": rows})

    async def event(request: Request) -> Response:
        found = await query(queries.get_event, event_id=request.path_params["event_id"])
        if found is None:
            return _error(404, "not_found", "no such event")
        return JSONResponse(found)

    async def subscribers(request: Request) -> Response:
        shipment_id = request.path_params["id"]
        if request.method == "GET":
            found = await query(subscriptions.list_subscriptions, shipment_id=shipment_id)
            return JSONResponse({"subscribers": [subscriptions.as_json(s) for s in found]})
        try:
            body = await request.json()
        except (ValueError, RecursionError):
            raise BadRequest("body is not JSON") from None
        if not isinstance(body, dict) or not isinstance(body.get("url"), str):
            raise BadRequest('expected {"url": "<apprise url>", "kinds": [...]}')
        kinds = body.get("kinds")
        if kinds is not None and not (
            isinstance(kinds, list) and all(isinstance(k, str) for k in kinds)
        ):
            raise BadRequest("kinds must be a list of strings")

        def add(session: Session) -> dict[str, Any]:
            added = subscriptions.add_subscription(
                session,
                shipment_id=shipment_id,
                url=body["url"],
                kinds=kinds,
                now=datetime.now(UTC),
            )
            return subscriptions.as_json(added)

        created = await write(add)
        log.info("subscriber %s added to shipment %s", created["id"], shipment_id)
        return JSONResponse(created, status_code=201)

    async def subscriber(request: Request) -> Response:
        sid = request.path_params["sid"]
        if not _is_number(sid) or len(sid) > 18:
            return _error(404, "not_found", "no such subscriber")
        removed = await write(
            subscriptions.remove_subscription,
            shipment_id=request.path_params["id"],
            subscription_id=int(sid),
        )
        if not removed:
            return _error(404, "not_found", "no such subscriber")
        return Response(status_code=204)

    async def notifications(request: Request) -> Response:
        params = request.query_params
        rows = await query(
            queries.list_notifications,
            event_id=params.get("event_id"),
            shipment_id=params.get("shipment_id"),
            status=params.get("status"),
            limit=_int_param(request, "limit"),
        )
        return JSONResponse({"notifications": rows})

    async def record(request: Request) -> Response:
        kind = request.path_params["kind"]
        model = queries.RECORD_MODELS.get(kind)
        if model is None:
            return _error(404, "not_found", f"no such collection: {kind}")
        found = await query(queries.get_record, model=model, key=request.path_params["key"])
        if found is None:
            return _error(404, "not_found", f"no such record in {kind}")
        return JSONResponse(found)

    async def metrics(request: Request) -> Response:
        text = await run_in_threadpool(request.app.state.metrics.render)
        return Response(text, media_type=CONTENT_TYPE)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.metrics = WebMetrics(engine)
        app.state.starter = starter = await starter_factory()
        app.state.breaker = breaker = TemporalBreaker()
        app.state.relay = relay = SpoolRelay(
            engine, starter, breaker, idle=timedelta(seconds=config.relay_idle_seconds)
        )
        relay_task = asyncio.create_task(relay.run(), name="spool-relay")
        try:
            yield
        finally:
            relay_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await relay_task

    api = Mount(
        "/api",
        routes=[
            Route("/shipments", shipments),
            Route("/shipments/{id}", shipment),
            Route("/shipments/{id}/subscribers", subscribers, methods=["GET", "POST"]),
            Route("/shipments/{id}/subscribers/{sid}", subscriber, methods=["DELETE"]),
            Route("/notifications", notifications),
            Route("/events", events),
            Route("/events/{event_id}", event),
            Route("/events/{event_id}/replay", replay_event, methods=["POST"]),
            Route("/spool", spool_stats),
            Route("/{kind}/{key}", record),
        ],
        middleware=[Middleware(BearerTokenMiddleware, token=config.api_token)],
    )
    dashboard = Mount(
        "/dashboard",
        routes=dashboard_routes(
            engine=engine,
            api_token=config.api_token,
            temporal_ui_url=config.temporal_ui_url,
            namespace=config.namespace,
            replay=dashboard_replay,
        ),
    )
    app = Starlette(
        routes=[
            Route(WEBHOOK_PATH, receive_webhook, methods=["POST"]),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics),
            Route("/", lambda request: RedirectResponse("/dashboard/")),
            api,
            dashboard,
        ],
        middleware=[Middleware(NulGuardMiddleware)],
        exception_handlers={HTTPException: _http_error}
        | {cls: _handle_error for cls in ERROR_STATUS},
        lifespan=lifespan,
    )
    return app
