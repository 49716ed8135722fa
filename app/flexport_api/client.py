"""Flexport's REST API over httpx: the Events API that reconciliation pages through, and single
events and shipments.

Every answer is unwrapped from Flexport's `/api/response` envelope; anything else is a
`FlexportResponseError`. A request is retried, at most `max_retries` times, on 5xx answers,
timeouts and connection errors (exponential backoff) and on 429 (after the `Retry-After` it names).
The token is sent only to the origin of `base_url`: a `next` link elsewhere is refused. Neither the
token nor a payload is logged or put in an error message.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx

DEFAULT_BASE_URL = "https://api.flexport.com"
TOKEN_HINT = "check FLEXPORT_API_TOKEN and its scopes"

Json = dict[str, Any]

log = logging.getLogger(__name__)

_DEFAULT_PORTS = {"http": 80, "https": 443}
# What a retry can cure: the request may not have reached Flexport, or its answer did not arrive.
_TRANSIENT = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


class FlexportApiError(Exception):
    """Base error of the Flexport API client; `status` is the HTTP status when there was one."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class FlexportAuthError(FlexportApiError):
    """Flexport refused the token (401) or its scopes do not cover the endpoint (403)."""


class FlexportNotFound(FlexportApiError):
    """Flexport has no such event or shipment (404)."""


