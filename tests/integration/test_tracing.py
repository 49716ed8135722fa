"""OpenTelemetry traces through the whole pipeline: one trace from the webhook request through
Temporal's start, the workflow, its activities, their SQL and the Apprise send, carrying the
event's ids and nothing an attacker or a leak could use; the log lines carry its trace id."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, format_trace_id

from app.core.events import parse_event
from app.core.trace_attributes import DESTINATION_ID, EVENT_ID, EVENT_TYPE, SHIPMENT_ID
from app.telemetry import TraceIds, Tracing, tracing
from notifications.tracing import SEND_SPAN
from tests.helpers import load_sample
from tests.integration.harness import JsonEndpoint, Samples, StackFactory, write_config
from tests.log_registry import register_secret

pytestmark = [pytest.mark.integration, pytest.mark.observability]

ALL_KINDS = "departed, arrived, delivered, eta, customs, exception"


@pytest.fixture
def traces() -> Iterator[tuple[Tracing, InMemorySpanExporter]]:
    """A provider exporting to memory, built as `flexhook web` and `worker` build theirs."""
    exporter = InMemorySpanExporter()
    built = tracing(service_name="flexhook-test", exporter=exporter)
    yield built, exporter
    built.shutdown()


def finished(built: Tracing, exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    built.provider.force_flush()
    return list(exporter.get_finished_spans())


def attribute_text(span: ReadableSpan) -> str:
    """Everything a span says: its attributes, its status's description, its events'."""
    said = [f"{key}={value!s}" for key, value in (span.attributes or {}).items()]
    said.append(span.status.description or "")
    for event in span.events:
        said += [event.name, *(f"{k}={v!s}" for k, v in (event.attributes or {}).items())]
    return " ".join(said)


def by_name(spans: list[ReadableSpan], prefix: str) -> list[ReadableSpan]:
    return [span for span in spans if span.name.startswith(prefix)]


async def test_a_forged_traceparent_starts_no_foreign_trace_and_names_no_event(
    make_stack: StackFactory,
    samples: Samples,
    traces: tuple[Tracing, InMemorySpanExporter],
) -> None:
    built, exporter = traces
    stack = await make_stack(with_worker=False, tracing=built)
    foreign = "4bf92f3577b34da6a3ce929d0e0e4736"
    body = samples.body("06_leg_departed")

    response = await stack.post(
        body, secret="forged", headers={"traceparent": f"00-{foreign}-00f067aa0ba902b7-01"}
    )

    assert response.status_code == 401
    [request] = by_name(finished(built, exporter), "POST /webhooks/flexport")
    assert request.kind == SpanKind.SERVER
    assert request.parent is None
    assert request.context is not None
    assert format_trace_id(request.context.trace_id) != foreign
    assert request.attributes is not None
    assert request.attributes["http.response.status_code"] == 401
    # Unverified: nothing it claims becomes an attribute, and neither do its headers or body.
    assert EVENT_ID not in request.attributes
    assert stack.secret not in attribute_text(request)
    assert str(load_sample("06_leg_departed")["id"]) not in attribute_text(request)


async def test_one_trace_runs_from_the_webhook_to_the_apprise_send(
    make_stack: StackFactory,
    samples: Samples,
    traces: tuple[Tracing, InMemorySpanExporter],
    json_server: JsonEndpoint,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    built, exporter = traces
    password = secrets.token_urlsafe(12)
    register_secret(password)
    url = f"json://flexhook:{password}@127.0.0.1:{json_server.port}/hook"
    config = write_config(tmp_path / "notifications.yml", (url, ALL_KINDS))
    stack = await make_stack(notify_config=config, tracing=built)
    caplog.handler.addFilter(TraceIds())
    caplog.set_level(logging.INFO)
    body = samples.body("06_leg_departed")
    event = parse_event(body)

    answer = await stack.deliver(body)

    assert len(json_server.posts) == 1
    event_id = answer["event_id"]
    spans = finished(built, exporter)
    [request] = by_name(spans, "POST /webhooks/flexport")
    assert request.context is not None
    trace_id = request.context.trace_id
    ours = [s for s in spans if s.context is not None and s.context.trace_id == trace_id]
    assert event.shipment_id
    expected = {EVENT_ID: event_id, EVENT_TYPE: event.type, SHIPMENT_ID: event.shipment_id}
    assert request.attributes is not None
    assert {key: request.attributes.get(key) for key in expected} == expected
    # Temporal's interceptor carries the request's trace to the workflow and its activities.
    assert by_name(ours, "StartWorkflow:FlexportEvent")
    assert by_name(ours, "RunWorkflow:FlexportEvent")
    run_activities = {span.name for span in by_name(ours, "RunActivity:")}
    assert {"RunActivity:process_event", "RunActivity:send_notification"} <= run_activities
    [processing] = by_name(ours, "RunActivity:process_event")
    assert processing.attributes is not None
    assert {key: processing.attributes.get(key) for key in expected} == expected
    # The SQL of the request and of the activities, statement text only.
    statements = [s for s in ours if s.kind == SpanKind.CLIENT and s.name != SEND_SPAN]
    statements = [s for s in statements if "db.statement" in (s.attributes or {})]
    assert statements
    assert all(event_id not in str((s.attributes or {})["db.statement"]) for s in statements)
    assert any("event" in str((s.attributes or {})["db.statement"]).lower() for s in statements)
    [send] = by_name(ours, SEND_SPAN)
    assert send.attributes is not None
    assert {key: send.attributes.get(key) for key in expected} == expected
    assert str(send.attributes[DESTINATION_ID]).startswith("url-")
    # No span of any trace holds the destination's credentials, a secret or the payload.
    for span in spans:
        text = f"{span.name} {attribute_text(span)}"
        for leak in (password, stack.secret, stack.api_token, body.decode(), "Yantian"):
            assert leak not in text, (span.name, leak)
    # The worker's log line about the send carries the request's trace id.
    [sent] = [r for r in caplog.records if r.getMessage().startswith("sent departed alert")]
    assert sent.__dict__["trace_id"] == format_trace_id(trace_id)
