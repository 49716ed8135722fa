"""The shapes of the API, as pydantic models: each operation's query, JSON body and answers.

The endpoints read queries and bodies through these models (`read_query`, `read_body`), and the
OpenAPI document (`app.web.openapi`) is generated from them, so the document cannot say what the
code does not do. Request models describe what flexhook reads; answer models (`Answer`) forbid
fields they do not name, so an answer that grows a field fails the API's conformance test until
the model names it.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Final, Literal, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    ValidationError,
    WithJsonSchema,
)
from pydantic_core import ErrorDetails
from starlette.requests import Request

from app.core.access import Role
from app.web.errors import BadRequest
from app.web.params import is_number

Q = TypeVar("Q", bound="Query")
B = TypeVar("B", bound="Body")

# PostgreSQL cannot compare text holding a NUL, so no parameter may hold one (see
# `app.web.middleware.NulGuardMiddleware`, which answers 400 first).
NO_NUL: Final = r"^[^\x00]*$"
Text = Annotated[str, Field(pattern=NO_NUL)]
# A path parameter: one segment of the path (routing splits at slashes, `%2F` included).
SEGMENT: Final = r"^[^/\x00]+$"
Segment = Annotated[str, Field(pattern=SEGMENT)]
# Text a person writes (a note): no control characters but tabs and line breaks.
NO_CONTROL: Final = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"


def _count(value: object) -> object:
    """A count as `?limit=` takes it: ASCII digits only (`int` admits `²`, signs and spaces),
    and absurdly long ones count as huge (the reads clamp them); empty means absent."""
    if not isinstance(value, str):
        return value
    if value == "":
        return None
    if not is_number(value):
        raise ValueError("must be a positive integer")
    return int(value) if len(value) <= 9 else 10**9


_LEAP_SECOND: Final = re.compile(r"(?<=[Tt ]\d\d:\d\d:)60")


def _time(value: object) -> object:
    """An ISO 8601 time, UTC when it names no zone; empty means absent. RFC 3339's lower-case
    `t` and `z` and its leap second (read as the second before) are taken too."""
    if not isinstance(value, str):
        return value
    if value == "":
        return None
    try:
        parsed = datetime.fromisoformat(_LEAP_SECOND.sub("59", value.upper(), count=1))
    except ValueError:
        raise ValueError("must be an ISO 8601 time such as 2026-03-01T00:00:00Z") from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # within a day of year 1 or year 9999: UTC has no such time
        return (datetime.min if parsed.year == 1 else datetime.max).replace(tzinfo=UTC)


# An empty value (`?limit=`) means the parameter is absent, as a form sends it.
EMPTY: Final = {"const": ""}
Limit = Annotated[
    int | None,
    BeforeValidator(_count),
    WithJsonSchema({"anyOf": [{"type": "integer", "minimum": 0}, EMPTY]}),
    Field(description="At most this many (clamped to the collection's maximum)."),
]
PageSize = Annotated[
    Annotated[int, Field(ge=1, le=200)] | None,
    BeforeValidator(_count),
    WithJsonSchema({"anyOf": [{"type": "integer", "minimum": 1, "maximum": 200}, EMPTY]}),
    Field(description="At most this many (1-200, 50 when left out)."),
]
Time = Annotated[
    datetime | None,
    BeforeValidator(_time),
    WithJsonSchema({"anyOf": [{"type": "string", "format": "date-time"}, EMPTY]}),
]


# -- reading requests -----------------------------------------------------------------------------


class Query(BaseModel):
    """A query string's parameters; others are ignored, as they always were."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class Body(BaseModel):
    """A JSON body. `SHAPE` is what a refusal says was expected."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    SHAPE: ClassVar[str] = "a JSON object"


def _refusal(error: ErrorDetails) -> str:
    """A bad parameter's name and why."""
    name = str(error["loc"][0]) if error["loc"] else "query"
    if error["type"] == "value_error":
        return f"{name} {error['ctx']['error']}"
    return f"{name}: {error['msg']}"


def read_query(model: type[Q], request: Request) -> Q:
    """The request's query string as `model`; 400 `bad_request` naming the first bad parameter
    (with repeated parameters, the last one counts)."""
    try:
        return model.model_validate(dict(request.query_params))
    except ValidationError as exc:
        raise BadRequest(_refusal(exc.errors()[0])) from None


