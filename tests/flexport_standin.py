"""A stand-in for Flexport's API: a real HTTP server on loopback that speaks the documented format.

`FlexportStandIn` serves `GET /events` (filters `f.occurred_at.gte`, `f.occurred_at.lte`,
`f.type`, `f.data.shipment.id`, `f.data.resource._object`; pages of `page_size` linked by absolute
`next` URLs), `GET /events/{id}` and `GET /shipments/{id}`, each inside the `/api/response`
envelope, to a client holding the right Bearer token (401 otherwise). It records every request
it receives and can be told to misbehave: 429 with `Retry-After` on the first request to each page,
5xx answers, stalls, a body that is not the envelope, `next` links to another origin.

    with FlexportStandIn(sample_events(), token=token, page_size=4) as flexport:
        client = FlexportClient(base_url=flexport.base_url, token=token)

Events are served in the order given (Flexport documents no order). The shape of error bodies
(`error: {status, code, message}`) is a plausible guess: Flexport's text does not show one.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any
from urllib.parse import urlencode

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.helpers import sample_paths

Json = dict[str, Any]

FILTERS = (
    "f.occurred_at.gte",
    "f.occurred_at.lte",
    "f.type",
    "f.data.shipment.id",
    "f.data.resource._object",
)
_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]


def sample_events() -> list[Json]:
    """The Flexport-format Event objects among the shipped samples (`app/samples`), in file-name
    order: shipment 418563's journey, an invoice, a document and a purchase order."""
    payloads = [json.loads(path.read_bytes()) for path in sample_paths()]
    return [payload for payload in payloads if payload.get("_object") == "/event"]


@dataclass(frozen=True)
class RecordedRequest:
    """One request the stand-in received. `headers` has lowercase names and holds the token:
    it is left out of the repr, so that a failing assertion does not print it."""

    method: str
    path: str
    query: dict[str, str]
    url: str
    headers: dict[str, str] = field(repr=False)


def _parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _part(value: Any, name: str) -> dict[str, Any]:
    """`value[name]` when both are objects, else an empty one (Flexport's nulls)."""
    part = value.get(name) if isinstance(value, Mapping) else None
    return part if isinstance(part, dict) else {}


def _matches(event: Mapping[str, Any], filters: Mapping[str, str]) -> bool:
    data = _part(event, "data")
    shipment, resource = _part(data, "shipment"), _part(data, "resource")

    def occurred() -> datetime:
        return _parse_time(str(event.get("occurred_at")))

    checks: dict[str, Callable[[str], bool]] = {
        "f.occurred_at.gte": lambda value: occurred() >= _parse_time(value),
        "f.occurred_at.lte": lambda value: occurred() <= _parse_time(value),
        "f.type": lambda value: event.get("type") == value,
        "f.data.shipment.id": lambda value: str(shipment.get("id")) == value,
        "f.data.resource._object": lambda value: resource.get("_object") == value,
    }
    return all(checks[name](value) for name, value in filters.items())


