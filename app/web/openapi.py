"""The OpenAPI 3.1 document of the API under `/api`, generated from the route table.

Each `ApiRoute` operation gives its method, role, summary and the models of its query, body and
answers (`app.web.schemas`); this module adds what every operation shares (the bearer scheme,
the refusals of authentication and routing) and the links between operations that clients, and
schemathesis's stateful tests, follow. `GET /api/openapi.json` serves the document of
`app.web.api_routes.API_ROUTES`; `python -m app.web.openapi > docs/openapi.json` writes the
committed copy.
"""

from __future__ import annotations

import functools
import inspect
import json
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from importlib.metadata import version
from typing import Any, Final

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode, models_json_schema
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from app.core.access import Role
from app.web.answers import CsvFile, ErrorBody, HtmlPage
from app.web.operations import ApiRoute, Operation
from app.web.schemas import PATH_PARAMETERS, SEGMENT

API_PREFIX: Final = "/api"
REF: Final = "#/components/schemas/{model}"
_PATH_NAME: Final = re.compile(r"{(\w+)(?::\w+)?}")

# What a refusal means, whichever operation answers it.
REASONS: Final[dict[int, str]] = {
    400: "A parameter or the body is not what the operation takes; `detail` says which.",
    401: "No valid bearer token: missing, unknown, expired or revoked.",
    403: "The token's role is below the one the operation needs.",
    404: "No such resource (or no route: a path parameter holding a slash).",
    409: "It exists already, or its state refuses the change (`detail` says why).",
    422: "Temporal refused the event.",
    429: "Too many refused tokens from this address: try again after `Retry-After` seconds.",
    503: "Temporal does not answer; nothing was started.",
}
_TEXT: Final = {"type": "string"}
HEADERS: Final[dict[str, dict[str, Any]]] = {
    "X-Request-ID": {"description": "The request's id, in the logs and the audit trail."},
    "WWW-Authenticate": {"description": "`Bearer`.", "required": True},
    "Retry-After": {
        "description": "Seconds until the address may try again.",
        "required": True,
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    },
    "Deprecation": {"description": "`true`: the path is deprecated (RFC 8594)."},
    "Link": {"description": 'The path that replaces it, `rel="successor-version"`.'},
    "Content-Disposition": {
        "description": '`attachment; filename="..."`: a file to save.',
        "required": True,
    },
}


@dataclass(frozen=True)
class Link:
    """An OpenAPI link: a `status` answer of operation `source` gives `target` its
    `parameters` (runtime expressions such as `$response.body#/id`, or constants)."""

    source: str
    status: int
    target: str
    parameters: Mapping[str, str]
    description: str


def _first(collection: str, name: str) -> str:
    return f"$response.body#/{collection}/0/{name}"


LINKS: Final[tuple[Link, ...]] = (
    Link("list_shipments", 200, "get_shipment", {"id": _first("shipments", "id")}, "The first"),
    Link(
        "list_shipments",
        200,
        "list_subscriptions",
        {"id": _first("shipments", "id")},
        "The first one's subscriptions",
    ),
    Link(
        "get_shipment",
        200,
        "get_record",
        {"kind": "containers", "key": _first("containers", "number")},
        "Its first container",
    ),
    Link(
        "get_shipment",
        200,
        "list_events",
        {"shipment_id": "$response.body#/id"},
        "Its events",
    ),
    Link(
        "get_shipment",
        200,
        "get_eta_history",
        {"id": "$response.body#/id"},
        "The history of its ETA",
    ),
    Link(
        "get_shipment",
        200,
        "add_subscription",
        {"id": "$response.body#/id"},
        "Subscribe to its alerts",
    ),
    Link("list_events", 200, "get_event", {"event_id": _first("events", "event_id")}, "The first"),
    Link("get_event", 200, "redrive_event", {"event_id": "$response.body#/event_id"}, "Redrive it"),
    Link(
        "get_event",
        200,
        "list_notifications",
        {"event_id": "$response.body#/event_id"},
        "Its alerts",
    ),
    Link(
        "redrive_event", 200, "get_event", {"event_id": "$response.body#/event_id"}, "Where it is"
    ),
    Link(
        "add_subscription",
        201,
        "remove_subscription",
        {"id": "$request.path.id", "sid": "$response.body#/id"},
        "Remove it",
    ),
    Link(
        "create_share",
        201,
        "revoke_share",
        {"id": "$request.path.id", "share_id": "$response.body#/id"},
        "Revoke it",
    ),
    Link(
        "create_share",
        201,
        "renew_share",
        {"id": "$request.path.id", "share_id": "$response.body#/id"},
        "Renew it",
    ),
    Link(
        "list_subscriptions",
        200,
        "remove_subscription",
        {"id": "$request.path.id", "sid": _first("subscriptions", "id")},
        "Remove the first",
    ),
    Link("add_recipient", 201, "remove_recipient", {"id": "$response.body#/id"}, "Remove it"),
    Link(
        "list_recipients",
        200,
        "remove_recipient",
        {"id": _first("recipients", "id")},
        "Remove the first",
    ),
    Link("create_token", 201, "revoke_token", {"name": "$response.body#/name"}, "Revoke it"),
    Link("list_exceptions", 200, "get_exception", {"id": _first("exceptions", "id")}, "The first"),
    *(
        Link("get_exception", 200, f"{action}_exception", {"id": "$response.body#/id"}, what)
        for action, what in (
            ("acknowledge", "Acknowledge it"),
            ("assign", "Assign it"),
            ("note", "Add a note"),
            ("snooze", "Snooze it"),
            ("resolve", "Resolve it"),
            ("reopen", "Reopen it"),
        )
    ),
    # The deprecated paths, as they always were.
    Link(
        "add_shipment_subscriber",
        201,
        "remove_shipment_subscriber",
        {"id": "$request.path.id", "sid": "$response.body#/id"},
        "Remove it",
    ),
    Link("add_subscriber", 201, "remove_subscriber", {"id": "$response.body#/id"}, "Remove it"),
    Link("get_event", 200, "replay_event", {"event_id": "$response.body#/event_id"}, "Replay it"),
)


