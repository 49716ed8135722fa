"""The exception inbox's part of the route table under `/api` (`app.web.api_routes` splices it in
before the catch-all `/{kind}/{key}`): viewers read, operators act."""

from __future__ import annotations

from typing import Any

from starlette.routing import BaseRoute, Match
from starlette.types import Scope

from app.core.access import Role
from app.web import answers, exception_schemas, exceptions, schemas
from app.web.operations import ApiRoute, Endpoint, Operation

VIEWER, OPERATOR = Role.VIEWER, Role.OPERATOR
# What an action on one exception may answer besides the exception after it.
ACTION_REFUSALS = {400: answers.ErrorBody, 404: answers.ErrorBody, 409: answers.ErrorBody}


class OwnPath(ApiRoute):
    """A path that a later route's template matches too (`/exceptions/bulk` is an
    `/exceptions/{id}`, and a `/{kind}/{key}`): it answers every method itself, 405 with `Allow`
    for one it has no operation for, instead of letting the later route take it."""

    def matches(self, scope: Scope) -> tuple[Match, Any]:
        match, child = super().matches(scope)
        return (Match.FULL if match is Match.PARTIAL else match), child


def _action(name: str, endpoint: Endpoint, body: type[schemas.Body], summary: str) -> ApiRoute:
    return ApiRoute(
        f"/exceptions/{{id}}/{name}",
        Operation(
            "POST",
            endpoint,
            OPERATOR,
            summary,
            body=body,
            responses={200: answers.ExceptionDetail, **ACTION_REFUSALS},
            operation_id=f"{name}_exception",
        ),
    )


EXCEPTION_ROUTES: list[BaseRoute] = [
    ApiRoute(
        "/exceptions",
        Operation(
            "GET",
            exceptions.list_exceptions,
            VIEWER,
            "List exceptions (the inbox), a page at a time",
            query=exception_schemas.ExceptionQuery,
            responses={200: answers.ExceptionList, 400: answers.ErrorBody},
            operation_id="list_exceptions",
        ),
    ),
    # Before `/exceptions/{id}`, which would otherwise take `bulk` for an id.
    OwnPath(
        "/exceptions/bulk",
        Operation(
            "POST",
            exceptions.bulk_act,
            OPERATOR,
            "Act on every exception a filter matches, with one shared note",
            body=exception_schemas.BulkBody,
            responses={200: answers.BulkOutcome, 400: answers.ErrorBody, 409: answers.ErrorBody},
            operation_id="bulk_act_on_exceptions",
        ),
    ),
    ApiRoute(
        "/exceptions/{id}",
        Operation(
            "GET",
            exceptions.get_exception,
            VIEWER,
            "Get an exception with its timeline",
            responses={200: answers.ExceptionDetail, 404: answers.ErrorBody},
            operation_id="get_exception",
        ),
    ),
    _action(
        "acknowledge",
        exceptions.acknowledge_exception,
        exception_schemas.ActionBody,
        "Acknowledge it",
    ),
    _action(
        "assign", exceptions.assign_exception, exception_schemas.AssignBody, "Assign it to a person"
    ),
    _action(
        "note", exceptions.note_exception, exception_schemas.NoteBody, "Add a note to its timeline"
    ),
    _action(
        "snooze",
        exceptions.snooze_exception,
        exception_schemas.SnoozeBody,
        "Snooze it until a time",
    ),
    _action(
        "resolve", exceptions.resolve_exception, exception_schemas.ActionBody, "Resolve it by hand"
    ),
    _action("reopen", exceptions.reopen_exception, exception_schemas.ActionBody, "Reopen it"),
]
