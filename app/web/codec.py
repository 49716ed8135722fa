"""`POST /api/codec/decode` and `POST /api/codec/encode`: flexhook's payload codec
(`app.payload_codec`) as a codec server, for the Temporal UI and CLI
(`temporal workflow show --codec-endpoint <public URL>/api/codec --codec-auth 'Bearer <token>'`).

Operators only: decoding shows every event body Temporal holds. The Temporal UI calls it from
its own origin (`FLEXHOOK_TEMPORAL_UI_URL`), which `CodecCors` lets through and no other; the
dashboard's variant (`app.dashboard.codec`) takes a signed-in operator's session instead.
"""

from __future__ import annotations

import json
from typing import Annotated, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import Field
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from app.payload_codec import (
    MAX_CODEC_BODY,
    MalformedPayloads,
    PayloadDecryptError,
    PayloadsTooLarge,
    convert,
    read_limited,
)
from app.web.answers import Answer
from app.web.errors import BadRequest, BodyTooLarge, error_response, not_found
from app.web.schemas import Body, body_as
from app.web.state import web_state

CODEC_PATH = "/api/codec"
# What the Temporal UI and CLI send (`authorization` when the UI passes its access token).
CODEC_HEADERS = ["content-type", "x-namespace", "authorization"]


# Standard base64 with its padding, as proto3 JSON writes bytes.
Base64 = Annotated[
    str, Field(pattern=r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$")
]


class PayloadJson(Answer):
    """One `temporal.api.common.v1.Payload` in proto3 JSON: bytes as base64."""

    metadata: dict[str, Base64] = Field(
        default_factory=dict, examples=[{"encoding": "YmluYXJ5L2VuY3J5cHRlZA=="}]
    )
    data: Base64 = ""


class PayloadBody(Body):
    """One payload of a codec request."""

    metadata: dict[str, Base64] = Field(default_factory=dict)
    data: Base64 = ""


class CodecBody(Body):
    """Temporal's `Payloads` in proto3 JSON."""

    SHAPE: ClassVar[str] = '{"payloads": [{"metadata": {...}, "data": "<base64>"}]}'
    payloads: list[PayloadBody]


class CodecPayloads(Answer):
    payloads: list[PayloadJson]


async def convert_payloads(request: Request) -> Response:
    """`decode`: decrypt payloads (ones that are not encrypted come back as they were);
    `encode`: encrypt them as the workers do, with the first of FLEXHOOK_PAYLOAD_KEYS."""
    direction = request.path_params["direction"]
    if direction not in ("decode", "encode"):
        return not_found("the codec endpoint ends in /decode or /encode")
    return await _convert(request, direction)


async def _convert(request: Request, direction: Literal["encode", "decode"]) -> Response:
    length = request.headers.get("content-length", "")
    if length.isascii() and length.isdigit() and int(length) > MAX_CODEC_BODY:
        raise BodyTooLarge(f"at most {MAX_CODEC_BODY} bytes")
    try:
        body = await read_limited(request.stream())
        _checked(body)
        answer = await convert(web_state(request).codec, body, direction=direction)
    except PayloadsTooLarge as exc:
        raise BodyTooLarge(str(exc)) from None
    except MalformedPayloads as exc:
        raise BadRequest(str(exc)) from None
    except PayloadDecryptError as exc:
        return error_response(422, "undecodable_payload", str(exc))
    return JSONResponse(answer)


def _checked(body: bytes) -> None:
    """`BadRequest` unless `body` is a `CodecBody`."""
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):
        raise BadRequest("body is not JSON") from None
    body_as(CodecBody, parsed)


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