class _Schemas(GenerateJsonSchema):
    """pydantic's JSON Schema (2020-12, as OpenAPI 3.1 takes it) without a title per field."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False


def _not_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A parameter's schema: its value is never JSON null, only present or absent."""
    options = schema.get("anyOf")
    if isinstance(options, list):
        kept = [option for option in options if option != {"type": "null"}]
        rest = {k: v for k, v in schema.items() if k != "anyOf"}
        schema = {**rest, **kept[0]} if len(kept) == 1 else {**rest, "anyOf": kept}
    return {k: v for k, v in schema.items() if k not in ("default", "description", "title")}


def _parameters(
    model: type[BaseModel] | None, where: str, names: Sequence[str] | None = None
) -> list[dict[str, Any]]:
    """`model`'s fields as parameters `in` path or query; `names` (a path's) all appear."""
    schema = model.model_json_schema(schema_generator=_Schemas) if model else {}
    if "$defs" in schema:
        raise ValueError(f"{model}: parameters take plain values (Literal, not an Enum)")
    properties: dict[str, Any] = schema.get("properties", {})
    required = set(schema.get("required", ()))
    parameters = []
    for name in names if names is not None else list(properties):
        found = properties.get(name, {"type": "string", "pattern": SEGMENT})
        parameter: dict[str, Any] = {"name": name, "in": where}
        if "description" in found:
            parameter["description"] = found["description"]
        parameter["required"] = where == "path" or name in required
        parameter["schema"] = _not_null(found)
        parameters.append(parameter)
    return parameters


def _operation_id(path: str, operation: Operation) -> str:
    if operation.operation_id:
        return operation.operation_id
    words = re.sub(r"[^A-Za-z0-9]+", "_", path).strip("_")
    return f"{operation.method.lower()}_{words}"


def _headers(names: Iterable[str]) -> dict[str, Any]:
    return {name: {"$ref": f"#/components/headers/{name}"} for name in names}


# The refusals of authentication, the same for every operation.
SHARED: Final[dict[int, str]] = {401: "Unauthorized", 403: "Forbidden", 429: "TooManyRequests"}


@dataclass(frozen=True)
class _Context:
    refs: Mapping[tuple[Any, JsonSchemaMode], Any]

    def ref(self, model: type[BaseModel], mode: JsonSchemaMode) -> Any:
        return self.refs[(model, mode)]


def _answer(
    context: _Context, status: int, model: type[Any] | None, *, deprecated: bool
) -> dict[str, Any]:
    headers = ["X-Request-ID"]
    if status == 401:
        headers.append("WWW-Authenticate")
    if status == 429:
        headers.append("Retry-After")
    if deprecated and status not in SHARED:
        headers += ["Deprecation", "Link"]
    answer: dict[str, Any] = {
        "description": REASONS.get(status, HTTPStatus(status).phrase),
        "headers": _headers(headers),
    }
    if model is HtmlPage:
        answer["content"] = {"text/html": {"schema": {"type": "string"}}}
    elif model is CsvFile:
        answer["content"] = {"text/csv": {"schema": {"type": "string"}}}
        answer["headers"] |= _headers(["Content-Disposition"])
    elif model is not None:
        answer["content"] = {"application/json": {"schema": context.ref(model, "serialization")}}
    return answer


def _answers(
    context: _Context, operation: Operation, *, takes_input: bool, path_names: bool
) -> dict[str, Any]:
    """The operation's own answers plus the refusals every such operation may give."""
    answers: dict[int, type[Any] | None] = dict(operation.responses)
    if takes_input:
        answers.setdefault(400, ErrorBody)
    answers.setdefault(401, ErrorBody)
    if operation.role is not Role.VIEWER:
        answers.setdefault(403, ErrorBody)
    if path_names:
        answers.setdefault(404, ErrorBody)
    answers.setdefault(429, ErrorBody)
    return {
        str(status): {"$ref": f"#/components/responses/{SHARED[status]}"}
        if status in SHARED and model is ErrorBody
        else _answer(context, status, model, deprecated=operation.deprecated)
        for status, model in sorted(answers.items())
    }


