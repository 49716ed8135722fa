"""The shapes the exception inbox's operations read (`app.web.exceptions`): the list's query,
the filter of a bulk action and each action's JSON body. Like every request model
(`app.web.schemas`), they are what the endpoints read and what the OpenAPI document says."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, ClassVar, Final, Literal

from pydantic import AfterValidator, AwareDatetime, Field, WithJsonSchema

from app.core.exception_families import FAMILY_NAMES, SEVERITIES
from app.core.exception_state import STATES
from app.web.schemas import NO_CONTROL, Body, PageSize, Query, Text

NOTE_MAX_CHARS: Final = 2000


def _one_of(allowed: tuple[str, ...]) -> Callable[[str | None], str | None]:
    def check(value: str | None) -> str | None:
        if value is not None and value not in allowed:
            raise ValueError(f"must be one of {', '.join(allowed)}")
        return value

    return check


ExceptionState = Annotated[
    str | None,
    AfterValidator(_one_of(STATES)),
    WithJsonSchema({"type": "string", "enum": list(STATES)}),
    Field(default=None, description="Only exceptions in this state."),
]
ExceptionFamily = Annotated[
    str | None,
    AfterValidator(_one_of(FAMILY_NAMES)),
    WithJsonSchema({"type": "string", "enum": list(FAMILY_NAMES)}),
    Field(default=None, description="Only exceptions of this family (docs/exceptions.md)."),
]
ExceptionSeverity = Annotated[
    str | None,
    AfterValidator(_one_of(SEVERITIES)),
    WithJsonSchema({"type": "string", "enum": list(SEVERITIES)}),
    Field(default=None, description="Only exceptions of this severity."),
]
# A token's name (`app.core.access.check_name`).
PersonName = Annotated[str, Field(pattern=r"^[A-Za-z0-9._@-]{1,64}$")]
Note = Annotated[
    str,
    Field(
        max_length=NOTE_MAX_CHARS,
        pattern=NO_CONTROL,
        description="At most 2000 characters; no control characters but tabs and line breaks. "
        "Kept in the exception's timeline, never in logs.",
    ),
]
Until = Annotated[
    AwareDatetime,
    Field(description="When the snooze ends: ISO 8601 with a zone, in the future."),
]


class ExceptionQuery(Query):
    state: ExceptionState
    family: ExceptionFamily
    severity: ExceptionSeverity
    shipment_id: Text | None = Field(default=None, description="Only this shipment's exceptions.")
    assignee: Text | None = Field(default=None, description="Only those assigned to this person.")
    limit: PageSize = None
    after: Text | None = Field(
        default=None, description="The `next` of the page before: the page after it."
    )


class ExceptionFilterBody(Body):
    """The list's filters; `{}` matches every exception."""

    SHAPE: ClassVar[str] = (
        '{"state", "family", "severity", "shipment_id", "assignee"} (each optional)'
    )

    state: ExceptionState
    family: ExceptionFamily
    severity: ExceptionSeverity
    shipment_id: Text | None = Field(default=None, description="Only this shipment's exceptions.")
    assignee: Text | None = Field(default=None, description="Only those assigned to this person.")


class ActionBody(Body):
    """Acknowledge, resolve or reopen, with an optional note (a person resolving an exception
    that clears itself says why in it)."""

    SHAPE: ClassVar[str] = '{"note": "<text>" (optional)}'

    note: Note | None = None


class AssignBody(Body):
    SHAPE: ClassVar[str] = '{"assignee": "<token name>", "note": "<text>" (optional)}'

    assignee: PersonName = Field(description="The person of an active named token.")
    note: Note | None = None


class NoteBody(Body):
    SHAPE: ClassVar[str] = '{"note": "<text>"}'

    note: Note


class SnoozeBody(Body):
    SHAPE: ClassVar[str] = '{"until": "<ISO 8601 time with a zone>", "note": "<text>" (optional)}'

    until: Until
    note: Note | None = None


class BulkBody(Body):
    SHAPE: ClassVar[str] = (
        '{"filter": {...} (`{}`: every exception), "action": "acknowledge" | "assign" | "note" | '
        '"snooze" | "resolve" | "reopen", "note", "assignee", "until" (as the action needs)}'
    )

    filter: ExceptionFilterBody = Field(
        description="The list's filters; `{}` (explicitly) acts on every exception."
    )
    action: Literal["acknowledge", "assign", "note", "snooze", "resolve", "reopen"]
    note: Note | None = None
    assignee: PersonName | None = Field(default=None, description="With `assign`.")
    until: Until | None = Field(default=None, description="With `snooze`.")
