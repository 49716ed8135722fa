"""Reconciliation: the events Flexport's Events API lists for a window, against the event log.
Every listed event the log lacks is started through the normal path (`EventStarter`: the event's
own workflow id, the reuse policy that turns a second start into a `duplicate`), so an event whose
delivery never reached flexhook still runs, and runs once.

The rule: an event is *missing* when the log has no row for its id, whatever the status of a row
it has. A `failed` event is known: a redrive runs it again (`flexhook redrive`, the dashboard), not
reconciliation. A `queued` one is the relay's, a `processing` one is running, a `processed` or
`ignored` one is done. So a second run over the same window finds nothing missing.

Before its start, each missing event is claimed in one transaction: a log row (`queued`, `source =
reconcile`) and a spool row leased to this run (`app.store.reconcile_runs.claim_missing`). Then:
- `accepted`: the spool row goes; the workflow moves the log row on, as for any delivery;
- `duplicate` (a delivery started it meanwhile): the spool row goes and the mark is withdrawn;
  Temporal's id policy let only one of the two starts run;
- Temporal unavailable: the lease is released and the relay starts it like any spooled event;
- rejected for good (too large, refused): out of the spool, `failed` in the log, as the relay does.
A run that dies between claim and start leaves a spool row whose lease runs out: the relay starts
it then.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine

from app.core.errors import MalformedEvent
from app.core.events import Event, parse_event
from app.core.statuses import StartStatus
from app.flexport_api.client import FlexportApiError, FlexportClient, Page
from app.ingest.errors import EventRejected, IngestError, TemporalUnavailable
from app.ingest.intake import log_fields
from app.ingest.starter import EventStarter, ensure_fits
from app.store import db, reconcile_runs
from app.store.reconcile_runs import Tally

log = logging.getLogger("flexhook.reconcile")

Json = dict[str, Any]

# How long a claim keeps the relay off a claimed event: far longer than a start takes.
CLAIM_HOLD = timedelta(minutes=5)
# Starts in flight at once per page (the dev server takes about 90 starts/s).
START_CONCURRENCY = 8


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Window:
    """The occurred_at bounds of the events listed, both inclusive and timezone-aware."""

    since: datetime
    until: datetime

    def __post_init__(self) -> None:
        if self.since.utcoffset() is None or self.until.utcoffset() is None:
            raise ValueError("a reconcile window needs timezone-aware times")
        if self.since > self.until:
            raise ValueError("the window's since is after its until")

    @classmethod
    def ending(
        cls, until: datetime, *, lookback: timedelta, since: datetime | None = None
    ) -> Window:
        """`since`..`until`, or the `lookback` before `until` when `since` is None."""
        return cls(since=until - lookback if since is None else since, until=until)


class ReconcileFailed(IngestError):
    """Listing failed part way (`error`); `tally` is what the pages before it counted."""

    def __init__(self, error: FlexportApiError, tally: Tally) -> None:
        super().__init__(str(error))
        self.error = error
        self.tally = tally


def _outcome_error(event_id: str, problem: str) -> str:
    return f"event {event_id}: {problem}"


class Reconciler:
    """Compares listed Event objects with the log and starts the missing ones (see the module)."""

    def __init__(
        self,
        *,
        engine: Engine,
        starter: EventStarter | None,
        claim_hold: timedelta = CLAIM_HOLD,
        concurrency: int = START_CONCURRENCY,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        """`starter` may be None for a reconciler that only ever runs dry."""
        self._engine = engine
        self._starter = starter
        self._claim_hold = claim_hold
        self._concurrency = concurrency
        self._clock = clock

    async def reconcile_page(self, events: Sequence[Json], *, dry_run: bool = False) -> Tally:
        """Compare one page of Event objects with the log and, unless `dry_run`, start the
        missing ones. Database errors propagate; a problem with one event is a line in
        `Tally.errors`."""
        parsed, errors = _parse(events)
        known = await db.in_session(
            self._engine, reconcile_runs.known_event_ids, event_ids=list(parsed)
        )
        missing = [parsed[event_id] for event_id in parsed if event_id not in known]
        tally = Tally(
            listed=len(events),
            known=len(known),
            missing=len(missing),
            errors=tuple(errors),
            missing_ids=tuple(event.event_id for event, _ in missing),
        )
        if dry_run or not missing:
            return tally
        started, start_errors = await self._start(missing)
        return tally + Tally(started=started, errors=tuple(start_errors))

    async def _start(self, missing: list[tuple[Event, str]]) -> tuple[int, list[str]]:
        if self._starter is None:
            raise RuntimeError("this reconciler has no starter: it can only run dry")
        starter = self._starter
        errors: list[str] = []
        startable: list[tuple[Event, str]] = []
        for event, body in missing:
            try:
                ensure_fits(body)
            except EventRejected as exc:
                errors.append(_outcome_error(event.event_id, str(exc)))
            else:
                startable.append((event, body))
        now = self._clock()
        claimed = set(
            await db.in_session(
                self._engine,
                reconcile_runs.claim_missing,
                commit=True,
                events=startable,
                received_at=now,
                leased_until=now + self._claim_hold,
            )
        )
        outcomes = _Outcomes()
        gate = asyncio.Semaphore(self._concurrency)

        async def start(event: Event, body: str) -> None:
            async with gate:
                if outcomes.temporal_down:  # spare the rest of the page a start timeout each
                    outcomes.unavailable[event.event_id] = "Temporal unavailable"
                    return
                await outcomes.start(starter, event, body=body, received_at=now)

        await asyncio.gather(*(start(e, b) for e, b in startable if e.event_id in claimed))
        await db.in_session(
            self._engine,
            reconcile_runs.settle_claims,
            commit=True,
            started=outcomes.started,
            duplicates=outcomes.duplicates,
            unavailable=outcomes.unavailable,
            rejected=outcomes.rejected,
        )
        errors += [
            _outcome_error(event_id, f"{problem}; left in the spool for the relay")
            for event_id, problem in outcomes.unavailable.items()
        ]
        errors += [
            _outcome_error(event_id, f"{problem}; marked failed")
            for event_id, problem in outcomes.rejected.items()
        ]
        return len(outcomes.started), errors


class _Outcomes:
    """What the starts of one page's claimed events came to."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.duplicates: list[str] = []
        self.unavailable: dict[str, str] = {}
        self.rejected: dict[str, str] = {}
        self.temporal_down = False

    async def start(
        self, starter: EventStarter, event: Event, *, body: str, received_at: datetime
    ) -> None:
        try:
            result = await starter.start(event, body=body, received_at=received_at)
        except TemporalUnavailable as exc:
            self.temporal_down = True
            self.unavailable[event.event_id] = f"Temporal unavailable ({exc})"
            return
        except EventRejected as exc:
            self.rejected[event.event_id] = str(exc)
            return
        if result.status == StartStatus.ACCEPTED:
            self.started.append(event.event_id)
            log.info(
                "event %s missing from the log: started by reconcile",
                event.event_id,
                extra=log_fields(event),
            )
        else:  # a delivery (or the relay) started it first: it runs once all the same
            self.duplicates.append(event.event_id)
            log.info(
                "event %s was started meanwhile by a delivery: not started again",
                event.event_id,
                extra=log_fields(event),
            )