class FlexportUnavailable(FlexportApiError):
    """Flexport kept failing (5xx, 429, timeouts, connection errors) through every retry.

    `retry_after` is the wait in seconds Flexport last asked for (429 `Retry-After`), if any: a
    caller that schedules its own retries (a Temporal activity) can wait that long.
    """

    def __init__(
        self, message: str, *, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after


class FlexportResponseError(FlexportApiError):
    """Flexport's answer is not its documented envelope, or links to another origin."""


@dataclass(frozen=True)
class Page:
    """One page of `GET /events`: its Event objects in Flexport's order, and the absolute URL
    of the next page (None on the last page)."""

    events: list[Json]
    next_url: str | None


def retry_after_seconds(value: str | None, *, now: datetime | None = None) -> float | None:
    """The wait a `Retry-After` header asks for, in seconds (never negative): a number of
    seconds or an HTTP date. None when the header is absent or unreadable."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # HTTP dates are GMT; `-0000` parses as naive
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _iso(name: str, value: datetime) -> str:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} needs a time zone: Flexport compares occurred_at with an offset")
    return value.isoformat()


def event_filters(
    *,
    since: datetime | None,
    until: datetime | None,
    type: str | None = None,
    shipment_id: int | str | None = None,
    resource: str | None = None,
) -> dict[str, str]:
    """The `f.` query parameters of `GET /events` for these filters (None: not filtered).

    `since` and `until` bound `occurred_at` inclusively and must be timezone-aware; `resource`
    is a `data.resource._object` such as `/shipment_leg`. Raises `ValueError` on a naive datetime.
    """
    filters: dict[str, str] = {}
    if since is not None:
        filters["f.occurred_at.gte"] = _iso("since", since)
    if until is not None:
        filters["f.occurred_at.lte"] = _iso("until", until)
    if type is not None:
        filters["f.type"] = type
    if shipment_id is not None:
        filters["f.data.shipment.id"] = str(shipment_id)
    if resource is not None:
        filters["f.data.resource._object"] = resource
    return filters


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port or _DEFAULT_PORTS.get(url.scheme)


def _label(url: str) -> str:
    """`GET <path>` for messages: no host, no query (the query of a `next` link is opaque)."""
    return f"GET {httpx.URL(url).path}"


def _unwrap(body: Any, label: str) -> Any:
    if not isinstance(body, dict) or body.get("_object") != "/api/response" or "data" not in body:
        raise FlexportResponseError(f"{label}: the answer is not an /api/response envelope")
    return body["data"]


def _object(data: Any, label: str) -> Json:
    if not isinstance(data, dict):
        raise FlexportResponseError(f"{label}: the envelope's data is not an object")
    return data


def _page(data: Any, label: str) -> Page:
    if not isinstance(data, dict) or data.get("_object") != "/api/collections/paginated":
        raise FlexportResponseError(f"{label}: the data is not an /api/collections/paginated")
    events, next_url = data.get("data"), data.get("next")
    if not isinstance(events, list) or not all(isinstance(event, dict) for event in events):
        raise FlexportResponseError(f"{label}: the collection's data is not a list of objects")
    if next_url is not None and not isinstance(next_url, str):
        raise FlexportResponseError(f"{label}: the collection's next is not a URL")
    return Page(events=events, next_url=next_url or None)


def _error_detail(response: httpx.Response) -> str:
    """Flexport's own error message, shortened; never the body as a whole."""
    try:
        error = response.json().get("error")
        message = error.get("message") if isinstance(error, dict) else None
    except (ValueError, AttributeError):
        return ""
    return f": {message[:200]}" if isinstance(message, str) and message else ""


class FlexportClient:
    """A synchronous client for Flexport's API; safe to share between threads. Close it (or use
    it as a context manager) to release its connections."""

    def __init__(
        self,
        *,
        token: str,
        base_url: str = DEFAULT_BASE_URL,
        version: str = "2",
        timeout: float = 30.0,
        max_retries: int = 4,
        backoff: float = 0.5,
        max_delay: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        """`backoff` is the first wait after a failure, doubled at each retry and capped at
        `max_delay`; a `Retry-After` longer than `max_delay` is not waited for (the request
        fails with `FlexportUnavailable.retry_after` set). `sleep` waits between attempts."""
        if not token:
            raise ValueError("a Flexport API token is required")
        if max_retries < 0 or backoff < 0 or max_delay < 0:
            raise ValueError("max_retries, backoff and max_delay cannot be negative")
        self._origin = _origin(httpx.URL(base_url))
        self._max_retries = max_retries
        self._backoff = backoff
        self._max_delay = max_delay
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=base_url,
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/json",
                "Flexport-Version": version,
            },
            timeout=httpx.Timeout(timeout),
            transport=transport,
            follow_redirects=False,  # a redirect must not carry the token anywhere
        )

    def __enter__(self) -> FlexportClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Release the client's connections."""
        self._http.close()

    # -- the Events API ------------------------------------------------------------------------

    def list_events(
        self,
        *,
        since: datetime | None,
        until: datetime | None,
        type: str | None = None,
        shipment_id: int | str | None = None,
        resource: str | None = None,
    ) -> Iterator[Json]:
        """Every Event matching the filters (see `event_filters`), once each, in Flexport's
        order, fetched page by page as the iterator is consumed."""
        for page in self.pages(
            since=since, until=until, type=type, shipment_id=shipment_id, resource=resource
        ):
            yield from page.events

    def pages(
        self,
        *,
        since: datetime | None,
        until: datetime | None,
        type: str | None = None,
        shipment_id: int | str | None = None,
        resource: str | None = None,
    ) -> Iterator[Page]:
        """The pages of `GET /events` for the filters, following `next` until it is null; for a
        caller that reports progress per page. A `next` link seen twice is refused."""
        page = self.fetch_page(
            None, since=since, until=until, type=type, shipment_id=shipment_id, resource=resource
        )
        yield page
        followed: set[str] = set()
        while page.next_url is not None:
            if page.next_url in followed:
                raise FlexportResponseError("GET /events: a next link repeats; paging would loop")
            followed.add(page.next_url)
            page = self.fetch_page(page.next_url)
            yield page

    def fetch_page(
        self,
        next_url: str | None,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        type: str | None = None,
        shipment_id: int | str | None = None,
        resource: str | None = None,
    ) -> Page:
        """One page of events: the first for the filters when `next_url` is None, else the page
        `next_url` (a `Page.next_url`) links to, whose query carries the filters (the keyword
        filters are then ignored). Lets a caller page through one request at a time."""
        if next_url is None:
            filters = event_filters(
                since=since, until=until, type=type, shipment_id=shipment_id, resource=resource
            )
            return _page(self._get("/events", params=filters), "GET /events")
        self._require_same_origin(next_url)
        return _page(self._get(next_url), _label(next_url))

    # -- single objects ------------------------------------------------------------------------

    def get_event(self, event_id: int | str) -> Json:
        """The Event with this id (`FlexportNotFound` when Flexport has none)."""
        path = f"/events/{quote(str(event_id), safe='')}"
        return _object(self._get(path), f"GET {path}")

    def get_shipment(self, shipment_id: int | str) -> Json:
        """The Shipment with this id (`FlexportNotFound` when Flexport has none)."""
        path = f"/shipments/{quote(str(shipment_id), safe='')}"
        return _object(self._get(path), f"GET {path}")

    # -- one request ---------------------------------------------------------------------------

    def _require_same_origin(self, url: str) -> None:
        try:
            parsed = httpx.URL(url)
        except httpx.InvalidURL:
            raise FlexportResponseError("a next link is not a URL") from None
        if not parsed.is_absolute_url or _origin(parsed) != self._origin:
            # Following it would send the token to whoever the link names.
            raise FlexportResponseError(
                f"refused a next link to {parsed.scheme}://{parsed.host}: not the API's origin"
            )

    def _get(self, url: str, *, params: dict[str, str] | None = None) -> Any:
        """The `data` of the envelope Flexport answers to `GET url` (a path under `base_url`, or
        an absolute URL on its origin)."""
        label = _label(url)
        response = self._send(url, params, label)
        status = response.status_code
        if status in (401, 403):
            raise FlexportAuthError(
                f"Flexport refused the API token ({status}) for {label}: {TOKEN_HINT}",
                status=status,
            )
        if status == 404:
            raise FlexportNotFound(f"Flexport has nothing at {label} (404)", status=status)
        if not 200 <= status < 300:
            raise FlexportApiError(
                f"Flexport answered {status} to {label}{_error_detail(response)}", status=status
            )
        try:
            body = response.json()
        except ValueError:
            kind = response.headers.get("content-type", "no content type")
            raise FlexportResponseError(f"{label}: the answer is not JSON ({kind})") from None
        return _unwrap(body, label)

    def _send(self, url: str, params: dict[str, str] | None, label: str) -> httpx.Response:
        """The first answer that is neither a 5xx nor a 429, retrying those and transport
        failures; `FlexportUnavailable` when the retries run out."""
        for attempt in range(self._max_retries + 1):
            retry_after: float | None = None
            try:
                response = self._http.get(url, params=params)
            except _TRANSIENT as exc:
                problem, status = type(exc).__name__, None
            else:
                status = response.status_code
                if status != 429 and status < 500:
                    return response
                problem = f"{status} {response.reason_phrase}".strip()
                if status == 429:
                    retry_after = retry_after_seconds(response.headers.get("retry-after"))
            delay = self._delay(attempt, retry_after)
            if delay is None:
                raise FlexportUnavailable(
                    f"Flexport asked to wait {retry_after:.0f}s before {label} ({problem}), "
                    f"longer than max_delay {self._max_delay:.0f}s",
                    status=status,
                    retry_after=retry_after,
                )
            if attempt == self._max_retries:
                raise FlexportUnavailable(
                    f"Flexport is unavailable: {label} failed {attempt + 1} time(s), "
                    f"last with {problem}",
                    status=status,
                    retry_after=retry_after,
                )
            log.warning(
                "Flexport %s failed with %s; retry %d of %d in %.1fs",
                label,
                problem,
                attempt + 1,
                self._max_retries,
                delay,
            )
            self._sleep(delay)
        raise AssertionError("unreachable")  # the last attempt returns or raises

    def _delay(self, attempt: int, retry_after: float | None) -> float | None:
        """The wait before the next attempt; None when Flexport asks for more than max_delay."""
        if retry_after is not None:
            return retry_after if retry_after <= self._max_delay else None
        return float(min(self._backoff * 2**attempt, self._max_delay))
