"""A server span per HTTP request of the web process, when tracing is on (`app.telemetry`).

The span is named by the method and the route's template (`POST /webhooks/flexport`,
`GET /track/{token}`), never by the path itself, which can carry a share token; it records
no header, no query and no body. A `traceparent` the caller sends is not followed: the public
port is the internet's, and nobody outside may make flexhook's spans part of their trace (or
pick its trace ids), so every request begins a trace of its own. The endpoints add the ids
of what they handled (`app.core.trace_attributes`) to the current span.
"""

from __future__ import annotations

from opentelemetry import context, trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send


def route_template(scope: Scope) -> str | None:
    """The template of the route that answered (`/api/shipments/{shipment_id}`), or None."""
    route = scope.get("route")
    if isinstance(route, Route):
        return f"{scope.get('root_path', '')}{route.path}"
    if isinstance(route, Mount):
        return f"{route.path}/"
    return None


class RequestSpans:
    """ASGI middleware: each HTTP request in a SERVER span of `tracer`, at the root of a new
    trace, with its method, route template and response status."""

    def __init__(self, app: ASGIApp, *, tracer: trace.Tracer) -> None:
        self.app = app
        self._tracer = tracer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = str(scope.get("method", "GET"))
        status: list[int] = []

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(int(message["status"]))
            await send(message)

        with self._tracer.start_as_current_span(
            method,
            context=context.Context(),  # a new trace, whatever the caller's traceparent says
            kind=SpanKind.SERVER,
            attributes={"http.request.method": method},
            record_exception=False,  # its message may quote what the caller sent
            set_status_on_exception=False,
        ) as span:
            try:
                await self.app(scope, receive, sending)
            except Exception as exc:
                span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
                raise
            finally:
                template = route_template(scope)
                if template is not None:
                    span.update_name(f"{method} {template}")
                    span.set_attribute("http.route", template)
                if status:
                    span.set_attribute("http.response.status_code", status[0])
                    if status[0] >= 500:
                        span.set_status(Status(StatusCode.ERROR))
