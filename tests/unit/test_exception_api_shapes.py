"""The exceptions API's shapes on their own: the list's cursor (opaque, signed: a changed, cut,
foreign or non-ASCII one is refused), the refusals of the bodies (saying the rule that was
broken), and an exception's address in the dashboard's inbox."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.store.exceptions import Cursor
from app.web import exception_schemas, schemas
from app.web.errors import BadRequest
from app.web.exceptions import decode_cursor, encode_cursor, exception_url

KEY = b"k" * 32
OTHER_KEY = b"o" * 32
CURSOR = Cursor(1, datetime(2026, 12, 1, 8, 0, 0, 123456, tzinfo=UTC), 42)


def test_a_cursor_reads_back_exactly() -> None:
    assert decode_cursor(encode_cursor(CURSOR, KEY), KEY) == CURSOR


@pytest.mark.parametrize(
    "changed",
    [
        lambda c: c.replace(".42.", ".43.", 1),
        lambda c: "0" + c[1:],
        lambda c: c[:-1],
        lambda c: c.rpartition(".")[0],
        lambda c: c + "A",
        lambda c: encode_cursor(CURSOR, OTHER_KEY),
        lambda c: "Hé." + c,
        lambda c: "",
        lambda c: "....",
    ],
)
def test_a_changed_cursor_is_refused(changed: object) -> None:
    assert callable(changed)
    with pytest.raises(BadRequest, match="not a cursor this API gave"):
        decode_cursor(changed(encode_cursor(CURSOR, KEY)), KEY)


def test_a_signed_cursor_out_of_range_is_refused_all_the_same() -> None:
    for cursor in (Cursor(9, CURSOR.opened_at, 1), Cursor(0, CURSOR.opened_at, 2**31)):
        with pytest.raises(BadRequest):
            decode_cursor(encode_cursor(cursor, KEY), KEY)


@pytest.mark.parametrize(
    ("model", "body", "said"),
    [
        (exception_schemas.NoteBody, {"note": "a\x1bb"}, "note must not hold control characters"),
        (exception_schemas.NoteBody, {"note": "x" * 2001}, "note must be at most 2000 characters"),
        (exception_schemas.NoteBody, {}, 'expected {"note": "<text>"}'),
        (exception_schemas.ActionBody, {"assignee": "ada"}, "unknown fields ['assignee']"),
        (
            exception_schemas.SnoozeBody,
            {"until": "2026-12-24T09:00:00"},
            "until must be an ISO 8601 time",
        ),
        (
            exception_schemas.BulkBody,
            {"filter": {"family": "customs"}, "action": "acknowledge"},
            "filter.family must be one of customs_hold, export_customs_exam",
        ),
        (exception_schemas.BulkBody, {"action": "acknowledge"}, 'expected {"filter"'),
        (exception_schemas.BulkBody, {"filter": {}, "action": "shout"}, 'expected {"filter"'),
    ],
)
def test_a_body_refusal_says_the_rule(model: type[schemas.Body], body: object, said: str) -> None:
    with pytest.raises(BadRequest) as refused:
        schemas.body_as(model, body)
    assert said in str(refused.value)


def test_tabs_and_line_breaks_are_fine_in_a_note() -> None:
    note = "first line\r\n\tsecond line, 12 ° C, 貨物"
    assert schemas.body_as(exception_schemas.NoteBody, {"note": note}).note == note


def test_an_exception_url_is_its_page_in_the_inbox() -> None:
    assert exception_url("https://flexhook.example.com/", 7) == (
        "https://flexhook.example.com/dashboard/exceptions/7"
    )
    assert exception_url("", 7) == "/dashboard/exceptions/7"
