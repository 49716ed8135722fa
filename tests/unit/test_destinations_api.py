"""The API's face of issue 17's destination findings: H2 (internal hosts refused at add time,
viewers never read a destination's own error), L1 (flexhook's privacy form) and M1 (caps with
a clear 409). Endpoints mounted alone on a bare Starlette app, as in test_web_endpoints."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route

from app.core.access import Actor, Role
from app.core.addresses import DEFAULT_RULES, DestinationRules, parse_allowlist
from app.core.privacy import VIEWER_ERROR
from app.ingest.intake import Intake
from app.ingest.relay import TemporalBreaker
from app.store import db
from app.store.models import Notification
from app.web import notifications, recipients, subscriptions
from app.web.config import WebConfig
from app.web.errors import EXCEPTION_HANDLERS
from app.web.metrics import WebMetrics
from app.web.state import WebState, install
from tests.unit.fake_starter import FakeStarter
from tests.unit.test_web_endpoints import SignedInAs

Serve = Callable[..., httpx.AsyncClient]
ROUTES = [
    Route("/api/recipients", recipients.list_recipients, methods=["GET"]),
    Route("/api/recipients", recipients.add_recipient, methods=["POST"]),
    Route("/api/shipments/{id}/subscriptions", subscriptions.add_subscription, methods=["POST"]),
    Route("/api/notifications", notifications.list_notifications, methods=["GET"]),
]


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    engine = db.create_db_engine(f"sqlite:///{tmp_path / 'flexhook.db'}")
    db.upgrade(engine)
    return engine


@pytest.fixture
def serve(engine: Engine) -> Serve:
    def make(
        *, role: Role = Role.OPERATOR, rules: DestinationRules = DEFAULT_RULES
    ) -> httpx.AsyncClient:
        app = Starlette(
            routes=ROUTES,
            exception_handlers=EXCEPTION_HANDLERS,
            middleware=[Middleware(SignedInAs, actor=Actor(name="unit-test", role=role))],
        )
        starter = FakeStarter()
        install(
            app,
            WebState(
                config=WebConfig(webhook_secrets=("s",), api_token="t", destination_rules=rules),
                engine=engine,
                starter=starter,
                intake=Intake(engine=engine, starter=starter, breaker=TemporalBreaker()),
                metrics=WebMetrics(),
            ),
        )
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://flexhook.test"
        )

    return make


async def test_a_json_header_secret_never_comes_back(serve: Serve) -> None:
    """L1's probe."""
    async with serve() as api:
        url = "json://hooks.example.test/x?+Authorization=Bearer%20SECRET123"
        added = await api.post("/api/recipients", json={"url": url})
        listed = await api.get("/api/recipients")

    assert added.status_code == 201, added.text
    assert "SECRET123" not in added.text
    assert listed.status_code == 200 and "SECRET123" not in listed.text
    assert listed.json()["recipients"][0]["url"].startswith("json://hooks.example.test/****?")


@pytest.mark.parametrize(
    "path", ["/api/recipients", "/api/shipments/418563/subscriptions"], ids=["recipient", "sub"]
)
async def test_an_internal_host_is_refused_unless_allowed(serve: Serve, path: str) -> None:
    """H2's probe: a loopback 'admin API' as a destination."""
    url = "json://127.0.0.1:9999/admin/purge?method=DELETE&+X-Internal-Auth=x&:reason=pwn"
    async with serve() as api:
        refused = await api.post(path, json={"url": url})
    async with serve(rules=DestinationRules(allowlist=parse_allowlist("127.0.0.0/8"))) as api:
        allowed = await api.post(path, json={"url": url})

    assert refused.status_code == 400, refused.text
    assert "FLEXHOOK_DESTINATION_ALLOW" in refused.json()["detail"]
    assert allowed.status_code == 201, allowed.text


async def test_recipients_stop_at_the_cap_with_409(serve: Serve) -> None:
    async with serve(rules=DestinationRules(max_recipients=2)) as api:
        answers = [
            await api.post("/api/recipients", json={"url": f"json://hooks.example.test/r{n}"})
            for n in range(3)
        ]

    assert [a.status_code for a in answers] == [201, 201, 409]
    assert answers[2].json()["error"] == "too_many_recipients"
    assert "FLEXHOOK_MAX_RECIPIENTS" in answers[2].json()["detail"]


async def test_subscriptions_stop_at_the_cap_per_shipment_with_409(serve: Serve) -> None:
    async with serve(rules=DestinationRules(max_subscriptions_per_shipment=1)) as api:
        first = await api.post(
            "/api/shipments/418563/subscriptions", json={"url": "json://hooks.example.test/a"}
        )
        second = await api.post(
            "/api/shipments/418563/subscriptions", json={"url": "json://hooks.example.test/b"}
        )
        elsewhere = await api.post(
            "/api/shipments/418564/subscriptions", json={"url": "json://hooks.example.test/b"}
        )

    assert (first.status_code, second.status_code, elsewhere.status_code) == (201, 409, 201)
    assert second.json()["error"] == "too_many_subscriptions"
    assert "FLEXHOOK_MAX_SUBSCRIPTIONS_PER_SHIPMENT" in second.json()["detail"]


async def test_viewers_never_read_a_destinations_own_error(serve: Serve, engine: Engine) -> None:
    """H2: the ledger's error text told open ports from closed ones, and HTTP statuses."""
    raw = "json://10.0.0.5:9999/?+X-Token=s3cr3t5: A Connection error occurred sending to 10.0.0.5"
    with Session(engine) as session:
        session.add(
            Notification(
                dedup_key="shipment-418563:departed:1",
                event_id="48262090",
                shipment_id="418563",
                kind="departed",
                destination_id="url-0000000000000000",
                destination="json://10.0.0.5:9999/?%2BX-Token=s3cr3t5",
                status="failed",
                attempts=3,
                last_error=raw,
                created_at=datetime.now(UTC),
            )
        )
        session.commit()
    async with serve(role=Role.VIEWER) as api:
        viewer = (await api.get("/api/notifications")).json()["notifications"][0]
    async with serve(role=Role.OPERATOR) as api:
        operator = (await api.get("/api/notifications")).json()["notifications"][0]

    assert viewer["last_error"] == VIEWER_ERROR
    assert "s3cr3t5" not in str(viewer) and "s3cr3t5" not in str(operator)
    assert "A Connection error occurred" in operator["last_error"]
