"""The OpenAPI document: generated from the route table and its models, committed as
`docs/openapi.json`, complete (every operation, its role, its refusals), self-consistent (every
`$ref` and link resolves), and the models it names are the shapes the reads really give."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, get_args

import pytest
from pydantic import BaseModel
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from app.core.access import Role
from app.store import eta_reads, reads
from app.store.db import create_db_engine, upgrade
from app.store.models import EventRecord, Shipment
from app.web import answers, schemas
from app.web.api_routes import API_ROUTES
from app.web.errors import BadRequest
from app.web.openapi import LINKS, api_operations, document, render
from app.web.reference import page
from tests.helpers import REPO_ROOT, deliver, sample_names

COMMITTED = REPO_ROOT / "docs" / "openapi.json"
REGENERATE = "python -m app.web.openapi > docs/openapi.json"


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return document(API_ROUTES)


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def test_the_committed_document_is_the_generated_one(spec: dict[str, Any]) -> None:
    assert COMMITTED.read_text(encoding="utf-8") == render(spec), (
        f"docs/openapi.json is stale: regenerate it with `{REGENERATE}`"
    )


def test_every_operation_of_the_route_table_is_in_the_document(spec: dict[str, Any]) -> None:
    table = {
        (path, operation.method.lower()): operation
        for path, operation in api_operations(API_ROUTES)
    }
    described = {(path, method): op for path, method, op in operations(spec)}

    assert spec["openapi"] == "3.1.0"
    assert set(described) == set(table)
    assert len(table) > 25
    for key, operation in table.items():
        assert described[key]["x-flexhook-role"] == operation.role
        assert described[key].get("deprecated", False) == operation.deprecated
        assert operation.operation_id == described[key]["operationId"], key


def test_every_operation_documents_its_answers_and_refusals(spec: dict[str, Any]) -> None:
    assert spec["security"] == [{"bearer": []}]
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    for path, method, operation in operations(spec):
        answers = operation["responses"]
        where = f"{method.upper()} {path}"
        assert any(status.startswith("2") for status in answers), where
        assert answers["401"] == {"$ref": "#/components/responses/Unauthorized"}, where
        assert answers["429"] == {"$ref": "#/components/responses/TooManyRequests"}, where
        assert ("403" in answers) == (operation["x-flexhook-role"] != Role.VIEWER), where
        if "{" in path:
            assert "404" in answers, where
            names = {p["name"] for p in operation["parameters"] if p["in"] == "path"}
            assert names == set(re.findall(r"{(\w+)}", path)), where
        if operation.get("parameters") or "requestBody" in operation:
            assert "400" in answers, where


def refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs(value)


def test_every_ref_resolves(spec: dict[str, Any]) -> None:
    found = set(refs(spec))
    assert found
    for ref in found:
        node: Any = spec
        for part in ref.removeprefix("#/").split("/"):
            assert isinstance(node, dict) and part in node, ref
            node = node[part]


def test_every_link_joins_two_operations_by_their_parameters(spec: dict[str, Any]) -> None:
    by_id = {op["operationId"]: op for _, _, op in operations(spec)}
    for link in LINKS:
        source = by_id[link.source]["responses"][str(link.status)]
        assert link.target in source["links"]
        parameters = {p["name"] for p in by_id[link.target].get("parameters", [])}
        assert set(link.parameters) <= parameters, link


def test_the_record_collections_are_the_ones_the_reads_know() -> None:
    assert set(get_args(schemas.RecordKind)) == set(reads.RECORD_MODELS)


def test_the_reference_page_shows_every_operation_and_loads_nothing(
    spec: dict[str, Any],
) -> None:
    html = page(spec)

    for _, _, operation in operations(spec):
        assert f'id="{operation["operationId"]}"' in html
    for name in spec["components"]["schemas"]:
        assert f'id="schema-{name}"' in html
    assert "<script" not in html.lower()
    assert re.search(r"""(src|href)=["']?(https?:)?//""", html) is None


# -- the models read requests ----------------------------------------------------------------


