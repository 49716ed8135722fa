"""Every refusal of the web process as JSON `{"error": ..., "detail": ...}`.

`ERROR_STATUS` is the one table from an exception of any layer to a status code and a stable
error name; the exception handlers here answer with it.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ExceptionHandler

from app.core.access import AccessError
from app.core.errors import MalformedEvent
from app.core.signature import SignatureError
from app.ingest.errors import (
    EventRejected,
    EventTooLarge,
    PayloadRemoved,
    TemporalUnavailable,
    Unavailable,
)
from app.store.recipients import InvalidRecipient, RecipientExists, TooManyRecipients
from app.store.shares import TooManyShares
from app.store.subscriptions import InvalidSubscription, TooManySubscriptions
from app.store.tokens import TokenExists


class RequestError(Exception):
    """A delivery we refuse before it reaches the core."""


class BodyTooLarge(RequestError):
    pass


class BodyTimeout(RequestError):
    """The body did not arrive within the read deadline (a client trickling it, or gone)."""


class UnsupportedEncoding(RequestError):
    pass


class BadRequest(RequestError):
    pass


ERROR_STATUS: dict[type[Exception], tuple[int, str]] = {
    SignatureError: (401, "invalid_signature"),
    MalformedEvent: (400, "malformed_event"),
    BadRequest: (400, "bad_request"),
    InvalidSubscription: (400, "invalid_subscription"),
    InvalidRecipient: (400, "invalid_recipient"),
    RecipientExists: (409, "recipient_exists"),
    TooManyRecipients: (409, "too_many_recipients"),
    TooManySubscriptions: (409, "too_many_subscriptions"),
    TooManyShares: (409, "too_many_shares"),
    AccessError: (400, "invalid_token"),
    TokenExists: (409, "token_exists"),
    BodyTooLarge: (413, "body_too_large"),
    BodyTimeout: (408, "body_timeout"),
    UnsupportedEncoding: (415, "unsupported_encoding"),
    EventTooLarge: (413, "body_too_large"),
    EventRejected: (422, "rejected_by_temporal"),
    PayloadRemoved: (409, "payload_removed"),
    TemporalUnavailable: (503, "temporal_unavailable"),
    Unavailable: (503, "unavailable"),
}


def refusal(exc: BaseException) -> tuple[int, str] | None:
    """The status code and error name of `exc` (its nearest class in the table), or None."""
    return next((ERROR_STATUS[c] for c in type(exc).__mro__ if c in ERROR_STATUS), None)


def error_response(status: int, error: str, detail: str) -> JSONResponse:
    # After a 408 the rest of the body may still be on its way: the connection is not reused.
    headers = {"connection": "close"} if status == 408 else None
    return JSONResponse({"error": error, "detail": detail}, status_code=status, headers=headers)


def not_found(detail: str) -> JSONResponse:
    return error_response(404, "not_found", detail)


async def handle_error(request: Request, exc: Exception) -> Response:
    """An exception from the table as its status code and error name."""
    found = refusal(exc)
    assert found is not None, "registered only for the classes of ERROR_STATUS"
    status, name = found
    return error_response(status, name, str(exc) or name)


async def handle_http_error(request: Request, exc: Exception) -> Response:
    """Routing's own refusals (404, 405) in the JSON shape of every other one."""
    assert isinstance(exc, HTTPException)
    name = exc.detail.lower().replace(" ", "_")
    return JSONResponse(
        {"error": name, "detail": exc.detail}, status_code=exc.status_code, headers=exc.headers
    )


EXCEPTION_HANDLERS: dict[type[Exception], ExceptionHandler] = {
    HTTPException: handle_http_error,
    **dict.fromkeys(ERROR_STATUS, handle_error),
}
