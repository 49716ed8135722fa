"""The exception inbox's pages: the Inbox (`/exceptions`), one exception with its timeline
(`/exceptions/{id}`), a person's action on it and the bulk action on a selection.

Any signed-in token reads; the route table lets only operators post (a viewer's POST is 403
before it reaches here), and each form must carry the session's CSRF token. The core decides
every action (`app.store.exceptions.act`): what it refuses is shown with its reason. After an
action commits, the exception's watch workflow is told (`tell_exception_watch`); what cannot be
told then (Temporal away) the web process's relay tells later (`app.ingest.watch_relay`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from app.core.display import span
from app.core.exception_clock import deadlines
from app.core.exception_families import FAMILIES, SEVERITIES
from app.core.exception_state import STATES, ActionRefused
from app.dashboard.access import Visitor, changed
from app.dashboard.rendering import base_path, problem, query_string, render
from app.dashboard.session import FORM_EXPIRED, checked_fields
from app.dashboard.state import DashboardState, state_of
from app.ingest.watch_relay import tell_watches
from app.store import exception_reads, exceptions
from app.store.db import in_session
from app.store.exception_models import ShipmentExceptionRow
from app.store.exception_reads import EVERY_STATE, InboxFilter
from app.store.exceptions import (
    ACTIONS,
    Action,
    ConcurrentChanges,
    Cursor,
    Outcome,
)

PAGE_SIZE: Final = 50
MAX_NOTE: Final = 2000  # characters of a note typed on a page
BULK_ACTIONS: Final[tuple[Action, ...]] = ("acknowledge", "assign", "snooze", "resolve", "note")
# The bulk form: a page's selection and its few other fields.
MAX_BULK_FIELDS: Final = PAGE_SIZE + 10
NO_SUCH_EXCEPTION: Final = "There is no such exception."
CHANGED_MEANWHILE: Final = "It kept changing while you acted on it. Reload and try again."
FAMILY_LABELS: Final[dict[str, str]] = {f.name: f.label for f in FAMILIES}
DONE_WORDS: Final[dict[str, str]] = {
    "acknowledge": "Acknowledged.",
    "assign": "Assigned.",
    "note": "Note added.",
    "snooze": "Snoozed.",
    "resolve": "Resolved.",
    "reopen": "Reopened.",
}


@dataclass(frozen=True)
class InboxRow:
    """One exception as the inbox lists it."""

    id: int
    severity: str
    family: str  # its label, in words
    shipment_id: str
    state: str
    opened_at: datetime
    age: str  # how long the current episode has been open, `3 h 5 min`
    assignee: str | None
    acknowledged_by: str | None
    occurrences: int
    overdue: bool
    due_at: datetime | None  # when it escalates (open) or reminds (acknowledged)


def inbox_row(row: ShipmentExceptionRow, *, state: DashboardState, now: datetime) -> InboxRow:
    """`row` as listed at `now`: overdue once its ack deadline (or resolve deadline once
    acknowledged) has passed."""
    assert row.id is not None
    due = deadlines(exceptions.as_core(row), ack_sla=state.ack_sla, resolve_sla=state.resolve_sla)
    end = row.resolved_at if row.state == "resolved" and row.resolved_at else now
    return InboxRow(
        id=row.id,
        severity=row.severity,
        family=FAMILY_LABELS.get(row.family, row.family),
        shipment_id=row.shipment_id,
        state=row.state,
        opened_at=row.opened_at,
        age=span(max(end - row.opened_at, timedelta(0))),
        assignee=row.assignee,
        acknowledged_by=row.acknowledged_by,
        occurrences=row.occurrences,
        overdue=due.overdue(now),
        due_at=due.escalate_at or due.remind_at,
    )


def _param(params: Mapping[str, str], name: str) -> str | None:
    value = params.get(name, "").strip()
    return value or None


def inbox_filter(params: Mapping[str, str]) -> InboxFilter:
    """The inbox's GET form as its filter; an unknown state is the default (not resolved)."""
    wanted = _param(params, "state")
    return InboxFilter(
        state=wanted if wanted in (*STATES, EVERY_STATE) else None,
        family=_param(params, "family"),
        severity=_param(params, "severity"),
        shipment_id=_param(params, "shipment"),
        assignee=_param(params, "assignee"),
    )


def cursor_text(cursor: Cursor) -> str:
    return f"{cursor.severity_rank}_{cursor.opened_at.astimezone(UTC).isoformat()}_{cursor.id}"