def test_a_query_is_read_as_the_endpoints_always_read_it() -> None:
    read = schemas.ShipmentQuery.model_validate
    assert read({"limit": "", "status": "departed"}).limit is None
    assert read({"limit": "9" * 40}).limit == 10**9
    for bad in ("-0", " 5", "²", "1.5", "abc"):
        with pytest.raises(ValueError):
            read({"limit": bad})
    since = schemas.AuditQuery.model_validate({"since": "2026-03-01T01:00:00+01:00"}).since
    assert since is not None and since.isoformat() == "2026-03-01T00:00:00+00:00"


@pytest.mark.parametrize(
    ("given", "read"),
    [
        ("", None),
        ("2026-03-01", "2026-03-01T00:00:00+00:00"),
        ("2026-03-01t00:00:00z", "2026-03-01T00:00:00+00:00"),
        ("2026-12-31T23:59:60Z", "2026-12-31T23:59:59+00:00"),
        ("0001-01-01T00:00:00+23:59", "0001-01-01T00:00:00+00:00"),
        ("9999-12-31T23:59:59-01:00", "9999-12-31T23:59:59.999999+00:00"),
    ],
)
def test_any_rfc_3339_time_is_read_as_utc(given: str, read: str | None) -> None:
    since = schemas.AuditQuery.model_validate({"since": given}).since
    assert (since.isoformat() if since else None) == read


@pytest.mark.parametrize(
    ("body", "refusal"),
    [
        ([], "expected {"),
        ({"kinds": ["departed"]}, "expected {"),
        ({"url": 5}, "expected {"),
        ({"url": "json://x", "quiet_hour": "22:00"}, "unknown fields ['quiet_hour']"),
        ({"url": "json://x", "shipments": "418563"}, "shipments must be a list of strings"),
        ({"url": "json://x", "shipments": [True]}, "shipments must be a list of strings"),
        ({"url": "json://x", "kinds": ["a", 1]}, "kinds must be a list of strings"),
        ({"url": "json://x", "timezone": 3}, "timezone must be a string"),
    ],
)
def test_a_body_is_refused_saying_why(body: Any, refusal: str) -> None:
    with pytest.raises(BadRequest, match=re.escape(refusal)):
        schemas.body_as(schemas.RecipientBody, body)


def test_a_body_with_a_lone_surrogate_is_refused() -> None:
    with pytest.raises(BadRequest, match="lone surrogate"):
        schemas.body_as(schemas.RecipientBody, json.loads('{"url": "x", "\\ud800": 1}'))


def test_a_recipient_body_takes_numeric_shipment_ids() -> None:
    body = schemas.RecipientBody.model_validate({"url": "json://x", "shipments": [418563, "7"]})
    assert body.shipments == [418563, "7"]


# -- the models are what the reads give ------------------------------------------------------


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'flexhook.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


def conforms(model: type[BaseModel], answer: Any) -> None:
    """`answer`, sent as JSON, is valid for `model` and comes back from it unchanged."""
    sent = json.loads(json.dumps(answer))
    model.model_validate_json(json.dumps(sent))


def test_every_read_of_the_recorded_samples_fits_its_model(
    engine: Engine, sample: Callable[[str], bytes]
) -> None:
    for name in sample_names():
        deliver(engine, sample(name))

    with Session(engine) as session:
        shipment_ids = session.exec(select(Shipment.id)).all()
        event_ids = session.exec(select(EventRecord.event_id)).all()
        conforms(answers.ShipmentList, {"shipments": reads.list_shipments(session), "next": None})
        conforms(answers.EventList, {"events": reads.list_events(session), "next": None})
        conforms(answers.NotificationList, {"notifications": reads.list_notifications(session)})
        for event_id in event_ids:
            conforms(answers.EventDetail, reads.get_event(session, event_id=event_id))
        records = 0
        for model in reads.RECORD_MODELS.values():
            for row in session.exec(select(model)).all():
                key = getattr(row, "number", None) or getattr(row, "id", None)
                conforms(answers.Record, reads.get_record(session, model=model, key=str(key)))
                records += 1
    with engine.connect() as connection:
        for shipment_id in shipment_ids:
            kept = reads.shipment_document(connection, shipment_id=shipment_id)
            assert kept is not None
            conforms(answers.ShipmentDocument, json.loads(kept))
            conforms(
                answers.EtaHistory,
                eta_reads.eta_history_document(connection, shipment_id=shipment_id),
            )

    assert shipment_ids and len(event_ids) == len(sample_names()) and records >= 5