def _describe(operation: Operation) -> str:
    needs = f"Needs a token with the `{operation.role}` role (or a higher one)."
    doc = inspect.getdoc(operation.endpoint)
    return f"{needs}\n\n{doc}" if doc else needs


def _operation(context: _Context, path: str, operation: Operation) -> dict[str, Any]:
    names = _PATH_NAME.findall(path)
    parameters = _parameters(PATH_PARAMETERS.get(path), "path", names)
    parameters += _parameters(operation.query, "query")
    described: dict[str, Any] = {
        "operationId": _operation_id(path, operation),
        "summary": operation.summary,
        "description": _describe(operation),
        "x-flexhook-role": str(operation.role),
    }
    if operation.deprecated:
        described["deprecated"] = True
    if parameters:
        described["parameters"] = parameters
    if operation.body is not None:
        described["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": context.ref(operation.body, "validation")}},
        }
    described["responses"] = _answers(
        context,
        operation,
        takes_input=bool(parameters) or operation.body is not None,
        path_names=bool(names),
    )
    return described


def api_operations(routes: Iterable[BaseRoute]) -> list[tuple[str, Operation]]:
    """(path, operation) of every `ApiRoute` among `routes`, in the table's order."""
    return [
        (route.path, operation)
        for route in routes
        if isinstance(route, ApiRoute)
        for operation in route.operations.values()
    ]


def _models(
    operations: Sequence[tuple[str, Operation]],
) -> list[tuple[type[BaseModel], JsonSchemaMode]]:
    """The models of the components: bodies as read, answers as written."""
    found: dict[tuple[type[BaseModel], JsonSchemaMode], None] = {(ErrorBody, "serialization"): None}
    for _, operation in operations:
        if operation.body is not None:
            found[(operation.body, "validation")] = None
        for model in operation.responses.values():
            if model is not None and model not in (HtmlPage, CsvFile):
                found[(model, "serialization")] = None
    return list(found)


def _link(operations: Mapping[str, dict[str, Any]], link: Link) -> None:
    for name in (link.source, link.target):
        if name not in operations:
            raise ValueError(f"a link names {name!r}, which is no operation")
    answer = operations[link.source]["responses"][str(link.status)]
    answer.setdefault("links", {})[link.target] = {
        "operationId": link.target,
        "parameters": dict(link.parameters),
        "description": link.description,
    }


def document(routes: Iterable[BaseRoute]) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the `ApiRoute`s among `routes` (those under `/api`)."""
    operations = api_operations(routes)
    refs, definitions = models_json_schema(
        _models(operations), ref_template=REF, schema_generator=_Schemas
    )
    context = _Context(refs)
    paths: dict[str, dict[str, Any]] = {}
    by_id: dict[str, dict[str, Any]] = {}
    for path, operation in operations:
        described = _operation(context, path, operation)
        if described["operationId"] in by_id:
            raise ValueError(f"two operations are {described['operationId']!r}")
        by_id[described["operationId"]] = described
        paths.setdefault(path, {})[operation.method.lower()] = described
    for link in LINKS:
        _link(by_id, link)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "flexhook API",
            "version": version("flexhook"),
            "description": (
                "Shipments, events and records as Flexport's events left them, the exception "
                "inbox, the alert ledger, subscriptions, recipients and tokens. Every request "
                "needs a bearer token; each operation names the role it needs "
                "(`x-flexhook-role`: viewer, then operator, then admin). "
                'Every refusal is JSON `{"error", "detail"}`.'
            ),
        },
        "servers": [{"url": API_PREFIX}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": definitions.get("$defs", {}),
            "responses": {
                name: _answer(context, status, ErrorBody, deprecated=False)
                for status, name in SHARED.items()
            },
            "headers": {name: {"schema": _TEXT, **header} for name, header in HEADERS.items()},
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A named token (`fxh_...`, `flexhook tokens create`) or "
                    "FLEXHOOK_API_TOKEN, the break-glass admin.",
                }
            },
        },
    }


def render(spec: Mapping[str, Any]) -> str:
    """The document as `docs/openapi.json` holds it."""
    return json.dumps(spec, indent=2, ensure_ascii=False) + "\n"


@functools.cache
def served() -> str:
    """The document of the API's route table, as `GET /api/openapi.json` serves it: built once."""
    # The route table imports this module for the endpoint below: read it once it is built.
    from app.web.api_routes import API_ROUTES

    return render(document(API_ROUTES))


async def get_document(request: Request) -> Response:
    """This document, as `docs/openapi.json` holds it."""
    return Response(served(), media_type="application/json")


def main() -> None:
    sys.stdout.write(served())


if __name__ == "__main__":
    main()