def parse_cursor(value: str | None) -> Cursor | None:
    """The `after` of an "older" link; None (the first page) for anything else."""
    if not value or len(value) > 80:
        return None
    try:
        rank, opened, last = value.split("_")
        opened_at = datetime.fromisoformat(opened)
        if opened_at.tzinfo is None:
            return None
        return Cursor(int(rank), opened_at, int(last))
    except ValueError:
        return None


async def inbox(request: Request, visitor: Visitor) -> Response:
    """The exceptions not resolved (or those the filters ask for), most severe then oldest."""
    state = state_of(request)
    params = request.query_params
    where = inbox_filter(params)
    page = await in_session(
        state.engine,
        exception_reads.inbox_page,
        where=where,
        after=parse_cursor(params.get("after")),
        limit=PAGE_SIZE,
    )
    now = datetime.now(UTC)
    filters = {
        "state": where.state,
        "family": where.family,
        "severity": where.severity,
        "shipment": where.shipment_id,
        "assignee": where.assignee,
    }
    older = None
    if page.next is not None:
        older = f"{base_path(request)}/exceptions" + query_string(
            **filters, after=cursor_text(page.next)
        )
    return render(
        request,
        "exceptions.html",
        visitor=visitor,
        title="Inbox",
        nav="exceptions",
        rows=[inbox_row(row, state=state, now=now) for row in page.exceptions],
        filters=filters,
        states=(*STATES, EVERY_STATE),
        families=FAMILY_LABELS,
        severities=SEVERITIES,
        bulk_actions=BULK_ACTIONS,
        people=await _people(state, now),
        older=older,
        past_first_page=params.get("after") is not None,
        first_link=f"{base_path(request)}/exceptions" + query_string(**filters),
    )


async def _people(state: DashboardState, now: datetime) -> tuple[str, ...]:
    return await in_session(state.engine, exception_reads.assignable_people, now=now)


@dataclass(frozen=True)
class ActionForm:
    """A person's action as a form asked for it, read and checked."""

    action: Action
    note: str | None
    assignee: str | None
    until: datetime | None


def _until(value: str | None) -> datetime | None:
    """A snooze's end from `<input type=datetime-local>`: `2026-12-07T10:30`, in UTC."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ActionRefused("the snooze's end is not a time such as 2026-12-07 10:30") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def action_form(
    fields: Mapping[str, Sequence[str]], *, allowed: Sequence[Action], people: Sequence[str]
) -> ActionForm:
    """The action a form asks for; `ActionRefused` saying what is wrong with it."""

    def one(name: str) -> str | None:
        values = fields.get(name, [])
        return (values[0].strip() or None) if values else None

    action = next((a for a in allowed if a == one("action")), None)
    if action is None:
        raise ActionRefused("choose an action")
    note = one("note")
    if note is not None and len(note) > MAX_NOTE:
        raise ActionRefused(f"a note is at most {MAX_NOTE} characters")
    assignee = one("assignee") if action == "assign" else None
    if action == "assign" and assignee not in people:
        raise ActionRefused("choose the person to assign it to (an active named token)")
    until = _until(one("until")) if action == "snooze" else None
    return ActionForm(action=action, note=note, assignee=assignee, until=until)


def act_on_each(
    session: Session, *, exception_ids: Sequence[int], form: ActionForm, by: str, at: datetime
) -> tuple[Outcome, ...]:
    """`form`'s action on each exception, in this one session (`exceptions.act_on_each`): a
    refusal (or an id that is no exception) stops none of the others."""
    return tuple(
        exceptions.act_on_each(
            session,
            exception_ids=exception_ids,
            action=form.action,
            by=by,
            at=at,
            note=form.note,
            assignee=form.assignee,
            until=form.until,
            unknown=NO_SUCH_EXCEPTION,
        ).values()
    )


def _changed_ids(outcomes: Sequence[Outcome]) -> str | None:
    """The audit entry's target: the ids that changed (None: nothing did, nothing to audit)."""
    ids = [str(o.exception_id) for o in outcomes if o.changed]
    return ",".join(ids)[:500] if ids else None


async def apply(
    request: Request, visitor: Visitor, *, exception_ids: Sequence[int], form: ActionForm
) -> tuple[Outcome, ...]:
    """`form`'s action on each exception and its audit entry, committed together; then the
    watches of those that changed are told."""
    state = state_of(request)
    outcomes = await changed(
        request,
        act_on_each,
        actor=visitor.actor.name,
        action=f"exception.{form.action}",
        target=_changed_ids,
        exception_ids=exception_ids,
        form=form,
        by=visitor.actor.name,
        at=datetime.now(UTC),
    )
    await tell_watches(state.engine, state.tell_exception_watch, outcomes)
    return outcomes


def parse_id(value: str) -> int | None:
    """An exception's id from its URL: digits only, else None (404)."""
    if not value.isascii() or not value.isdigit() or len(value) > 18:
        return None
    return int(value)


