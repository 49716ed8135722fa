"""The dashboard's pages: the landing, shipments, one shipment, the event log, one event,
its redrive.

Each page is `page(request, visitor)`, run by `session.signed_in` for a signed-in browser whose
role may see it (the redrive: an operator's).
Reads go through read-only database sessions, off the event loop.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from app.core.access import Role
from app.core.statuses import EventStatus
from app.core.taxonomy import MILESTONES
from app.dashboard import shares
from app.dashboard.access import Visitor, record
from app.dashboard.exceptions import FAMILY_LABELS
from app.dashboard.formatting import pretty_json, segment
from app.dashboard.rendering import base_path, problem, query_string, render
from app.dashboard.session import FORM_EXPIRED, checked_form
from app.dashboard.state import state_of
from app.store import dashboard_reads, exception_reads, reconcile_runs
from app.store.dashboard_reads import EventCursor
from app.store.db import in_session
from app.store.filters import EventFilter
from app.store.paging import TimeCursor

log = logging.getLogger("flexhook.dashboard")

LIST_LIMIT = 200
MAX_CURSOR = 300  # the longest `after` an "Older" link gives (an event id is at most 200)
NO_SUCH_EVENT = "There is no such event."
PAYLOAD_GONE = "Its payload was removed by payload retention: it cannot run again."


def redrive_status(value: str | None) -> str:
    """The status a redrive answered, from the redirect's query: a short word or nothing, so a
    crafted link cannot put sentences on the page."""
    if value and len(value) <= 40 and value.replace("_", "").replace("-", "").isalnum():
        return value
    return ""


async def home(request: Request, visitor: Visitor) -> Response:
    """Where a signed-in browser lands: operators on the exception inbox, others on the
    shipments."""
    page = "exceptions" if visitor.may(Role.OPERATOR) else "shipments"
    return RedirectResponse(f"{base_path(request)}/{page}", status_code=303)


def _moment(value: str) -> datetime:
    """An aware time an "Older" link gave; ValueError for anything else."""
    at = datetime.fromisoformat(value)
    if at.tzinfo is None:
        raise ValueError("a cursor's time names its zone")
    return at


def shipment_cursor_text(cursor: TimeCursor) -> str:
    return f"{cursor.at.astimezone(UTC).isoformat()}_{cursor.id}"


def parse_shipment_cursor(value: str | None) -> TimeCursor | None:
    """The `after` of the shipment list's "Older" link; None (the first page) for anything
    else."""
    if not value or len(value) > MAX_CURSOR:
        return None
    try:
        at, shipment_id = value.split("_", 1)
        return TimeCursor(_moment(at), shipment_id)
    except ValueError:
        return None


def event_cursor_text(cursor: EventCursor) -> str:
    return f"{cursor.rank}_{cursor.at.astimezone(UTC).isoformat()}_{cursor.event_id}"


def parse_event_cursor(value: str | None) -> EventCursor | None:
    """The `after` of the event list's "Older" link; None (the first page) for anything else."""
    if not value or len(value) > MAX_CURSOR:
        return None
    try:
        rank, at, event_id = value.split("_", 2)
        cursor = EventCursor(int(rank), _moment(at), event_id)
    except ValueError:
        return None
    return cursor if 0 <= cursor.rank <= dashboard_reads.REST and event_id else None


async def shipments(request: Request, visitor: Visitor) -> Response:
    """The shipment list, searched by id or name and filtered by status; "Older" pages on."""
    engine = state_of(request).engine
    text = request.query_params.get("q", "").strip()
    status = request.query_params.get("status", "").strip()
    after = parse_shipment_cursor(request.query_params.get("after"))
    found = await in_session(
        engine,
        dashboard_reads.search_shipments,
        text=text,
        status=status,
        after=after,
        limit=LIST_LIMIT,
    )
    present = await in_session(engine, dashboard_reads.shipment_statuses)
    statuses = [*MILESTONES, *(s for s in present if s not in MILESTONES)]
    older = None
    if found.next is not None:
        older = f"{base_path(request)}/shipments" + query_string(
            q=text, status=status, after=shipment_cursor_text(found.next)
        )
    return render(
        request,
        "shipments.html",
        visitor=visitor,
        title="Shipments",
        nav="shipments",
        shipments=found.shipments,
        statuses=statuses,
        q=text,
        status=status,
        older=older,
        too_short=found.too_short,
        first_link=(
            f"{base_path(request)}/shipments{query_string(q=text, status=status)}"
            if after
            else None
        ),
        csv_link=f"{base_path(request)}/shipments.csv{query_string(q=text, status=status)}",
    )


