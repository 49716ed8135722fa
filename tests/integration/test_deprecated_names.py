"""The names before the glossary settled them keep working (docs/api.md, "Deprecated names").

The API's old paths (`/api/subscribers`, `/api/shipments/{id}/subscribers`,
`POST /api/events/{id}/replay`) answer exactly as the new ones do, under the old list key
`subscribers`, plus `Deprecation: true` and a `Link` to the successor; the new paths carry no such
header. The CLI's old commands (`flexhook subscribers`, `flexhook replay`) work as the new ones
(`flexhook recipients`, `flexhook redrive`) and print click's deprecation notice on stderr.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from app.cli import main
from tests.integration.harness import Samples, Stack

pytestmark = pytest.mark.integration


def successor(path: str) -> str:
    return f'<{path}>; rel="successor-version"'


def assert_deprecated(response: httpx.Response, *, successor_path: str) -> None:
    assert response.headers.get("deprecation") == "true", response.headers
    assert response.headers.get("link") == successor(successor_path)


def assert_current(response: httpx.Response) -> None:
    assert "deprecation" not in response.headers
    assert "link" not in response.headers


def auth(stack: Stack) -> dict[str, str]:
    return {"authorization": f"Bearer {stack.api_token}"}


# -- the API -----------------------------------------------------------------------------------


async def test_api_subscribers_answers_as_api_recipients_under_the_old_key(stack: Stack) -> None:
    old_added = await stack.http.post(
        "/api/subscribers", json={"url": "json://127.0.0.1:9/old"}, headers=auth(stack)
    )
    new_added = await stack.http.post(
        "/api/recipients", json={"url": "json://127.0.0.1:9/new"}, headers=auth(stack)
    )
    old_list = await stack.http.get("/api/subscribers", headers=auth(stack))
    new_list = await stack.http.get("/api/recipients", headers=auth(stack))

    assert (old_added.status_code, new_added.status_code) == (201, 201)
    assert_deprecated(old_added, successor_path="/api/recipients")
    assert_current(new_added)
    assert old_list.status_code == new_list.status_code == 200
    assert old_list.json() == {"subscribers": new_list.json()["recipients"]}
    assert [r["id"] for r in old_list.json()["subscribers"]] == [
        old_added.json()["id"],
        new_added.json()["id"],
    ]
    assert_deprecated(old_list, successor_path="/api/recipients")
    assert_current(new_list)

    old_id, new_id = old_added.json()["id"], new_added.json()["id"]
    old_removed = await stack.http.delete(f"/api/subscribers/{old_id}", headers=auth(stack))
    new_removed = await stack.http.delete(f"/api/recipients/{new_id}", headers=auth(stack))
    missing = await stack.http.delete(f"/api/subscribers/{old_id}", headers=auth(stack))
    unauthorized = await stack.http.get("/api/subscribers")

    assert (old_removed.status_code, new_removed.status_code) == (204, 204)
    assert_deprecated(old_removed, successor_path=f"/api/recipients/{old_id}")
    assert_current(new_removed)
    assert missing.status_code == 404
    assert_deprecated(missing, successor_path=f"/api/recipients/{old_id}")
    assert unauthorized.status_code == 401
    assert (await stack.http.get("/api/subscribers", headers=auth(stack))).json() == {
        "subscribers": []
    }


async def test_an_old_path_refuses_what_the_new_one_refuses(stack: Stack) -> None:
    bogus = {"url": "bogus://nowhere"}
    old = await stack.http.post("/api/subscribers", json=bogus, headers=auth(stack))
    new = await stack.http.post("/api/recipients", json=bogus, headers=auth(stack))

    assert old.status_code == new.status_code == 400
    assert old.json() == new.json()


async def test_an_old_paths_refusal_says_it_is_deprecated_too(stack: Stack) -> None:
    refused = await stack.http.post(
        "/api/subscribers", json={"url": "bogus://nowhere"}, headers=auth(stack)
    )

    assert refused.status_code == 400
    assert_deprecated(refused, successor_path="/api/recipients")


async def test_a_shipments_subscribers_answer_as_its_subscriptions_under_the_old_key(
    stack: Stack,
) -> None:
    old_path, new_path = "/api/shipments/418563/subscribers", "/api/shipments/418563/subscriptions"
    old_added = await stack.http.post(
        old_path, json={"url": "json://127.0.0.1:9/old", "kinds": ["departed"]}, headers=auth(stack)
    )
    new_added = await stack.http.post(
        new_path, json={"url": "json://127.0.0.1:9/new"}, headers=auth(stack)
    )
    old_list = await stack.http.get(old_path, headers=auth(stack))
    new_list = await stack.http.get(new_path, headers=auth(stack))

    assert (old_added.status_code, new_added.status_code) == (201, 201)
    assert old_added.json()["kinds"] == ["departed"]
    assert_deprecated(old_added, successor_path=new_path)
    assert_current(new_added)
    assert old_list.json() == {"subscribers": new_list.json()["subscriptions"]}
    assert len(old_list.json()["subscribers"]) == 2
    assert_deprecated(old_list, successor_path=new_path)
    assert_current(new_list)

    old_id, new_id = old_added.json()["id"], new_added.json()["id"]
    old_removed = await stack.http.delete(f"{old_path}/{old_id}", headers=auth(stack))
    new_removed = await stack.http.delete(f"{new_path}/{new_id}", headers=auth(stack))

    assert (old_removed.status_code, new_removed.status_code) == (204, 204)
    assert_deprecated(old_removed, successor_path=f"{new_path}/{old_id}")
    assert_current(new_removed)
    assert (await stack.http.get(new_path, headers=auth(stack))).json() == {"subscriptions": []}


async def test_replay_redrives_an_event_as_redrive_does(stack: Stack, samples: Samples) -> None:
    ignored = await stack.deliver(samples.body("06_leg_departed", type="/shipment_leg#teleported"))
    processed = await stack.deliver(samples.body("09_leg_arrived"))

    rerun = await stack.http.post(f"/api/events/{ignored['event_id']}/replay", headers=auth(stack))
    outcome = await stack.wait(ignored["event_id"])
    old_no_op = await stack.http.post(
        f"/api/events/{processed['event_id']}/replay", headers=auth(stack)
    )
    new_no_op = await stack.http.post(
        f"/api/events/{processed['event_id']}/redrive", headers=auth(stack)
    )
    missing = await stack.http.post("/api/events/nope/replay", headers=auth(stack))
    unauthorized = await stack.http.post(f"/api/events/{ignored['event_id']}/replay")

    assert rerun.status_code == 200
    assert rerun.json() == {
        "status": "accepted",
        "event_id": ignored["event_id"],
        "workflow_id": ignored["workflow_id"],
    }
    assert_deprecated(rerun, successor_path=f"/api/events/{ignored['event_id']}/redrive")
    assert outcome["status"] == "ignored"
    assert old_no_op.status_code == new_no_op.status_code == 200
    assert old_no_op.json() == new_no_op.json()
    assert old_no_op.json()["status"] == "duplicate"
    assert_deprecated(old_no_op, successor_path=f"/api/events/{processed['event_id']}/redrive")
    assert_current(new_no_op)
    assert missing.status_code == 404
    assert unauthorized.status_code == 401


# -- the CLI -----------------------------------------------------------------------------------


def notice(old: str, new: str) -> str:
    return f"DeprecationWarning: The command '{old}' is deprecated. use `flexhook {new}`"


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """A runner for `flexhook` in process, on an SQLite database of its own at the newest
    migration."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'flexhook.db'}")
    monkeypatch.setenv("FLEXHOOK_DESTINATION_ALLOW", "127.0.0.1")
    runner = CliRunner()
    upgraded = runner.invoke(main, ["db", "upgrade"])
    assert upgraded.exit_code == 0, upgraded.output
    return runner


