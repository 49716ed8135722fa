"""The exception inbox's tables (issue 19): one row per (shipment, family) problem, its
append-only timeline, and the clearing events that came before any report of their family.
Kept apart from `app.store.models` (which holds every other table) to keep modules short; the
store's engine and the migrations register them on import."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.store.models import UTCDateTime

# The columns the inbox is ordered by: most severe first, then oldest, then by id (keyset).
INBOX_ORDER = ("severity_rank", "opened_at", "id")
# The rows of the metrics' open gauges (`app.store.exception_stats`): every state but resolved.
UNRESOLVED = sa.text("state != 'resolved'")


def _no_markers() -> list[list[str]]:
    return []


def _no_notices() -> list[list[str | int]]:
    return []


class ShipmentExceptionRow(SQLModel, table=True):
    """One problem of one shipment (`app.core.exception_state.ShipmentException`) with the
    columns its lists filter and sort on. `markers` are the core's stamped markers as
    `[stamp, kind, source]` (and a fourth, `about`, for a report made after the fact: the
    missed ETA's); every other state column is derived from them and the person's
    fields. `version` grows with each write: writers compare-and-set on it, so a person's
    action and automation never overwrite each other."""

    __tablename__ = "shipment_exception"
    __table_args__ = (
        sa.UniqueConstraint("shipment_id", "family", name="uq_shipment_exception_family"),
        sa.Index("ix_shipment_exception_inbox", *INBOX_ORDER),
        sa.Index("ix_shipment_exception_state_inbox", "state", *INBOX_ORDER),
        sa.Index("ix_shipment_exception_family_inbox", "family", *INBOX_ORDER),
        sa.Index("ix_shipment_exception_assignee_inbox", "assignee", *INBOX_ORDER),
        sa.Index(
            "ix_shipment_exception_unresolved",
            "opened_at",
            sqlite_where=UNRESOLVED,
            postgresql_where=UNRESOLVED,
        ),
        sa.Index(
            "ix_shipment_exception_unresolved_inbox",
            *INBOX_ORDER,
            sqlite_where=UNRESOLVED,
            postgresql_where=UNRESOLVED,
        ),
        sa.Index(
            "ix_shipment_exception_unresolved_family",
            "family",
            "severity",
            sqlite_where=UNRESOLVED,
            postgresql_where=UNRESOLVED,
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    shipment_id: str = Field(max_length=64)
    family: str = Field(max_length=32)
    severity: str = Field(max_length=16)  # critical | high | normal | low
    severity_rank: int  # its place in `SEVERITIES`: 0 is the most severe
    state: str = Field(max_length=16)  # open | acknowledged | snoozed | resolved
    occurrences: int = 0
    recurrences: int = 0
    opened_at: datetime = Field(sa_type=UTCDateTime)
    acknowledged_by: str | None = Field(default=None, max_length=64)
    acknowledged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    assignee: str | None = Field(default=None, max_length=64)
    snoozed_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # `flexport:` and an event id (at most 200: `app.core.limits.EVENT_ID_CHARS`), or a name.
    resolved_by: str | None = Field(default=None, max_length=240)
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    markers: Any = Field(default_factory=_no_markers, sa_type=sa.JSON)
    version: int = 1
    # The watch's memory (`workflows.exception_watch`): the `opened_at` of the episode it
    # escalated and reminded of (each once per episode), and the outbox of notices to persons
    # (`[to, kind, version, when]`, `1` appended once planned), written in the same
    # compare-and-set as the transition.
    escalated_for: datetime | None = Field(default=None, sa_type=UTCDateTime)
    reminded_for: datetime | None = Field(default=None, sa_type=UTCDateTime)
    notices: Any = Field(default_factory=_no_notices, sa_type=sa.JSON)


class ExceptionEntry(SQLModel, table=True):
    """One transition of an exception's timeline; appended, never updated or deleted."""

    __tablename__ = "exception_entry"
    __table_args__ = (sa.Index("ix_exception_entry_exception", "exception_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    exception_id: int
    at: datetime = Field(sa_type=UTCDateTime)
    who: str = Field(max_length=240)  # a person's name, `system` or `flexport:<event id>`
    what: str = Field(max_length=64)
    note: str | None = None


class EarlyClearing(SQLModel, table=True):
    """A clearing event of a family the shipment had no exception of yet (a release that came
    before the hold it releases): handed to the exception when its first report opens it."""

    __tablename__ = "exception_early_clearing"
    __table_args__ = (
        sa.UniqueConstraint(
            "shipment_id", "family", "event_id", name="uq_exception_early_clearing"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    shipment_id: str = Field(max_length=64)
    family: str = Field(max_length=32)
    event_id: str = Field(max_length=200)
    stamp: str = Field(max_length=240)


class ExceptionStat(SQLModel, table=True):
    """One bucket of a histogram of the inbox's metrics (`app.store.exception_stats`): how many
    observations of `measure` (`acknowledge`, `resolve`) fell in it (not cumulative) and their
    seconds summed. Incremented in the transaction of the transition it measures, so every
    process reads the same histogram."""

    __tablename__ = "exception_stats"

    measure: str = Field(primary_key=True, max_length=16)
    le: str = Field(primary_key=True, max_length=16)  # the bucket's upper bound, or "+Inf"
    observations: int = 0
    seconds_sum: float = 0.0


class UntoldWatch(SQLModel, table=True):
    """An exception a person changed whose watch workflow has not heard of it yet: marked in
    the action's own transaction and forgotten once the watch is told
    (`app.store.untold_watches`), so a change made while Temporal is away is told when it
    answers again (`app.ingest.watch_relay`). `version`: the exception's row version after the
    latest untold change (the row's compare-and-set orders its changes); `since`: when that
    change was made, or when a failed tell put it back in the queue."""

    __tablename__ = "exception_watch_untold"
    __table_args__ = (sa.Index("ix_exception_watch_untold_since", "since"),)

    exception_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    version: int
    since: datetime = Field(sa_type=UTCDateTime)
