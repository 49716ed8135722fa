"""The activities of `ReconcileWorkflow`: one page of Flexport's Events API per call (list it,
compare it with the log, start the missing events), and the record of the finished run.

The compare-and-start logic is `app.ingest.reconcile.Reconciler`, handed in as a
`PageReconciler` (this layer cannot import the intake). Only the next page's URL and counts cross
Temporal: the events themselves never enter a workflow history.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy.engine import Engine
from sqlmodel import Session
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.types import ReconcilePageInput, ReconcilePageResult, ReconcileReport
from app.flexport_api.client import FlexportApiError, FlexportClient, FlexportUnavailable
from app.store import reconcile_runs
from app.store.reconcile_runs import Tally

# The failure type of a page on a worker without FLEXPORT_API_TOKEN.
NOT_CONFIGURED = "ReconcileNotConfigured"


class PageReconciler(Protocol):
    async def reconcile_page(
        self, events: Sequence[dict[str, Any]], *, dry_run: bool = False
    ) -> Tally: ...


def _failure(exc: FlexportApiError) -> ApplicationError:
    """The activity failure for a Flexport error: only unavailability is worth a retry, after
    the `Retry-After` Flexport asked for when it named one."""
    if isinstance(exc, FlexportUnavailable):
        delay = timedelta(seconds=exc.retry_after) if exc.retry_after else None
        return ApplicationError(str(exc), type=type(exc).__name__, next_retry_delay=delay)
    # A refused token, a malformed answer or any other 4xx is the same on every attempt.
    return ApplicationError(str(exc), type=type(exc).__name__, non_retryable=True)


class ReconcileActivities:
    """Over one engine, one Flexport client (None on a worker without a token) and the
    reconciler that starts what is missing."""

    def __init__(
        self, *, engine: Engine, flexport: FlexportClient | None, reconciler: PageReconciler
    ) -> None:
        self._engine = engine
        self._flexport = flexport
        self._reconciler = reconciler

    @activity.defn(name="reconcile_page")
    async def reconcile_page(self, input: ReconcilePageInput) -> ReconcilePageResult:
        """List one page of the window (the first, or the one `next_url` names), start the
        events on it that the log lacks, and say where the next page is."""
        if self._flexport is None:
            raise ApplicationError(
                "FLEXPORT_API_TOKEN is not set on this worker: it cannot list Flexport's events",
                type=NOT_CONFIGURED,
                non_retryable=True,
            )
        try:
            # Blocking HTTP (and Retry-After waits) off the worker's event loop.
            page = await asyncio.to_thread(
                self._flexport.fetch_page,
                input.next_url,
                since=datetime.fromisoformat(input.since),
                until=datetime.fromisoformat(input.until),
            )
        except FlexportApiError as exc:
            raise _failure(exc) from None
        tally = await self._reconciler.reconcile_page(page.events)
        return ReconcilePageResult(
            next_url=page.next_url,
            listed=tally.listed,
            known=tally.known,
            missing=tally.missing,
            started=tally.started,
            errors=list(tally.errors),
        )

    @activity.defn(name="record_reconcile_run", no_thread_cancel_exception=True)
    def record_reconcile_run(self, input: ReconcileReport) -> int:
        """Store the run (once per workflow id); its row id."""
        with Session(self._engine) as session:
            row = reconcile_runs.record_run(
                session,
                trigger=input.trigger,
                since=datetime.fromisoformat(input.since),
                until=datetime.fromisoformat(input.until),
                tally=Tally(
                    listed=input.listed,
                    known=input.known,
                    missing=input.missing,
                    started=input.started,
                    errors=tuple(input.errors),
                ),
                started_at=datetime.fromisoformat(input.started_at),
                finished_at=datetime.fromisoformat(input.finished_at),
                workflow_id=input.workflow_id,
            )
            session.commit()
            assert row.id is not None
            return row.id

    def all(self) -> list[Callable[..., Any]]:
        return [self.reconcile_page, self.record_reconcile_run]

    def close(self) -> None:
        """Release the Flexport client's connections."""
        if self._flexport is not None:
            self._flexport.close()
