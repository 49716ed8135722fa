"""Old names of endpoints, kept working: each answers as it always did, plus the headers that
say it is deprecated and which path replaces it (RFC 8594's `Deprecation`, a `successor-version`
link)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

Endpoint = Callable[[Request], Awaitable[Response]]


def deprecated(endpoint: Endpoint, *, successor: str) -> Endpoint:
    """`endpoint` under an old path; `successor` is the new path (with `{name}` placeholders
    filled from the request's path parameters)."""

    async def old_name(request: Request) -> Response:
        response = await endpoint(request)
        response.headers["Deprecation"] = "true"
        response.headers["Link"] = (
            f'<{successor.format(**request.path_params)}>; rel="successor-version"'
        )
        return response

    return old_name
