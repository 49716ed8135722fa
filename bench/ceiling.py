"""The ceiling: a bare Starlette endpoint that only verifies the HMAC, served as flexhook web is."""

from __future__ import annotations

import argparse
import os

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.core.signature import SignatureError, verify


def create_app(secrets: tuple[str, ...]) -> Starlette:
    async def receive(request: Request) -> Response:
        body = await request.body()
        try:
            verify(body, request.headers, secrets)
        except SignatureError as exc:
            return JSONResponse({"error": "invalid_signature", "detail": str(exc)}, status_code=401)
        return JSONResponse({"status": "ok"})

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/webhooks/flexport", receive, methods=["POST"]),
            Route("/healthz", healthz),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100)
    args = parser.parse_args()
    secrets = tuple(s for s in os.environ["FLEXPORT_WEBHOOK_SECRET"].split(",") if s)
    # The same uvicorn call as `flexhook web`: uvicorn picks httptools and uvloop when installed.
    uvicorn.run(
        create_app(secrets), host=args.host, port=args.port, log_level="warning", access_log=False
    )


if __name__ == "__main__":
    main()