class FlexportStandIn:
    """Flexport's API on `127.0.0.1` and an ephemeral port, served by uvicorn in a thread.

    `events` are the Event objects `GET /events` lists (a copy; `add_events` appends more).
    Shipments come from the events' `data.shipment` (the last one listed wins), overridden by
    `shipments`. `token` is the only Bearer token accepted. `page_size` is used unless a request
    names `per`. Start and stop it with `with` (or `start()` / `stop()`).
    """

    def __init__(
        self,
        events: Iterable[Mapping[str, Any]] = (),
        *,
        token: str,
        page_size: int = 50,
        shipments: Iterable[Mapping[str, Any]] = (),
    ) -> None:
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        self.token = token
        self.page_size = page_size
        # Where `next` and `prev` links point; None: this server. Another origin tests a client's
        # refusal to follow them.
        self.next_origin: str | None = None
        self._lock = threading.Lock()
        self._events: list[Json] = [dict(event) for event in events]
        self._shipments: dict[str, Json] = {str(s["id"]): dict(s) for s in shipments}
        self._requests: list[RecordedRequest] = []
        self._failures: tuple[int | None, int] = (0, 500)  # (how many, status); None: all
        self._stalls: tuple[int, float] = (0, 0.0)
        self._canned: list[tuple[int, Any]] = []
        self._throttle: str | None = None
        self._throttled: set[str] = set()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None

    # -- what tests see and set ----------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:<port>`, the `base_url` to give a client; only while started."""
        if self._port is None:
            raise RuntimeError("the Flexport stand-in is not started")
        return f"http://127.0.0.1:{self._port}"

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, in order."""
        with self._lock:
            return list(self._requests)

    def requests_to(self, path: str) -> list[RecordedRequest]:
        """The requests received for `path` (any query)."""
        return [request for request in self.requests if request.path == path]

    def add_events(self, *events: Mapping[str, Any]) -> None:
        """Append events, as if Flexport had delivered more since."""
        with self._lock:
            self._events.extend(dict(event) for event in events)

    def fail_next(self, times: int, *, status: int = 500) -> None:
        """Answer the next `times` requests with `status` (and an error body)."""
        with self._lock:
            self._failures = (times, status)

    def fail_always(self, *, status: int = 500) -> None:
        """Answer every request with `status` until `heal()`."""
        with self._lock:
            self._failures = (None, status)

    def stall_next(self, seconds: float, *, times: int = 1) -> None:
        """Wait `seconds` before answering each of the next `times` requests."""
        with self._lock:
            self._stalls = (times, seconds)

    def throttle_each_page(self, retry_after: str = "1") -> None:
        """Answer the first request for each distinct URL (each page, each object) with 429 and
        `Retry-After: <retry_after>` (seconds or an HTTP date); later requests for it succeed."""
        with self._lock:
            self._throttle = retry_after
            self._throttled.clear()

    def answer_next_with(self, body: Any, *, status: int = 200) -> None:
        """Answer the next request with `body` instead of the envelope: a `str` is sent as
        text/html, anything else as JSON. Calls queue up."""
        with self._lock:
            self._canned.append((status, body))

    def heal(self) -> None:
        """Stop every failure, stall, throttle and canned answer."""
        with self._lock:
            self._failures, self._stalls, self._throttle = (0, 500), (0, 0.0), None
            self._canned.clear()

    # -- the server ----------------------------------------------------------------------------

    def start(self) -> None:
        """Serve on a fresh loopback port; returns once the server accepts connections."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self._port = int(sock.getsockname()[1])
        app = Starlette(routes=[Route("/{path:path}", self._handle, methods=_METHODS)])
        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            ws="none",
            timeout_graceful_shutdown=5,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [sock]},
            name="flexport-standin",
            daemon=True,  # a server that fails to stop must not keep pytest from exiting
        )
        self._thread.start()
        for _ in range(1000):
            if self._server.started:
                return
            if not self._thread.is_alive():
                break
            self._thread.join(0.01)
        self.stop()
        raise RuntimeError("the Flexport stand-in did not start")

    def stop(self) -> None:
        """Stop serving and wait for the server thread to end."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)
        self._server = self._thread = None

    def __enter__(self) -> FlexportStandIn:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- answering -----------------------------------------------------------------------------

    async def _handle(self, request: Request) -> Response:
        with self._lock:
            self._requests.append(
                RecordedRequest(
                    method=request.method,
                    path=request.url.path,
                    query=dict(request.query_params),
                    url=str(request.url),
                    headers={name.lower(): value for name, value in request.headers.items()},
                )
            )
        stall = self._take_stall()
        if stall:
            await asyncio.sleep(stall)
        return self._interfere(request) or self._route(request)

    def _take_stall(self) -> float:
        with self._lock:
            times, seconds = self._stalls
            if times <= 0:
                return 0.0
            self._stalls = (times - 1, seconds)
            return seconds

    def _interfere(self, request: Request) -> Response | None:
        """A failure, an auth refusal, a throttle or a canned answer, in that order; else None."""
        with self._lock:
            times, status = self._failures
            if times is None or times > 0:
                self._failures = (None if times is None else times - 1, status)
                return self._error(request, status, "failure", "the stand-in was told to fail")
            if request.headers.get("authorization") != f"Bearer {self.token}":
                return self._error(request, 401, "unauthorized", "invalid API token")
            url = str(request.url)
            if self._throttle is not None and url not in self._throttled:
                self._throttled.add(url)
                response = self._error(request, 429, "too_many_requests", "slow down")
                response.headers["Retry-After"] = self._throttle
                return response
            if self._canned:
                status, body = self._canned.pop(0)
                if isinstance(body, str):
                    return Response(body, status_code=status, media_type="text/html")
                return JSONResponse(body, status_code=status)
        return None

    def _route(self, request: Request) -> Response:
        if request.method != "GET":
            return self._error(request, 405, "method_not_allowed", "only GET is served")
        match request.url.path.strip("/").split("/"):
            case ["events"]:
                return self._list_events(request)
            case ["events", event_id]:
                with self._lock:
                    found = [e for e in self._events if str(e.get("id")) == event_id]
                return self._one(request, found[-1] if found else None)
            case ["shipments", shipment_id]:
                return self._one(request, self._shipment(shipment_id))
        return self._error(request, 404, "not_found", "no such endpoint")

    def _shipment(self, shipment_id: str) -> Json | None:
        with self._lock:
            if shipment_id in self._shipments:
                return self._shipments[shipment_id]
            shipments = [_part(_part(event, "data"), "shipment") for event in self._events]
        found = [shipment for shipment in shipments if str(shipment.get("id")) == shipment_id]
        return found[-1] if found else None

    def _one(self, request: Request, found: Json | None) -> Response:
        if found is None:
            return self._error(request, 404, "not_found", "no such object")
        return self._envelope(request, found)

    def _list_events(self, request: Request) -> Response:
        params = request.query_params
        filters = {name: value for name, value in params.items() if name.startswith("f.")}
        unknown = sorted(set(filters) - set(FILTERS))
        if unknown:
            return self._error(request, 400, "bad_request", f"unknown filter {unknown[0]}")
        try:
            page, per = int(params.get("page", "1")), int(params.get("per", self.page_size))
            with self._lock:
                matching = [event for event in self._events if _matches(event, filters)]
        except ValueError as exc:
            return self._error(request, 400, "bad_request", f"unreadable parameter: {exc}")
        if page < 1 or per < 1:
            return self._error(request, 400, "bad_request", "page and per start at 1")
        origin = self.next_origin or self.base_url

        def link(number: int) -> str:
            return f"{origin}/events?{urlencode({**filters, 'page': number, 'per': per})}"

        collection = {
            "_object": "/api/collections/paginated",
            "prev": link(page - 1) if page > 1 else None,
            "next": link(page + 1) if page * per < len(matching) else None,
            "data": matching[(page - 1) * per : page * per],
        }
        return self._envelope(request, collection)

    def _version(self, request: Request) -> int | str:
        version = request.headers.get("flexport-version", "2")
        return int(version) if version.isdigit() else version

    def _envelope(self, request: Request, data: Any) -> Response:
        return JSONResponse(
            {
                "_object": "/api/response",
                "self": str(request.url),
                "version": self._version(request),
                "data": data,
            }
        )

    def _error(self, request: Request, status: int, code: str, message: str) -> Response:
        error = {"_object": "/api/error", "status": status, "code": code, "message": message}
        body = {
            "_object": "/api/response",
            "self": str(request.url),
            "version": self._version(request),
            "data": None,
            "error": error,
        }
        return JSONResponse(body, status_code=status)