def _parse(events: Sequence[Json]) -> tuple[dict[str, tuple[Event, str]], list[str]]:
    """The listed Event objects by id (first wins) with the body to start each with, and a
    line per object that is not an event."""
    parsed: dict[str, tuple[Event, str]] = {}
    errors: list[str] = []
    for position, raw in enumerate(events):
        # ASCII escapes: a lone surrogate in a string then reaches parse_event, which refuses
        # it, instead of failing to encode.
        body = json.dumps(raw)
        try:
            event = parse_event(body.encode("utf-8"))
        except MalformedEvent as exc:
            label = raw.get("id", f"#{position + 1} of its page")
            errors.append(f"listed event {label}: {exc}")
            continue
        parsed.setdefault(event.event_id, (event, body))
    return parsed, errors


# -- a whole window, as the CLI runs it -----------------------------------------------------


async def reconcile_window(
    *,
    flexport: FlexportClient,
    reconciler: Reconciler,
    window: Window,
    dry_run: bool = False,
    on_page: Callable[[Tally], None] = lambda tally: None,
) -> Tally:
    """Page through the window's events (following `next`), reconciling each page; `on_page`
    gets the running tally after each. Raises `ReconcileFailed` when Flexport fails."""
    tally = Tally()
    pages: Iterator[Page] = flexport.pages(since=window.since, until=window.until)
    while True:
        try:
            # Each request blocks (httpx, Retry-After waits): off the event loop.
            page = await asyncio.to_thread(next, pages, None)
        except FlexportApiError as exc:
            raise ReconcileFailed(exc, tally) from exc
        if page is None:
            return tally
        tally += await reconciler.reconcile_page(page.events, dry_run=dry_run)
        on_page(tally)


@dataclass(frozen=True)
class RunResult:
    """A recorded run: what it counted, and the Flexport error that stopped it, if any."""

    tally: Tally
    error: FlexportApiError | None = None


async def run_and_record(
    *,
    engine: Engine,
    flexport: FlexportClient,
    reconciler: Reconciler,
    window: Window,
    trigger: str,
    dry_run: bool = False,
    on_page: Callable[[Tally], None] = lambda tally: None,
    clock: Callable[[], datetime] = _utcnow,
) -> RunResult:
    """`reconcile_window`, recorded as a `ReconcileRun` whether it ends well or not. A Flexport
    error is returned (with the tally of the pages before it), not raised."""
    started_at = clock()
    error: FlexportApiError | None = None
    try:
        tally = await reconcile_window(
            flexport=flexport,
            reconciler=reconciler,
            window=window,
            dry_run=dry_run,
            on_page=on_page,
        )
    except ReconcileFailed as failed:
        tally, error = failed.tally, failed.error
    recorded = tally if error is None else tally + Tally(errors=(str(error),))
    await db.in_session(
        engine,
        reconcile_runs.record_run,
        commit=True,
        trigger=trigger,
        since=window.since,
        until=window.until,
        tally=recorded,
        started_at=started_at,
        finished_at=clock(),
        dry_run=dry_run,
    )
    log.debug("reconcile (%s%s): %s", trigger, ", dry run" if dry_run else "", recorded.summary())
    return RunResult(tally=tally, error=error)