async def shipment(request: Request, visitor: Visitor) -> Response:
    """One shipment: its exceptions, timeline, ETA history, containers, bookings, documents,
    invoices, alerts, events, and its share links."""
    engine = state_of(request).engine
    shipment_id = request.path_params["shipment_id"]
    page = await in_session(engine, dashboard_reads.get_shipment_page, shipment_id=shipment_id)
    if page is None:
        return problem(request, visitor, 404, "There is no such shipment.")
    reached = {m.milestone for m in page.milestones}
    current = page.shipment.status
    if current in MILESTONES:
        reached.update(MILESTONES[: MILESTONES.index(current) + 1])
    return render(
        request,
        "shipment.html",
        visitor=visitor,
        title=page.shipment.name or f"Shipment {page.shipment.id}",
        nav="shipments",
        page=page,
        s=page.shipment,
        reached=reached,
        eta_chart=page.eta_chart,
        links=await shares.list_links(request, page.shipment.id),
        exceptions=await in_session(
            engine, exception_reads.shipment_exceptions, shipment_id=page.shipment.id
        ),
        family_labels=FAMILY_LABELS,
        link_notice=shares.notice(request.query_params.get("link")),
    )


async def events(request: Request, visitor: Visitor) -> Response:
    """The event log, those that need a person first, filtered by status, type and shipment;
    "Older" pages on."""
    engine = state_of(request).engine
    params = request.query_params
    where = EventFilter(
        status=params.get("status", "").strip(),
        event_type=params.get("type", "").strip(),
        shipment_id=params.get("shipment", "").strip(),
    )
    after = parse_event_cursor(params.get("after"))
    found = await in_session(
        engine, dashboard_reads.event_list, where=where, after=after, limit=LIST_LIMIT
    )
    types = await in_session(engine, dashboard_reads.event_types)
    last_runs = await in_session(engine, reconcile_runs.recent_runs, limit=1)
    filters = {"status": where.status, "type": where.event_type, "shipment": where.shipment_id}
    older = None
    if found.next is not None:
        older = f"{base_path(request)}/events" + query_string(
            **filters, after=event_cursor_text(found.next)
        )
    return render(
        request,
        "events.html",
        reconcile=last_runs[0] if last_runs else None,
        visitor=visitor,
        title="Events",
        nav="events",
        events=found.events,
        statuses=tuple(EventStatus),
        types=types,
        status=where.status,
        type=where.event_type,
        shipment=where.shipment_id,
        older=older,
        first_link=f"{base_path(request)}/events{query_string(**filters)}" if after else None,
        csv_link=f"{base_path(request)}/events.csv" + query_string(**filters),
    )


async def _event_page(
    request: Request,
    visitor: Visitor,
    *,
    event_id: str,
    status_code: int = 200,
    redrive_error: str = "",
) -> Response:
    engine = state_of(request).engine
    row = await in_session(engine, dashboard_reads.get_event, event_id=event_id)
    if row is None:
        return problem(request, visitor, 404, NO_SUCH_EVENT)
    notifications = await in_session(engine, dashboard_reads.list_notifications, event_id=event_id)
    return render(
        request,
        "event.html",
        visitor=visitor,
        status_code=status_code,
        title=f"Event {row.event_id}",
        nav="events",
        e=row,
        payload=None if row.payload is None else pretty_json(row.payload),
        notifications=notifications,
        redriven=redrive_status(request.query_params.get("redriven")),
        redrive_error=redrive_error,
    )


async def event(request: Request, visitor: Visitor) -> Response:
    """One event: its payload pretty-printed, why it failed, the alerts it sent."""
    return await _event_page(request, visitor, event_id=request.path_params["event_id"])


async def redrive(request: Request, visitor: Visitor) -> Response:
    """Run a failed event again (a CSRF-checked form), then show it with the start's status."""
    state = state_of(request)
    event_id = request.path_params["event_id"]
    if await checked_form(request, visitor.csrf_token) is None:
        return problem(request, visitor, 403, FORM_EXPIRED)
    row = await in_session(state.engine, dashboard_reads.get_event, event_id=event_id)
    if row is None:
        return problem(request, visitor, 404, NO_SUCH_EVENT)
    if row.status != EventStatus.FAILED:
        message = f"Only failed events can be redriven; this one is {row.status}."
        return problem(request, visitor, 409, message)
    if row.payload is None:
        return problem(request, visitor, 409, PAYLOAD_GONE)
    try:
        outcome = await state.redrive(event_id)
    except LookupError:  # gone between the read and the redrive
        return problem(request, visitor, 404, NO_SUCH_EVENT)
    except Exception as exc:
        log.exception("dashboard redrive of event %s failed", event_id)
        await record(
            request,
            actor=visitor.actor.name,
            action="event.redrive",
            target=event_id,
            outcome=f"error: {type(exc).__name__}",
        )
        return await _event_page(
            request,
            visitor,
            event_id=event_id,
            status_code=502,
            # The type only: an error's text may quote the event's values (the log has it).
            redrive_error=f"it could not be started ({type(exc).__name__}); see the server log",
        )
    log.info("dashboard redriven event %s by %s: %s", event_id, visitor.actor.name, outcome)
    await record(
        request, actor=visitor.actor.name, action="event.redrive", target=event_id, outcome=outcome
    )
    target = f"{base_path(request)}/events/{segment(event_id)}{query_string(redriven=outcome)}"
    return RedirectResponse(target, status_code=303)


async def stylesheet(request: Request) -> Response:
    """The stylesheet, cacheable: its link carries a hash of its content."""
    return Response(
        state_of(request).stylesheet,
        media_type="text/css",
        headers={"cache-control": "public, max-age=86400", "x-content-type-options": "nosniff"},
    )