def _available(row: ShipmentExceptionRow) -> tuple[Action, ...]:
    """The actions its page offers in its state (the core decides all the same)."""
    if row.state == "resolved":
        return ("note", "reopen")
    first: tuple[Action, ...] = () if row.acknowledged_by else ("acknowledge",)
    return (*first, "assign", "note", "snooze", "resolve")


async def _detail_page(
    request: Request,
    visitor: Visitor,
    exception_id: int,
    *,
    status_code: int = 200,
    refused: str = "",
) -> Response:
    state = state_of(request)
    found = await in_session(
        state.engine, exception_reads.exception_detail, exception_id=exception_id
    )
    if found is None:
        return problem(request, visitor, 404, NO_SUCH_EXCEPTION)
    now = datetime.now(UTC)
    done = request.query_params.get("done", "")
    return render(
        request,
        "exception.html",
        visitor=visitor,
        status_code=status_code,
        title=f"{FAMILY_LABELS.get(found.exception.family, found.exception.family)} "
        f"· shipment {found.exception.shipment_id}",
        nav="exceptions",
        d=found,
        x=inbox_row(found.exception, state=state, now=now),
        available=_available(found.exception),
        people=await _people(state, now),
        done=DONE_WORDS.get(done, "") if status_code == 200 else "",
        refused=refused,
        max_note=MAX_NOTE,
    )


async def detail(request: Request, visitor: Visitor) -> Response:
    """GET: one exception and its timeline, with its actions' forms for operators. POST (an
    operator's, CSRF-checked): one action, then back to the page saying it was done, or the
    page again with the reason it was refused (409)."""
    exception_id = parse_id(request.path_params["exception_id"])
    if exception_id is None:
        return problem(request, visitor, 404, NO_SUCH_EXCEPTION)
    if request.method != "POST":
        return await _detail_page(request, visitor, exception_id)
    fields = await checked_fields(request, visitor.csrf_token, max_fields=MAX_BULK_FIELDS)
    if fields is None:
        return problem(request, visitor, 403, FORM_EXPIRED)
    people = await _people(state_of(request), datetime.now(UTC))
    try:
        form = action_form(fields, allowed=ACTIONS, people=people)
        (outcome,) = await apply(request, visitor, exception_ids=[exception_id], form=form)
    except ActionRefused as refusal:
        return await _detail_page(
            request, visitor, exception_id, status_code=409, refused=str(refusal)
        )
    except ConcurrentChanges:
        return await _detail_page(
            request, visitor, exception_id, status_code=409, refused=CHANGED_MEANWHILE
        )
    if outcome.refused == NO_SUCH_EXCEPTION:
        return problem(request, visitor, 404, NO_SUCH_EXCEPTION)
    if outcome.refused is not None:
        return await _detail_page(
            request, visitor, exception_id, status_code=409, refused=outcome.refused
        )
    target = f"{base_path(request)}/exceptions/{exception_id}{query_string(done=form.action)}"
    return RedirectResponse(target, status_code=303)


def _selected(values: Sequence[str]) -> list[int]:
    """The selection's ids, each once, in the order given; anything not an id is left out."""
    ids: list[int] = []
    for value in values:
        parsed = parse_id(value.strip())
        if parsed is not None and parsed not in ids:
            ids.append(parsed)
    return ids


async def bulk(request: Request, visitor: Visitor) -> Response:
    """An operator's action (CSRF-checked) with one shared note on the selected exceptions:
    what it did and what it refused, with why."""
    fields = await checked_fields(request, visitor.csrf_token, max_fields=MAX_BULK_FIELDS)
    if fields is None:
        return problem(request, visitor, 403, FORM_EXPIRED)
    ids = _selected(fields.get("ids", []))
    if not ids:
        return problem(request, visitor, 400, "Select at least one exception.")
    people = await _people(state_of(request), datetime.now(UTC))
    try:
        form = action_form(fields, allowed=BULK_ACTIONS, people=people)
        outcomes = await apply(request, visitor, exception_ids=ids, form=form)
    except ActionRefused as refusal:
        return problem(request, visitor, 400, f"Nothing was done: {refusal}.")
    except ConcurrentChanges:
        return problem(request, visitor, 409, CHANGED_MEANWHILE)
    return render(
        request,
        "exceptions_bulk.html",
        visitor=visitor,
        title="Bulk action",
        nav="exceptions",
        action=form.action,
        done=[o for o in outcomes if o.changed],
        refused=[o for o in outcomes if o.refused is not None],
        unchanged=[o for o in outcomes if not o.changed and o.refused is None],
    )
