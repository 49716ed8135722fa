"""The exception inbox under `/api` (docs/exceptions.md): `GET /api/exceptions` (a filtered page,
keyset), `GET /api/exceptions/{id}` (with its timeline), one `POST /api/exceptions/{id}/<action>`
per person's action and `POST /api/exceptions/bulk`.

A person acts as their token's name. Each action that changes an exception is audited in the
same transaction (never with its note: notes live in the timeline only), and then the
exception's watch workflow is told (`WebState.tell_exception_watch`); when that fails the
action still stands, and the web process's relay tells the watch once Temporal answers
(`app.ingest.watch_relay`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Final

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from app.core.alert_links import exception_page
from app.core.exception_families import SEVERITIES
from app.core.exception_state import ActionRefused
from app.ingest.watch_relay import tell_watches
from app.store import audit, db, exception_reads, exceptions, tokens
from app.store.exception_filters import ExceptionFilter
from app.store.exception_models import ExceptionEntry, ShipmentExceptionRow
from app.store.exceptions import Action, ConcurrentChanges, Cursor
from app.web import cursors, exception_schemas, schemas
from app.web.access import client_address, current_actor, request_id
from app.web.errors import BadRequest, error_response, not_found
from app.web.params import row_id
from app.web.state import WebState, web_state

log = logging.getLogger("flexhook.web")

NO_SUCH_EXCEPTION: Final = "no such exception"
DEFAULT_PAGE: Final = 50
BULK_LIMIT: Final = 500  # exceptions one bulk action acts on, in inbox order
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_ROW_ID: Final = 2**31 - 1


class UnknownAssignee(ValueError):
    """`assignee` names no active token's person."""


def exception_url(public_url: str, exception_id: int) -> str:
    """The exception's page in the dashboard's inbox (relative without a public URL)."""
    return exception_page(public_url, exception_id)


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def exception_json(row: ShipmentExceptionRow, *, public_url: str) -> dict[str, Any]:
    """An exception as `app.web.answers.ShipmentException` says it."""
    assert row.id is not None
    return {
        "id": row.id,
        "shipment_id": row.shipment_id,
        "family": row.family,
        "severity": row.severity,
        "state": row.state,
        "occurrences": row.occurrences,
        "recurrences": row.recurrences,
        "opened_at": row.opened_at.isoformat(),
        "acknowledged_by": row.acknowledged_by,
        "acknowledged_at": _time(row.acknowledged_at),
        "assignee": row.assignee,
        "snoozed_until": _time(row.snoozed_until),
        "resolved_by": row.resolved_by,
        "resolved_at": _time(row.resolved_at),
        "url": exception_url(public_url, row.id),
    }


def detail_json(
    row: ShipmentExceptionRow, entries: Sequence[ExceptionEntry], *, public_url: str
) -> dict[str, Any]:
    timeline = [
        {"at": e.at.isoformat(), "who": e.who, "what": e.what, "note": e.note} for e in entries
    ]
    return {**exception_json(row, public_url=public_url), "timeline": timeline}


# -- the list's cursor: opaque, and signed so that a changed one is refused ----------------------


def cursor_key(state: WebState) -> bytes:
    """The key the inbox's cursors are signed with (`app.web.cursors.cursor_key`)."""
    return cursors.cursor_key(state, "exception")


def encode_cursor(cursor: Cursor, key: bytes) -> str:
    return cursors.sign(
        f"{cursor.severity_rank}.{cursors.micros(cursor.opened_at)}.{cursor.id}", key
    )


def decode_cursor(value: str, key: bytes) -> Cursor:
    """The cursor `encode_cursor` made; `BadRequest` for anything else (changed, cut, made
    with another key)."""
    text = cursors.signed_text(value, key)
    try:
        rank, opened, last = text.split(".")
        cursor = Cursor(int(rank), cursors.from_micros(opened), int(last))
    except (ValueError, OverflowError):
        raise cursors.refused() from None
    if not (0 <= cursor.severity_rank < len(SEVERITIES) and 0 < cursor.id <= _MAX_ROW_ID):
        raise cursors.refused()
    return cursor


# -- reading --------------------------------------------------------------------------------------


def _where(
    query: exception_schemas.ExceptionQuery | exception_schemas.ExceptionFilterBody,
) -> ExceptionFilter:
    return ExceptionFilter(
        state=query.state,
        family=query.family,
        severity=query.severity,
        shipment_id=query.shipment_id,
        assignee=query.assignee,
    )


