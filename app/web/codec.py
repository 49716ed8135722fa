"""`POST /api/codec/encode` and `POST /api/codec/decode`: flexhook's payload codec
(`app.payload_codec`) as a codec server, for the Temporal UI and CLI
(`temporal workflow show --codec-endpoint <public URL>/api/codec --codec-auth 'Bearer <token>'`).

Operators only: decoding shows every event body Temporal holds. The Temporal UI calls it from
its own origin (`FLEXHOOK_TEMPORAL_UI_URL`), which `CodecCors` lets through and no other.
"""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from app.payload_codec import MalformedPayloads, PayloadDecryptError, convert
from app.web.answers import Answer
from app.web.errors import BadRequest, BodyTooLarge, error_response
from app.web.schemas import Body
from app.web.state import web_state

CODEC_PATH = "/api/codec"
# Temporal keeps payloads under 2 MB each; a history view asks for a few at a time.
MAX_CODEC_BODY = 8 * 1024 * 1024
# What the Temporal UI and CLI send (`authorization` when the UI passes its access token).
CODEC_HEADERS = ["content-type", "x-namespace", "authorization"]


class PayloadJson(Answer):
    """One `temporal.api.common.v1.Payload` in proto3 JSON: bytes as base64."""

    metadata: dict[str, str] = Field(
        default_factory=dict, examples=[{"encoding": "YmluYXJ5L2VuY3J5cHRlZA=="}]
    )
    data: str = Field(default="", description="base64")


class CodecBody(Body):
    """Temporal's `Payloads` in proto3 JSON."""

    payloads: list[dict[str, Any]]


class CodecPayloads(Answer):
    payloads: list[PayloadJson]


async def encode(request: Request) -> Response:
    """Encrypt payloads as the workers do (with the first of FLEXHOOK_PAYLOAD_KEYS)."""
    return await _convert(request, "encode")


async def decode(request: Request) -> Response:
    """Decrypt payloads; ones that are not encrypted come back as they were."""
    return await _convert(request, "decode")


async def _convert(request: Request, direction: Literal["encode", "decode"]) -> Response:
    body = await read_limited(request, limit=MAX_CODEC_BODY)
    try:
        answer = await convert(web_state(request).codec, body, direction=direction)
    except MalformedPayloads as exc:
        raise BadRequest(str(exc)) from None
    except PayloadDecryptError as exc:
        return error_response(422, "undecodable_payload", str(exc))
    return JSONResponse(answer)


async def read_limited(request: Request, *, limit: int) -> bytes:
    """The request body, refused with `BodyTooLarge` past `limit` bytes."""
    length = request.headers.get("content-length", "")
    if length.isascii() and length.isdigit() and int(length) > limit:
        raise BodyTooLarge(f"at most {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"at most {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def origin(url: str) -> str | None:
    """`scheme://host[:port]` of `url`, or None when it names none."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}"


class CodecCors:
    """CORS for the codec paths only, for the Temporal UI's origin only: its preflight is
    answered before authentication, and the answers may be read by it (with credentials, for
    the dashboard variant's session cookie). Every other path is passed on untouched."""

    def __init__(self, app: ASGIApp, *, ui_url: str, paths: tuple[str, ...]) -> None:
        self._app = app
        self._paths = paths
        allowed = origin(ui_url)
        self._cors: ASGIApp | None = None
        if allowed is not None:
            self._cors = CORSMiddleware(
                app,
                allow_origins=[allowed],
                allow_methods=["POST"],
                allow_headers=CODEC_HEADERS,
                allow_credentials=True,
                max_age=600,
            )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if self._cors is not None and path.startswith(self._paths):
            await self._cors(scope, receive, send)
            return
        await self._app(scope, receive, send)
