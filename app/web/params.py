"""Path parameters of the API, checked before they reach the database. (Query strings are read
through their models, `app.web.schemas.read_query`.)"""

from __future__ import annotations

from starlette.requests import Request


def is_number(value: str) -> bool:
    """ASCII digits only: `isdigit` alone admits ² and other digits `int` refuses."""
    return value.isascii() and value.isdigit()


# Row ids are INTEGER columns: 32 bits on PostgreSQL, which refuses a larger value outright.
MAX_ROW_ID = 2**31 - 1


def row_id(request: Request, name: str) -> int | None:
    """The path parameter `name` as a row id, or None when it cannot be one (not digits, or more
    than the id column holds): the caller answers 404, as for an id that matches no row."""
    value = request.path_params[name]
    if not is_number(value) or len(value) > 10:
        return None
    number = int(value)
    return number if number <= MAX_ROW_ID else None