def _body_refusal(model: type[Body], errors: list[ErrorDetails]) -> str:
    """Why a body is refused, in the words the endpoints always used: the expected shape when
    it is no object or misses a field it needs, then the fields it should not have, then the
    first field of the wrong type."""
    shape = model.SHAPE
    fields = model.model_fields
    if any(not e["loc"] or e["type"] == "missing" for e in errors):
        return f"expected {shape}"
    unknown = sorted({str(e["loc"][0]) for e in errors if e["type"] == "extra_forbidden"})
    if unknown:
        return f"unknown fields {unknown}; expected {shape}"
    broken = next((_rule_broken(e) for e in errors if e["type"] in _RULES), None)
    if broken is not None:
        return broken
    first = min(errors, key=lambda e: list(fields).index(str(e["loc"][0])))
    name = str(first["loc"][0])
    if first["type"] == "enum":
        return f"{name} must be one of {first['ctx']['expected']}"
    if fields[name].is_required():
        return f"expected {shape}"
    if len(first["loc"]) > 1 or first["type"] == "list_type":
        return f"{name} must be a list of strings"
    return f"{name} must be a string"


# Errors of a field's own rule (a length, a pattern, a zone, a value it must be one of): said
# as the rule, with the field's path (`filter.state`).
_RULES: Final = frozenset(
    {
        "value_error",
        "string_too_long",
        "string_too_short",
        "string_pattern_mismatch",
        "timezone_aware",
    }
)


def _rule_broken(error: ErrorDetails) -> str:
    name = ".".join(str(part) for part in error["loc"])
    kind, ctx = error["type"], error.get("ctx", {})
    if kind == "value_error":
        return f"{name} {ctx['error']}"
    if kind == "string_too_long":
        return f"{name} must be at most {ctx['max_length']} characters"
    if kind == "string_too_short":
        return f"{name} must not be empty"
    if kind == "timezone_aware":
        return f"{name} must be an ISO 8601 time with a zone, such as 2026-03-01T09:00:00Z"
    if ctx.get("pattern") == NO_CONTROL:
        return f"{name} must not hold control characters (tabs and line breaks are fine)"
    return f"{name} must match {ctx.get('pattern')}"


def body_as(model: type[B], body: Any) -> B:
    """A parsed JSON body as `model`; `BadRequest` saying why not."""
    try:
        # JSON may escape a lone surrogate (`"\ud800"`): no text, so nothing can store it or
        # say it back in a refusal (UTF-8 has no encoding for it).
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise BadRequest("body holds a lone surrogate escape (\\ud800-\\udfff)") from None
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise BadRequest(_body_refusal(model, exc.errors())) from None


async def read_body(model: type[B], request: Request) -> B:
    """The request's JSON body as `model`; 400 `bad_request` saying why not."""
    try:
        body = await request.json()
    except (ValueError, RecursionError):
        raise BadRequest("body is not JSON") from None
    return body_as(model, body)


# -- queries and path parameters ------------------------------------------------------------------


class ShipmentQuery(Query):
    status: Text | None = Field(default=None, description="Only shipments with this status.")
    limit: Limit = None
    after: Text | None = Field(
        default=None, description="The `next` of the page before: the page after it."
    )


class EventQuery(Query):
    status: Text | None = Field(default=None, description="Only events with this status.")
    type: Text | None = Field(default=None, description="Only events of this Flexport type.")
    shipment_id: Text | None = Field(default=None, description="Only this shipment's events.")
    since: Time = Field(default=None, description="Only events received at or after this time.")
    until: Time = Field(default=None, description="Only events received before this time.")
    limit: Limit = None
    after: Text | None = Field(
        default=None, description="The `next` of the page before: the page after it."
    )


# An export is the whole filtered list; `limit` caps it, with no maximum.
ExportLimit = Annotated[
    int | None,
    BeforeValidator(_count),
    WithJsonSchema({"anyOf": [{"type": "integer", "minimum": 0}, EMPTY]}),
    Field(description="At most this many rows (0 counts as 1); every row when left out."),
]


class ShipmentExportQuery(Query):
    status: Text | None = Field(default=None, description="Only shipments with this status.")
    limit: ExportLimit = None


class EventExportQuery(Query):
    status: Text | None = Field(default=None, description="Only events with this status.")
    type: Text | None = Field(default=None, description="Only events of this Flexport type.")
    shipment_id: Text | None = Field(default=None, description="Only this shipment's events.")
    limit: ExportLimit = None


class NotificationQuery(Query):
    event_id: Text | None = Field(default=None, description="Only alerts of this event.")
    shipment_id: Text | None = Field(default=None, description="Only this shipment's alerts.")
    status: Text | None = Field(default=None, description="Only alerts with this status.")
    limit: Limit = None


class ReconcileQuery(Query):
    limit: Limit = None


class AuditQuery(Query):
    actor: Text | None = Field(default=None, description="Only what this actor did.")
    action: Text | None = Field(default=None, description="Only this action, e.g. token.create.")
    since: Time = Field(default=None, description="From this time on (inclusive).")
    until: Time = Field(default=None, description="Before this time.")
    limit: Limit = None


