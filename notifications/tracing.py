"""The span around each Apprise send (`Notifier.send`), when tracing is on (`app.telemetry`):
which alert of which event about which shipment, to which destination by its id and scheme.
Never the destination's URL (it carries credentials), the message or a share token."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer

from app.core.alert import Alert
from app.core.trace_attributes import (
    ALERT_KIND,
    DESTINATION_ID,
    DESTINATION_SCHEME,
    event_attributes,
)

SEND_SPAN: Final = "apprise.send"
NO_TRACING: Final[Tracer] = trace.NoOpTracer()


@contextmanager
def send_span(
    tracer: Tracer, destination_id: str, scheme: str | None, alert: Alert
) -> Iterator[None]:
    """A CLIENT span of `tracer` around one send; a failed send marks it an error by the
    exception's type alone (its message names the destination)."""
    attributes = {
        **event_attributes(
            event_id=alert.event_id, event_type=alert.event_type, shipment_id=alert.shipment_id
        ),
        ALERT_KIND: alert.kind,
        DESTINATION_ID: destination_id,
        DESTINATION_SCHEME: scheme or "",
    }
    with tracer.start_as_current_span(
        SEND_SPAN,
        kind=SpanKind.CLIENT,
        attributes=attributes,
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        try:
            yield
        except Exception as exc:
            span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            raise
