"""Old names of endpoints, kept working: each answers as it always did, plus the headers that
say it is deprecated and which path replaces it (RFC 8594's `Deprecation`, a `successor-version`
link)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from app.web.errors import ERROR_STATUS, handle_error

Endpoint = Callable[[Request], Awaitable[Response]]


def deprecated(endpoint: Endpoint, *, successor: str) -> Endpoint:
    """`endpoint` under an old path; `successor` is the new path (with `{name}` placeholders
    filled from the request's path parameters)."""

    async def old_name(request: Request) -> Response:
        try:
            response = await endpoint(request)
        except tuple(ERROR_STATUS) as exc:  # its refusal says it is deprecated too
            response = await handle_error(request, exc)
        response.headers["Deprecation"] = "true"
        # Percent-encoded: a path parameter may hold anything, a header value may not.
        params = {name: quote(str(value), safe="") for name, value in request.path_params.items()}
        response.headers["Link"] = f'<{successor.format(**params)}>; rel="successor-version"'
        return response

    return old_name