# Path parameters, by the path templates that name them (any other one is a plain string).
# Routing hands them over as they are; an id that is not digits is simply not found.
RowId = Annotated[str, Field(pattern=r"^[0-9]+$", description="A row id (digits).")]
RecordKind = Literal["bookings", "purchase-orders", "invoices", "documents", "containers"]


class RecipientPath(BaseModel):
    id: RowId


class SubscriptionPath(BaseModel):
    id: Segment = Field(description="The shipment's id.")
    sid: RowId


class SharePath(BaseModel):
    id: Segment = Field(description="The shipment's id.")
    share_id: RowId = Field(description="The link's id (as its list shows it).")


class RecordPath(BaseModel):
    kind: RecordKind = Field(description="The collection.")
    key: Segment = Field(description="The record's id (a container's number).")


class CodecPath(BaseModel):
    direction: Literal["decode", "encode"] = Field(
        description="`decode` (decrypt) or `encode` (encrypt), as Temporal's codec protocol names "
        "the last segment of the codec endpoint."
    )


class ExceptionPath(BaseModel):
    id: RowId = Field(description="The exception's id.")


EXCEPTION_ACTION_PATHS: Final = tuple(
    f"/exceptions/{{id}}/{action}"
    for action in ("acknowledge", "assign", "note", "snooze", "resolve", "reopen")
)


PATH_PARAMETERS: Final[dict[str, type[BaseModel]]] = {
    "/exceptions/{id}": ExceptionPath,
    **dict.fromkeys(EXCEPTION_ACTION_PATHS, ExceptionPath),
    "/codec/{direction}": CodecPath,
    "/recipients/{id}": RecipientPath,
    "/subscribers/{id}": RecipientPath,
    "/shipments/{id}/subscriptions/{sid}": SubscriptionPath,
    "/shipments/{id}/subscribers/{sid}": SubscriptionPath,
    "/shipments/{id}/shares/{share_id}": SharePath,
    "/shipments/{id}/shares/{share_id}/renew": SharePath,
    "/{kind}/{key}": RecordPath,
}


# -- request bodies -------------------------------------------------------------------------------

APPRISE_URL: Final = "An Apprise URL (https://github.com/caronc/apprise/wiki)."
KINDS: Final = "Alert kinds to send (see docs/alerts.md); every kind when left out."
AUDIENCE: Final = (
    "`internal` (the default: the dashboard's and Temporal's links too) or `external` (only "
    "the tracking page and, where configured, Flexport's app)."
)


class SubscriptionBody(Body):
    # Other fields are ignored, as they always were.
    model_config = ConfigDict(extra="ignore", frozen=True)
    SHAPE: ClassVar[str] = (
        '{"url": "<apprise url>", "kinds": [...], "audience": "internal" | "external"}'
    )

    url: str = Field(description=APPRISE_URL, examples=["json://localhost/flexhook"])
    kinds: list[str] | None = Field(default=None, description=KINDS, examples=[["departed"]])
    audience: str | None = Field(default=None, description=AUDIENCE, examples=["external"])


class RecipientBody(Body):
    SHAPE: ClassVar[str] = (
        '{"url": "<apprise url>", "kinds": [...], "shipments": [...], "delivery": "instant" | '
        '"digest", "digest_at": "HH:MM", "timezone": "<IANA name>", "quiet_hours": "HH:MM-HH:MM", '
        '"audience": "internal" | "external"}'
    )

    url: str = Field(description=APPRISE_URL, examples=["json://localhost/flexhook"])
    kinds: list[str] | None = Field(default=None, description=KINDS)
    shipments: list[StrictStr | StrictInt] | None = Field(
        default=None, description="Only these shipments' alerts; every shipment if left out."
    )
    delivery: str | None = Field(
        default=None, description="`instant` (the default) or `digest`.", examples=["instant"]
    )
    digest_at: str | None = Field(default=None, description="HH:MM, with `digest`.")
    timezone: str | None = Field(default=None, description="An IANA name; UTC if left out.")
    quiet_hours: str | None = Field(default=None, description="HH:MM-HH:MM, with `instant`.")
    audience: str | None = Field(default=None, description=AUDIENCE, examples=["external"])


class TokenBody(Body):
    SHAPE: ClassVar[str] = (
        '{"name": "<person or machine>", "role": "viewer" | "operator" | "admin", '
        '"expires": "90d" (optional), "contact": "<apprise url>" (optional)}'
    )

    name: str = Field(description="1-64 letters, digits, '.', '_', '@' or '-'.")
    role: Role
    expires: str | None = Field(default=None, description="How long it lives: 30m, 12h, 90d, 2w.")
    contact: str | None = Field(default=None, description=f"To reach its holder: {APPRISE_URL}")