def _page(
    session: Session,
    *,
    where: ExceptionFilter,
    after: Cursor | None,
    limit: int,
    public_url: str,
) -> tuple[list[dict[str, Any]], Cursor | None]:
    page = exception_reads.list_exceptions(session, where=where, after=after, limit=limit)
    return [exception_json(row, public_url=public_url) for row in page.exceptions], page.next


async def list_exceptions(request: Request) -> Response:
    """One page of the exceptions the filters match, most severe first, then oldest. `state`,
    `family` and `severity` take only their known values (400 names them); `next` is the
    cursor of the page after (give it as `after`; a changed cursor is 400)."""
    query = schemas.read_query(exception_schemas.ExceptionQuery, request)
    state = web_state(request)
    key = cursor_key(state)
    found, following = await db.in_session(
        state.engine,
        _page,
        where=_where(query),
        after=decode_cursor(query.after, key) if query.after else None,
        limit=query.limit or DEFAULT_PAGE,
        public_url=state.config.public_url,
    )
    cursor = encode_cursor(following, key) if following is not None else None
    return JSONResponse({"exceptions": found, "next": cursor})


def _detail(session: Session, *, exception_id: int, public_url: str) -> dict[str, Any]:
    row, entries = exception_reads.get_exception(session, exception_id=exception_id)
    return detail_json(row, entries, public_url=public_url)


async def get_exception(request: Request) -> Response:
    """The exception with its timeline (when, who, what, note), oldest entry first."""
    exception_id = row_id(request, "id")
    if exception_id is None:
        return not_found(NO_SUCH_EXCEPTION)
    state = web_state(request)
    try:
        found = await db.in_session(
            state.engine,
            _detail,
            exception_id=exception_id,
            public_url=state.config.public_url,
        )
    except exceptions.UnknownException:
        return not_found(NO_SUCH_EXCEPTION)
    return JSONResponse(found)


# -- acting ---------------------------------------------------------------------------------------


def _checked(
    action: Action, *, note: str | None, assignee: str | None, until: datetime | None, now: datetime
) -> None:
    """What the action needs and the body's shape cannot say; `BadRequest` saying why."""
    if action == "assign" and assignee is None:
        raise BadRequest("assign needs an assignee: a token's name")
    if action == "note" and not (note and note.strip()):
        raise BadRequest("note needs a note that is not blank")
    if action == "snooze":
        if until is None:
            raise BadRequest("snooze needs until: when it ends")
        if until <= now:
            raise BadRequest("until must be in the future")


def _known_assignee(session: Session, assignee: str | None, now: datetime) -> None:
    """You cannot assign to a stranger: `assignee` must be an active token's name."""
    if assignee is not None and tokens.actor_by_name(session, name=assignee, now=now) is None:
        raise UnknownAssignee(f"{assignee} is no active token's person")


def _audit_entry(request: Request, action: Action, at: datetime) -> dict[str, Any]:
    return {
        "at": at,
        "actor": current_actor(request).name,
        "action": f"exception.{action}",
        "client": client_address(request),
        "request_id": request_id(request.scope),
    }


def _audit_target(exception_id: int) -> str:
    return f"exception {exception_id}"


def _act(
    session: Session,
    *,
    exception_id: int,
    action: Action,
    by: str,
    at: datetime,
    note: str | None,
    assignee: str | None,
    until: datetime | None,
    audited: dict[str, Any],
    public_url: str,
) -> tuple[exceptions.Outcome, dict[str, Any]]:
    """The action, its audit entry when it changed something, and the exception after it."""
    _known_assignee(session, assignee, at)
    outcome = exceptions.act(
        session,
        exception_id=exception_id,
        action=action,
        by=by,
        at=at,
        note=note,
        assignee=assignee,
        until=until,
    )
    if outcome.changed:
        audit.append(session, target=_audit_target(exception_id), **audited)
    return outcome, _detail(session, exception_id=exception_id, public_url=public_url)


