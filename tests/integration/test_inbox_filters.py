"""The dashboard inbox's filters (`app.store.exception_reads.inbox_page`) answer the same on
SQLite and on PostgreSQL (FLEXHOOK_TEST_DATABASE=postgresql) now that each reads one index range:
the unresolved ones (the default) off the partial index, filtered there by family or assignee
(`family || ''`), and a severity as its rank."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from app.store.exception_reads import InboxFilter
from tests.unit.test_exception_reads import page_ids
from tests.unit.test_exception_store import inbox

__all__ = ["inbox"]  # the fixture, shared with the store's unit tests


def test_each_filter_of_the_inbox_on_this_database(engine: Engine, inbox: dict[str, int]) -> None:
    ids = inbox
    assert page_ids(engine, InboxFilter()) == [
        ids["hold2"],
        ids["hold3"],
        ids["delay4"],
        ids["delay1"],
    ]
    assert page_ids(engine, InboxFilter(family="customs_hold")) == [ids["hold2"], ids["hold3"]]
    assert page_ids(engine, InboxFilter(family="customs_hold", state="all")) == [
        ids["hold1"],
        ids["hold2"],
        ids["hold3"],
    ]
    assert page_ids(engine, InboxFilter(assignee="ben")) == [ids["hold2"]]
    assert page_ids(engine, InboxFilter(severity="critical")) == [ids["hold2"], ids["hold3"]]
    assert page_ids(engine, InboxFilter(severity="normal", state="all")) == [ids["delay1"]]
    assert page_ids(engine, InboxFilter(severity="no-such-severity")) == []