def test_flexhook_subscribers_works_as_recipients_and_says_it_is_deprecated(
    cli: CliRunner,
) -> None:
    added = cli.invoke(main, ["subscribers", "add", "json://127.0.0.1:9/old", "--kinds", "eta"])
    old_list = cli.invoke(main, ["subscribers", "list"])
    new_list = cli.invoke(main, ["recipients", "list"])
    helped = cli.invoke(main, ["subscribers", "--help"])
    removed = cli.invoke(main, ["subscribers", "remove", "1"])

    assert added.exit_code == 0, added.output
    assert added.stdout.startswith("1\tjson://127.0.0.1:9/****")
    assert added.stderr.strip() == notice("subscribers", "recipients")
    assert old_list.exit_code == new_list.exit_code == 0
    assert old_list.stdout == new_list.stdout != ""
    assert old_list.stderr.strip() == notice("subscribers", "recipients")
    assert new_list.stderr == ""
    assert "(DEPRECATED: use `flexhook recipients`)" in helped.stdout
    assert removed.exit_code == 0, removed.output
    assert cli.invoke(main, ["recipients", "list"]).stdout == ""


def test_flexhook_replay_works_as_redrive_and_says_it_is_deprecated(cli: CliRunner) -> None:
    old = cli.invoke(main, ["replay", "--status", "failed", "--dry-run"])
    new = cli.invoke(main, ["redrive", "--status", "failed", "--dry-run"])
    helped = cli.invoke(main, ["--help"])

    assert old.exit_code == new.exit_code == 0
    assert old.stdout == new.stdout == "0 failed event(s) match (dry run)\n"
    assert old.stderr.strip() == notice("replay", "redrive")
    assert new.stderr == ""
    assert "(DEPRECATED: use `flexhook redrive`)" in helped.stdout
    assert "(DEPRECATED: use `flexhook recipients`)" in helped.stdout


async def test_flexhook_replay_starts_the_events_again(stack: Stack, samples: Samples) -> None:
    ignored = await stack.deliver(samples.body("06_leg_departed", type="/shipment_leg#teleported"))
    env = {
        **os.environ,
        "DATABASE_URL": stack.engine.url.render_as_string(hide_password=False),
        "TEMPORAL_ADDRESS": stack.client.service_client.config.target_host,
        "FLEXHOOK_TASK_QUEUE": stack.task_queue,
    }
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "flexhook"),
        *("replay", "--status", "ignored"),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await process.communicate()

    assert process.returncode == 0, stderr.decode()
    assert stdout.decode().splitlines()[-1] == "1 accepted"
    assert notice("replay", "redrive") in stderr.decode()
    assert (await stack.wait(ignored["event_id"]))["status"] == "ignored"