async def _acted(
    request: Request,
    action: Action,
    *,
    note: str | None = None,
    assignee: str | None = None,
    until: datetime | None = None,
) -> Response:
    exception_id = row_id(request, "id")
    if exception_id is None:
        return not_found(NO_SUCH_EXCEPTION)
    now = datetime.now(UTC)
    _checked(action, note=note, assignee=assignee, until=until, now=now)
    state, actor = web_state(request), current_actor(request).name
    try:
        outcome, answer = await db.in_session(
            state.engine,
            _act,
            commit=True,
            exception_id=exception_id,
            action=action,
            by=actor,
            at=now,
            note=note,
            assignee=assignee,
            until=until,
            audited=_audit_entry(request, action, now),
            public_url=state.config.public_url,
        )
    except exceptions.UnknownException:
        return not_found(NO_SUCH_EXCEPTION)
    except UnknownAssignee as stranger:
        return error_response(400, "unknown_assignee", str(stranger))
    except ActionRefused as refused:
        return error_response(409, "action_refused", str(refused))
    except ConcurrentChanges:
        return error_response(409, "concurrent_changes", "it kept changing meanwhile: try again")
    log.info("exception %s: %s by %s", exception_id, action, actor)
    await tell_watches(state.engine, state.tell_exception_watch, [outcome])
    return JSONResponse(answer)


async def acknowledge_exception(request: Request) -> Response:
    """Acknowledge it (you are on it); 409 `action_refused` when it is resolved or someone
    acknowledged it already, saying who."""
    body = await schemas.read_body(exception_schemas.ActionBody, request)
    return await _acted(request, "acknowledge", note=body.note)


async def assign_exception(request: Request) -> Response:
    """Assign it to the person of an active named token (400 `unknown_assignee` otherwise);
    they hear of it at their token's contact."""
    body = await schemas.read_body(exception_schemas.AssignBody, request)
    return await _acted(request, "assign", note=body.note, assignee=body.assignee)


async def note_exception(request: Request) -> Response:
    """Add a note to its timeline."""
    body = await schemas.read_body(exception_schemas.NoteBody, request)
    return await _acted(request, "note", note=body.note)


async def snooze_exception(request: Request) -> Response:
    """Snooze it until a time in the future (400 otherwise); it wakes up on time."""
    body = await schemas.read_body(exception_schemas.SnoozeBody, request)
    return await _acted(request, "snooze", note=body.note, until=body.until)


async def resolve_exception(request: Request) -> Response:
    """Resolve it by hand; a family that clears itself (a customs hold) needs a note saying why
    you do not wait for its clearing event (409 `action_refused` without one)."""
    body = await schemas.read_body(exception_schemas.ActionBody, request)
    return await _acted(request, "resolve", note=body.note)


async def reopen_exception(request: Request) -> Response:
    """Reopen a resolved exception (409 `action_refused` for one that is not resolved)."""
    body = await schemas.read_body(exception_schemas.ActionBody, request)
    return await _acted(request, "reopen", note=body.note)


def _bulk(
    session: Session,
    *,
    where: ExceptionFilter,
    action: Action,
    by: str,
    at: datetime,
    note: str | None,
    assignee: str | None,
    until: datetime | None,
    audited: dict[str, Any],
) -> tuple[exceptions.Outcome, ...]:
    _known_assignee(session, assignee, at)
    outcomes = exceptions.bulk_act(
        session,
        where=where,
        action=action,
        by=by,
        at=at,
        note=note,
        assignee=assignee,
        until=until,
        limit=BULK_LIMIT,
    )
    for outcome in outcomes:
        if outcome.changed:
            audit.append(session, target=_audit_target(outcome.exception_id), **audited)
    return outcomes


async def bulk_act(request: Request) -> Response:
    """One action with one shared note on every exception the filter matches (at most 500, in
    inbox order): `changed` lists the ids it changed, `refused` each other one with the reason.
    The filter is required: `{}` (explicitly) acts on every exception."""
    body = await schemas.read_body(exception_schemas.BulkBody, request)
    now = datetime.now(UTC)
    action: Action = body.action
    _checked(action, note=body.note, assignee=body.assignee, until=body.until, now=now)
    state, actor = web_state(request), current_actor(request).name
    try:
        outcomes = await db.in_session(
            state.engine,
            _bulk,
            commit=True,
            where=_where(body.filter),
            action=action,
            by=actor,
            at=now,
            note=body.note,
            assignee=body.assignee,
            until=body.until,
            audited=_audit_entry(request, action, now),
        )
    except UnknownAssignee as stranger:
        return error_response(400, "unknown_assignee", str(stranger))
    except ConcurrentChanges:
        return error_response(409, "concurrent_changes", "they kept changing meanwhile: try again")
    changed = [o.exception_id for o in outcomes if o.changed]
    refused = [{"id": o.exception_id, "reason": o.refused} for o in outcomes if o.refused]
    log.info("bulk %s by %s: %d changed, %d refused", action, actor, len(changed), len(refused))
    await tell_watches(state.engine, state.tell_exception_watch, outcomes)
    return JSONResponse({"changed": changed, "refused": refused})
