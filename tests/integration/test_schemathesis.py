"""Schemathesis, a real client, against a live flexhook: the committed OpenAPI document is the one
served, and every phase (examples, coverage, fuzzing, stateful over the document's links) with
every check finds no server error, no answer unlike the document and no undocumented status, for
a viewer, an operator and the admin. Bounded by `MAX_EXAMPLES` to a minute or so. The settings
it runs with, and why, are in `schemathesis.toml` beside it."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import Session

from app.core.access import Role
from app.core.exception_families import exception_effect
from app.store import exceptions, tokens
from tests.helpers import REPO_ROOT, sample_names
from tests.integration.harness import Samples, Stack, StackFactory
from tests.log_registry import register_secret
from tests.unit.exception_samples import sample_event

pytestmark = pytest.mark.integration

DOCUMENT = REPO_ROOT / "docs" / "openapi.json"
CONFIG = Path(__file__).with_name("schemathesis.toml")
SCHEMATHESIS = Path(sys.executable).with_name("st")
MAX_EXAMPLES = 40
# Each run draws anew (its seed is in its output); FLEXHOOK_SCHEMATHESIS_SEED replays one.
SEED = os.environ.get("FLEXHOOK_SCHEMATHESIS_SEED")
# A run that takes longer than this has gone wrong (a hung request, say): fail rather than wait.
RUN_TIMEOUT = 240.0


def named_token(stack: Stack, role: Role) -> str:
    with Session(stack.engine) as session:
        _, token = tokens.create_token(
            session,
            name=f"schemathesis-{role}",
            role=role,
            expires_in=None,
            contact=None,
            created_by="test",
            now=datetime.now(UTC),
        )
        session.commit()
    register_secret(token)
    return token


def open_exceptions(stack: Stack) -> None:
    """A few exceptions to read and act on, recorded as the worker records Flexport's holds and
    delays (Flexport-shaped: the packaged shipment event, retyped)."""
    holds = ("/shipment#customs_agriculture_hold", "/shipment#cargo_ready_date_changed_exception")
    with Session(stack.engine) as session:
        for n, event_type in enumerate(holds * 3):
            flexport = sample_event("01_shipment_created", event_type=event_type)
            exceptions.record_event(
                session,
                shipment_id=f"ST-{n}",
                event_id=f"st-{n}",
                occurred_at=datetime.now(UTC),
                effect=exception_effect(flexport.type, flexport.classification, flexport.facts()),
                severities={},
                now=datetime.now(UTC),
            )
        session.commit()


async def schemathesis(stack: Stack, token: str, reports: Path) -> tuple[int, str]:
    """Run `st run` on the committed document against the stack; its exit status and output."""
    process = await asyncio.create_subprocess_exec(
        str(SCHEMATHESIS),
        "--config-file",
        str(CONFIG),
        "--no-color",
        "run",
        str(DOCUMENT),
        "--url",
        f"{stack.base_url}/api",
        "--header",
        f"Authorization: Bearer {token}",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--max-examples",
        str(MAX_EXAMPLES),
        # One worker: hypothesis describes strategies with `ast.parse`, which CPython 3.11 can
        # break on when threads call it at once ("AST constructor recursion depth mismatch").
        "--workers",
        "1",
        "--generation-database",
        "none",
        *(["--seed", SEED] if SEED else []),
        "--report",
        "junit",
        "--report-dir",
        str(reports),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "SCHEMATHESIS_TELEMETRY": "false"},
        cwd=reports,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=RUN_TIMEOUT)
    assert process.returncode is not None
    return process.returncode, output.decode("utf-8", errors="replace")


async def test_schemathesis_finds_nothing_as_a_viewer_an_operator_or_an_admin(
    make_stack: StackFactory, samples: Samples, tmp_path: Path
) -> None:
    # Each operation once meets an invalid token (schemathesis's `ignored_auth` check): more
    # refusals than the guard against guessing lets one address make, so this stack allows them.
    stack = await make_stack(refused_tokens_per_minute=100_000)
    for name in sample_names():
        await stack.deliver(samples.body(name))
    open_exceptions(stack)
    served = await stack.api("/openapi.json")
    assert served.text == DOCUMENT.read_text(encoding="utf-8")

    # The admin is the break-glass token, which no fuzzed request can revoke.
    held = {
        Role.VIEWER: named_token(stack, Role.VIEWER),
        Role.OPERATOR: named_token(stack, Role.OPERATOR),
        Role.ADMIN: stack.api_token,
    }
    for role, token in held.items():
        reports = tmp_path / role
        reports.mkdir()
        status, output = await schemathesis(stack, token, reports)
        assert status == 0, f"schemathesis as {role}:\n{output[-20_000:]}"


async def test_what_schemathesis_found_stays_fixed(stack: Stack) -> None:
    admin = {"authorization": f"Bearer {stack.api_token}"}

    # A deprecated path's `Link` header held its path parameters raw: a control character made
    # the answer a 500 (uvicorn refuses such a header).
    old = await stack.http.get("/api/shipments/%08x/subscribers", headers=admin)
    # An id past the 32-bit INTEGER column was a 500 on PostgreSQL.
    too_big = await stack.http.delete("/api/recipients/2147483648", headers=admin)
    # A refusal that said back a lone surrogate escape could not be encoded: a 500.
    surrogate = await stack.http.post(
        "/api/recipients",
        content=b'{"url": "json://localhost/x", "\\ud800": 1}',
        headers={**admin, "content-type": "application/json"},
    )
    # Valid RFC 3339 times were refused (lower-case `t`, a leap second) or a 500 (an offset
    # past year 1); an empty `limit` means none, as the document now says.
    times = [
        await stack.http.get("/api/audit", params={"since": since, "limit": ""}, headers=admin)
        for since in ("2026-03-01t00:00:00z", "2026-12-31T23:59:60Z", "0001-01-01T00:00:00+23:59")
    ]

    assert (old.status_code, old.headers["link"]) == (
        200,
        '</api/shipments/%08x/subscriptions>; rel="successor-version"',
    )
    assert too_big.status_code == 404
    assert surrogate.status_code == 400 and surrogate.json()["error"] == "bad_request"
    assert [t.status_code for t in times] == [200, 200, 200]
