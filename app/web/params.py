"""Path parameters of the API, checked before they reach the database. (Query strings are read
through their models, `app.web.schemas.read_query`.)"""

from __future__ import annotations

from starlette.requests import Request

from app.core.ids import parse_row_id


def is_number(value: str) -> bool:
    """ASCII digits only: `isdigit` alone admits ² and other digits `int` refuses."""
    return value.isascii() and value.isdigit()


def row_id(request: Request, name: str) -> int | None:
    """The path parameter `name` as a row id (`app.core.ids.parse_row_id`): None when it cannot
    be one, and the caller answers 404."""
    return parse_row_id(request.path_params[name])
