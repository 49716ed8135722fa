"""OpenTelemetry traces are off unless the standard OTEL_* variables ask for them, and then
built from them: the service's name, the OTLP exporter, trace ids on log lines."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from app import bootstrap, cli
from app.settings import load_settings
from app.store import db
from app.telemetry import ChildSpansOnly, log_trace_ids, tracing
from app.web.tracing import RequestSpans
from notifications.tracing import NO_TRACING

SECRETS = {"FLEXPORT_WEBHOOK_SECRET": "s" * 32, "FLEXHOOK_API_TOKEN": "t" * 40}


@pytest.fixture(autouse=True)
def no_otel_variables(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith(("OTEL_", "FLEXHOOK_", "FLEXPORT_", "TEMPORAL_", "DATABASE_URL")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_without_otel_variables_nothing_is_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    handlers = logging.getLogger().handlers
    filters_before = [list(handler.filters) for handler in handlers]

    assert settings.tracing_enabled is False
    assert bootstrap.tracing(settings, service=cli.WEB_SERVICE) is None
    assert cli._traced(settings, cli.WEB_SERVICE) is None
    # No log filter, no request middleware, no send spans, no global provider.
    assert [list(handler.filters) for handler in handlers] == filters_before
    apps = bootstrap.web_apps(settings, db.create_db_engine("sqlite://"))
    assert all(getattr(m, "cls", None) is not RequestSpans for m in apps.public.user_middleware)
    assert bootstrap.notifier(settings, bootstrap.renderer(settings))._tracer is NO_TRACING
    assert not isinstance(trace.get_tracer_provider(), TracerProvider)


@pytest.mark.parametrize(
    "variable", ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]
)
def test_an_otlp_endpoint_turns_tracing_on(monkeypatch: pytest.MonkeyPatch, variable: str) -> None:
    monkeypatch.setenv(variable, "http://127.0.0.1:4318")

    built = bootstrap.tracing(load_settings(), service=cli.WORKER_SERVICE)

    assert built is not None
    try:
        assert built.provider.resource.attributes["service.name"] == "flexhook-worker"
        [processor] = built.provider._active_span_processor._span_processors
        assert isinstance(processor._batch_processor._exporter, OTLPSpanExporter)  # type: ignore[attr-defined]
    finally:
        built.shutdown()


def test_otel_sdk_disabled_or_no_exporter_wins_and_otel_service_name_names_the_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "flexhook-eu-web")
    built = bootstrap.tracing(load_settings(), service=cli.WEB_SERVICE)
    assert built is not None
    built.shutdown()
    assert built.provider.resource.attributes["service.name"] == "flexhook-eu-web"

    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
    assert bootstrap.tracing(load_settings(), service=cli.WEB_SERVICE) is None
    monkeypatch.delenv("OTEL_TRACES_EXPORTER")
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")

    assert bootstrap.tracing(load_settings(), service=cli.WEB_SERVICE) is None


def test_log_records_carry_the_trace_and_span_ids_inside_a_span() -> None:
    built = tracing(service_name="flexhook-test", exporter=InMemorySpanExporter())
    handler = logging.Handler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    log_trace_ids([handler], text_format="%(message)s")
    outside = logging.LogRecord("flexhook", logging.INFO, __file__, 1, "outside", None, None)
    inside = logging.LogRecord("flexhook", logging.INFO, __file__, 1, "inside", None, None)

    handler.filter(outside)
    with built.tracer.start_as_current_span("work") as span:
        handler.filter(inside)
    built.shutdown()

    ids = span.get_span_context()
    assert inside.__dict__["trace_id"] == trace.format_trace_id(ids.trace_id)
    assert inside.__dict__["span_id"] == trace.format_span_id(ids.span_id)
    assert outside.__dict__["trace_id"] == ""
    assert handler.format(inside) == f"inside trace_id={trace.format_trace_id(ids.trace_id)}"


def test_statement_spans_start_only_inside_another_span() -> None:
    exporter = InMemorySpanExporter()
    built = tracing(service_name="flexhook-test", exporter=exporter)
    statements = ChildSpansOnly(built.provider.get_tracer("sql"))

    statements.start_span("SELECT alone").end()
    with built.tracer.start_as_current_span("RunActivity"):
        statements.start_span("SELECT inside").end()
    built.provider.force_flush()

    assert sorted(span.name for span in exporter.get_finished_spans()) == [
        "RunActivity",
        "SELECT inside",
    ]
    built.shutdown()


async def test_a_request_span_names_the_route_template_never_the_token_or_the_query(
    cli_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    exporter = InMemorySpanExporter()
    built = tracing(service_name="flexhook-test", exporter=exporter)
    apps = bootstrap.web_apps(load_settings(), db.create_db_engine(cli_database), tracing=built)
    token = "tok_" + "x" * 40
    transport = httpx.ASGITransport(app=apps.public)

    async with httpx.AsyncClient(transport=transport, base_url="http://flexhook.test") as http:
        await http.get(f"/track/{token}", params={"q": "secret-query"})
        refused = await http.get(
            "/api/shipments/418563", headers={"authorization": "Bearer a-guessed-token-0123"}
        )
    assert refused.status_code == 401
    built.provider.force_flush()

    spans = exporter.get_finished_spans()
    # The tracking page's route answered; the API's mount refused before any route did.
    assert [span.name for span in spans] == ["GET /track/{token}", "GET /api/"]
    for span in spans:
        text = f"{span.name} {dict(span.attributes or {})}"
        for leak in (token, "secret-query", "a-guessed-token", "418563"):
            assert leak not in text
    built.shutdown()


def test_json_log_lines_carry_the_trace_id_as_a_field() -> None:
    from pythonjsonlogger.json import JsonFormatter

    built = tracing(service_name="flexhook-test", exporter=InMemorySpanExporter())
    handler = logging.Handler()
    handler.setFormatter(JsonFormatter("%(levelname)s %(message)s"))
    log_trace_ids([handler], text_format="%(message)s")  # JSON keeps its own formatter
    record = logging.LogRecord("flexhook", logging.INFO, __file__, 1, "sent", None, None)

    with built.tracer.start_as_current_span("apprise.send") as span:
        handler.filter(record)
    built.shutdown()

    line = json.loads(handler.format(record))
    assert line["trace_id"] == trace.format_trace_id(span.get_span_context().trace_id)
    assert line["message"] == "sent"


def test_a_failed_statement_span_says_it_failed_not_what_the_database_said() -> None:
    exporter = InMemorySpanExporter()
    built = tracing(service_name="flexhook-test", exporter=exporter)
    engine = db.create_db_engine("sqlite://")
    built.trace_engine(engine)

    with (
        built.tracer.start_as_current_span("RunActivity"),
        engine.connect() as connection,
        pytest.raises(OperationalError),
    ):
        connection.execute(text("SELECT body FROM shipper_secret_row_4711"))
    built.provider.force_flush()

    [statement] = [
        span
        for span in exporter.get_finished_spans()
        if "shipper_secret_row_4711" in str((span.attributes or {}).get("db.statement"))
    ]
    # SQLite's message names the table ("no such table: ..."); the span keeps only the failure.
    assert statement.status.status_code == StatusCode.ERROR
    assert not statement.status.description
    built.shutdown()
