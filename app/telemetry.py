"""OpenTelemetry traces of a flexhook process, off unless the standard `OTEL_*` variables ask.

Tracing is on when `OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set,
`OTEL_SDK_DISABLED` is not true and `OTEL_TRACES_EXPORTER` is not `none`
(`Settings.tracing_enabled`; `app.settings` reads those and `OTEL_SERVICE_NAME`).
The entry points build one `Tracing` per process (`tracing`) and hand it down: the web app's
request spans (`app.web.tracing`), Temporal's own interceptor on the client and through it on
the workers (StartWorkflow, RunWorkflow, StartActivity, RunActivity), the SQLAlchemy engine's
statement spans and the Apprise send spans of `notifications.notifier`. Everything else the
exporter and the batch processor take (`OTEL_EXPORTER_OTLP_HEADERS`, `_TIMEOUT`,
`_CERTIFICATE`, `OTEL_BSP_*`, `OTEL_RESOURCE_ATTRIBUTES`) is read by OpenTelemetry itself.
Without tracing nothing is built: no provider, no exporter, no listener on the engine, no
interceptor, no log filter.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from opentelemetry import trace
from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.trace import Status, StatusCode
from opentelemetry.util.types import Attributes, AttributeValue
from sqlalchemy.engine import Engine
from temporalio.contrib.opentelemetry import TracingInterceptor

TRACER_NAME = "flexhook"


class StatementSpan(trace.Span):
    """A statement's span whose failure says no more than that it failed: the database's own
    message can quote the row (PostgreSQL's DETAIL: "Failing row contains (...)"), which the
    SQLAlchemy instrumentation would put in the span's status."""

    def __init__(self, span: trace.Span) -> None:
        self._span = span

    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        self._span.set_status(Status(status.status_code if isinstance(status, Status) else status))

    def record_exception(self, exception: BaseException, *args: Any, **kwargs: Any) -> None:
        self._span.set_attribute("error.type", type(exception).__name__)

    def end(self, end_time: int | None = None) -> None:
        self._span.end(end_time)

    def get_span_context(self) -> trace.SpanContext:
        return self._span.get_span_context()

    def set_attributes(self, attributes: Mapping[str, AttributeValue]) -> None:
        self._span.set_attributes(attributes)

    def set_attribute(self, key: str, value: AttributeValue) -> None:
        self._span.set_attribute(key, value)

    def add_event(self, name: str, *args: Any, **kwargs: Any) -> None:
        self._span.add_event(name, *args, **kwargs)

    def update_name(self, name: str) -> None:
        self._span.update_name(name)

    def is_recording(self) -> bool:
        return self._span.is_recording()


class ChildSpansOnly(trace.Tracer):
    """A tracer of statements that starts a span only inside another one (a request, an
    activity): the statements of the spool relay's polls, the watches and the scrapes would
    each be a trace of their own, many a minute, telling nobody anything."""

    def __init__(self, tracer: trace.Tracer) -> None:
        self._tracer = tracer

    def start_span(self, name: str, context: Any = None, *args: Any, **kwargs: Any) -> trace.Span:
        if not trace.get_current_span(context).get_span_context().is_valid:
            return trace.INVALID_SPAN
        return StatementSpan(self._tracer.start_span(name, context, *args, **kwargs))

    @contextmanager
    def start_as_current_span(  # type: ignore[override]
        self, name: str, context: Any = None, *args: Any, **kwargs: Any
    ) -> Iterator[trace.Span]:
        span = self.start_span(name, context, *args, **kwargs)
        with trace.use_span(span, end_on_exit=True) as current:
            yield current


@dataclass(frozen=True)
class Tracing:
    """One process's tracer provider and what is built on it. Tests pass one whose provider
    exports to memory."""

    provider: TracerProvider

    @property
    def tracer(self) -> trace.Tracer:
        """flexhook's own spans: the HTTP requests, the Apprise sends."""
        return self.provider.get_tracer(TRACER_NAME)

    def interceptors(self) -> Sequence[TracingInterceptor]:
        """For `Client.connect(interceptors=...)`: a worker built on that client uses them too."""
        return [TracingInterceptor(self.provider.get_tracer("temporalio"))]

    def trace_engine(self, engine: Engine) -> None:
        """A span per statement on `engine` inside a traced request or activity: the statement
        text with its placeholders, never its parameters (no SQL comment is added)."""
        tracer = self.provider.get_tracer("opentelemetry.instrumentation.sqlalchemy")
        unused = NoOpMeterProvider().get_meter("flexhook").create_up_down_counter("db.connections")
        EngineTracer(  # type: ignore[no-untyped-call]
            ChildSpansOnly(tracer), engine, unused, enable_commenter=False
        )

    def shutdown(self) -> None:
        """Export what is pending and stop (the process is about to leave)."""
        self.provider.shutdown()


def tracing(
    *, service_name: str, exporter: SpanExporter | None = None, attributes: Attributes = None
) -> Tracing:
    """A provider for `service_name` exporting in batches to `exporter` (default: OTLP over
    HTTP, configured by OpenTelemetry's own OTEL_EXPORTER_OTLP_* variables)."""
    if exporter is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter()
    resource = Resource.create({**(attributes or {}), SERVICE_NAME: service_name})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return Tracing(provider)


class TraceIds(logging.Filter):
    """Puts the current trace's ids on each record (`trace_id`, `span_id`, W3C hex; "" outside
    any span): JSON logs carry them as fields, the text format at the end of the line."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            record.trace_id = trace.format_trace_id(context.trace_id)
            record.span_id = trace.format_span_id(context.span_id)
        else:
            record.trace_id = record.span_id = ""
        return True


def log_trace_ids(handlers: Sequence[logging.Handler], *, text_format: str | None = None) -> None:
    """Add `TraceIds` to `handlers`; with `text_format`, give the plain-text ones that format
    followed by the trace id."""
    for handler in handlers:
        handler.addFilter(TraceIds())
        formatter = handler.formatter
        if text_format and (formatter is None or type(formatter) is logging.Formatter):
            handler.setFormatter(logging.Formatter(f"{text_format} trace_id=%(trace_id)s"))
