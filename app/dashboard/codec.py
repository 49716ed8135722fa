"""`POST /dashboard/codec/decode` and `/dashboard/codec/encode`: the payload codec
(`app.payload_codec`) for the Temporal UI, for people signed in to the dashboard as operators.

The UI sends the dashboard's session cookie when it includes cross-origin credentials (same
site: `flexhook dev` serves both on one host). The same protocol as `/api/codec`, which takes
a bearer token instead. A request must carry `X-Namespace`, as the UI's always does: a custom
header makes every browser ask first (CORS preflight), and only the UI's origin is answered.
"""

from __future__ import annotations

from typing import Literal

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from app.dashboard.access import Visitor
from app.dashboard.state import state_of
from app.payload_codec import (
    MalformedPayloads,
    PayloadDecryptError,
    PayloadsTooLarge,
    convert,
    read_limited,
)


async def decode(request: Request, visitor: Visitor) -> Response:
    """Decrypt payloads for the Temporal UI; ones not encrypted come back as they were."""
    return await _convert(request, "decode")


async def encode(request: Request, visitor: Visitor) -> Response:
    """Encrypt payloads as the workers do."""
    return await _convert(request, "encode")


def _refusal(status: int, error: str, detail: str) -> Response:
    return JSONResponse({"error": error, "detail": detail}, status_code=status)


async def _convert(request: Request, direction: Literal["encode", "decode"]) -> Response:
    if "x-namespace" not in request.headers:
        return _refusal(400, "bad_request", "the X-Namespace header is missing")
    try:
        body = await read_limited(request.stream())
        answer = await convert(state_of(request).codec, body, direction=direction)
    except PayloadsTooLarge as exc:
        return _refusal(413, "body_too_large", str(exc))
    except MalformedPayloads as exc:
        return _refusal(400, "bad_request", str(exc))
    except PayloadDecryptError as exc:
        return _refusal(422, "undecodable_payload", str(exc))
    return JSONResponse(answer)
