"""`POST /webhooks/flexport`: read the raw body, verify, parse, hand it to the intake, answer."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime

from opentelemetry import trace
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from app.core.events import parse_event
from app.core.ids import event_workflow_id
from app.core.signature import verify
from app.core.trace_attributes import event_attributes
from app.ingest.intake import log_fields
from app.web.errors import BadRequest, BodyTimeout, BodyTooLarge, UnsupportedEncoding, refusal
from app.web.state import WebState, web_state

log = logging.getLogger("flexhook.web")

WEBHOOK_PATH = "/webhooks/flexport"


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


async def read_body_within(request: Request, *, limit: int, seconds: float) -> bytes:
    """`read_body`, given up after `seconds` (`BodyTimeout`): a client that trickles its body
    holds a connection and a buffer no longer than that."""
    try:
        async with asyncio.timeout(seconds):
            return await read_body(request, limit=limit)
    except TimeoutError:
        raise BodyTimeout(f"the body did not arrive within {seconds:g} s") from None


async def receive_webhook(request: Request) -> Response:
    """Answer a delivery: 200 with the start status, or a refusal counted by its error name."""
    web = web_state(request)
    try:
        return await _receive(request, web)
    except Exception as exc:
        refused = refusal(exc)
        if refused is not None:
            web.metrics.refused.labels(error=refused[1]).inc()
        raise


async def _receive(request: Request, web: WebState) -> Response:
    config = web.config
    body = await read_body_within(
        request, limit=config.max_body_bytes, seconds=config.body_read_timeout.total_seconds()
    )
    verify(body, request.headers, config.webhook_secrets, accept_sha1=config.accept_sha1)
    event = parse_event(body)
    trace.get_current_span().set_attributes(
        event_attributes(
            event_id=event.event_id, event_type=event.type, shipment_id=event.shipment_id
        )
    )
    started = time.perf_counter()
    status = await web.intake.take(event, body=body.decode("utf-8"), received_at=datetime.now(UTC))
    web.metrics.received.labels(category=event.category, outcome=status).inc()
    web.metrics.ack_seconds.observe(time.perf_counter() - started)
    log.info("event %s (%s): %s", event.event_id, event.type, status, extra=log_fields(event))
    workflow_id = event_workflow_id(event.event_id)
    return JSONResponse({"status": status, "event_id": event.event_id, "workflow_id": workflow_id})
