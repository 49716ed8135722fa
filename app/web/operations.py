"""The API's operations: each path's methods, with the role each needs and the shapes it takes
and answers. The route table (`app.web.application`) is built from these, the role is checked
here before the endpoint runs, and the OpenAPI document is generated from the same values.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.core.access import Role
from app.web.access import current_actor
from app.web.deprecation import deprecated
from app.web.errors import error_response

Endpoint = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class Operation:
    """One method of one path: who may call it, and what it is."""

    method: str
    endpoint: Endpoint
    role: Role
    summary: str
    # For the OpenAPI document: pydantic models (or None) of the query, the JSON body and each
    # answer by status code, and the operation's id for links between operations.
    query: type[Any] | None = None
    body: type[Any] | None = None
    responses: Mapping[int, type[Any] | None] = field(default_factory=dict)
    operation_id: str = ""
    deprecated: bool = False


def forbidden(needed: Role) -> Response:
    return error_response(403, "forbidden", f"this needs a token with the {needed} role")


class ApiRoute(Route):
    """A path whose methods are `Operation`s; a known token without the role gets 403."""

    def __init__(self, path: str, *operations: Operation) -> None:
        self.operations: dict[str, Operation] = {op.method: op for op in operations}

        async def dispatch(request: Request) -> Response:
            operation = self.operations[request.method if request.method != "HEAD" else "GET"]
            if not current_actor(request).may(operation.role):
                return forbidden(operation.role)
            return await operation.endpoint(request)

        super().__init__(path, dispatch, methods=list(self.operations))


def deprecated_operation(
    current: Operation,
    successor: str,
    *,
    operation_id: str,
    under_key: tuple[str, type[Any]] | None = None,
) -> Operation:
    """`current` under the path it had before (`app.web.deprecation`), answering as it always
    did: a list under its old key (`under_key`: the key and its answer model)."""
    endpoint, responses = current.endpoint, current.responses
    if under_key is not None:
        key, model = under_key
        keyed: Callable[..., Awaitable[Response]] = endpoint  # the list endpoints take `key`
        endpoint, responses = partial(keyed, key=key), {**responses, 200: model}
    return replace(
        current,
        endpoint=deprecated(endpoint, successor=successor),
        summary=f"{current.summary} (deprecated path)",
        responses=responses,
        operation_id=operation_id,
        deprecated=True,
    )
