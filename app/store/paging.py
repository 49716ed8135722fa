"""Keyset pages of the lists that show newest first: a page starts after the last row of the one
before (its time and id, the cursor), so it walks its index from there and reads as many rows as
it shows, however long the list; rows written meanwhile never shift a page."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar, cast

import sqlalchemy as sa
from sqlalchemy.orm import QueryableAttribute, defer
from sqlalchemy.orm.interfaces import LoaderOption

from app.store.models import Shipment

R = TypeVar("R")


@dataclass(frozen=True)
class TimeCursor:
    """Where a page ended: its last row's time and id (the lists' order, both descending)."""

    at: datetime
    id: str


@dataclass(frozen=True)
class Page(Generic[R]):
    rows: list[R]
    next: TimeCursor | None  # None: this was the last page


def older_than(time: Any, key: Any, after: TimeCursor | None) -> sa.ColumnElement[bool]:
    """Rows after `after` in (time, key) descending order; every row when None. Written as a range
    on `time` and a condition on the rest, the form both databases search an index with."""
    if after is None:
        return sa.true()
    return sa.and_(time <= after.at, sa.or_(time < after.at, key < after.id))


def newest_first(time: Any, key: Any) -> tuple[Any, Any]:
    """The lists' order: `time` descending, then `key` descending (one direction: one index)."""
    return time.desc(), key.desc()


def cut(rows: Sequence[R], limit: int, cursor_of: Callable[[R], TimeCursor]) -> Page[R]:
    """The page of `rows` read with `limit + 1`: the extra row says there is a page after."""
    shown = list(rows[:limit])
    if len(rows) <= limit or not shown:
        return Page(shown, None)
    return Page(shown, cursor_of(shown[-1]))


def shipment_cursor(row: Shipment) -> TimeCursor:
    """The cursor after `row` in the shipment lists' order."""
    assert row.updated_at is not None  # every write of a shipment sets it (`projection.merge`)
    return TimeCursor(row.updated_at, row.id)


def without_documents() -> tuple[LoaderOption, ...]:
    """Load options for shipment lists: a shipment's kept document and its versions are large,
    and no list shows them (a sort of the matches of a search would carry them along)."""
    kept = cast("QueryableAttribute[str]", Shipment.document)  # ORM attributes, typed as values
    versions = cast("QueryableAttribute[str]", Shipment.versions)
    return defer(kept), defer(versions)
