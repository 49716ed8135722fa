"""`flexhook dev` and `flexhook send` as a person runs them: the real command in a subprocess, on
free ports, with a data dir of its own and no secrets configured (so dev generates them)."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.store import db
from tests.integration.harness import free_port

pytestmark = pytest.mark.integration

FLEXHOOK = str(Path(sys.executable).parent / "flexhook")
TEMPORAL = str(Path(sys.executable).parent / "temporal")
REPO_ROOT = Path(__file__).resolve().parents[2]
SHIPMENT_ID = "418563"  # the shipment of the 06_leg_departed sample
START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0


def free_ports(count: int) -> list[int]:
    """Distinct free ports (`free_port` never hands one out twice)."""
    return [free_port() for _ in range(count)]


def clean_env() -> dict[str, str]:
    """The test runner's environment without any flexhook configuration.

    PYTHONPATH points at this checkout, so every process runs the code under test even when
    the editable install predates a new top-level package.
    """
    prefixes = ("FLEXHOOK_", "FLEXPORT_", "TEMPORAL_", "DATABASE_URL")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    return env


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie has exited and only waits to be reaped, which is up to whoever adopted it.
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


def wait_until_gone(pids: list[int], timeout: float) -> list[int]:
    """The pids still alive after up to `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    return [pid for pid in pids if alive(pid)]


@dataclass
class Dev:
    process: subprocess.Popen[bytes]
    data_dir: Path
    output: Path
    web_url: str
    metrics_url: str
    temporal_address: str = ""
    child_pids: dict[str, int] = field(default_factory=dict)

    def log(self) -> str:
        return self.output.read_text("utf-8", errors="replace")

    def generated_secrets(self) -> dict[str, str]:
        secrets: dict[str, str] = json.loads((self.data_dir / "dev-secrets.json").read_text())
        return secrets

    def wait_ready(self) -> None:
        """Until dev.json is written and /healthz answers, failing with dev's output if it died."""
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"flexhook dev exited with {self.process.returncode}:\n{self.log()}")
            state_file = self.data_dir / "dev.json"
            if state_file.exists() and _healthz_ok(self.web_url):
                self.child_pids = json.loads(state_file.read_text())["pids"]
                return
            time.sleep(0.2)
        pytest.fail(f"flexhook dev was not ready within {START_TIMEOUT:.0f} s:\n{self.log()}")

    def wait_exit(self) -> int:
        try:
            return self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            pytest.fail(f"flexhook dev did not exit within {STOP_TIMEOUT:.0f} s:\n{self.log()}")


def _healthz_ok(web_url: str) -> bool:
    try:
        return httpx.get(f"{web_url}/healthz", timeout=1.0, trust_env=False).status_code == 200
    except httpx.HTTPError:
        return False


@contextmanager
def flexhook_dev(
    tmp_path: Path, data_dir: Path, *, env: dict[str, str] | None = None
) -> Iterator[Dev]:
    """A ready `flexhook dev` (with `env` on top of a clean environment); whatever the test
    leaves running is killed afterwards."""
    web, temporal, ui, metrics = free_ports(4)
    argv = [FLEXHOOK, "dev", "--port", str(web), "--temporal-port", str(temporal)]
    argv += ["--ui-port", str(ui), "--metrics-port", str(metrics), "--data-dir", str(data_dir)]
    output = tmp_path / f"dev-{web}.log"
    with output.open("wb") as out:
        process = subprocess.Popen(
            argv,
            cwd=tmp_path,  # no stray .env
            env={**clean_env(), **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, as in a terminal
        )
    dev = Dev(
        process,
        data_dir,
        output,
        f"http://127.0.0.1:{web}",
        metrics_url=f"http://127.0.0.1:{metrics}/metrics",
        temporal_address=f"127.0.0.1:{temporal}",
    )
    try:
        dev.wait_ready()
        yield dev
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        for pid in wait_until_gone(list(dev.child_pids.values()), timeout=20):
            os.kill(pid, signal.SIGKILL)


def send_sample(tmp_path: Path, data_dir: Path, name: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [FLEXHOOK, "send", "--sample", name, "--data-dir", str(data_dir)],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )


def history_input_encoding(dev: Dev, workflow_id: str) -> str:
    """The encoding of a run's input as Temporal holds it, read without any codec."""
    shown = subprocess.run(
        [
            TEMPORAL,
            *("workflow", "show", "-w", workflow_id, "-o", "json"),
            "--address",
            dev.temporal_address,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    started = json.loads(shown.stdout)["events"][0]["workflowExecutionStartedEventAttributes"]
    encoding: str = started["input"]["payloads"][0]["metadata"]["encoding"]
    return base64.b64decode(encoding).decode()


def api_get(dev: Dev, path: str, *, token: str | None) -> httpx.Response:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return httpx.get(f"{dev.web_url}/api{path}", headers=headers, timeout=10, trust_env=False)


def wait_for_shipment_status(dev: Dev, token: str, status: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    last: httpx.Response | None = None
    while time.monotonic() < deadline:
        last = api_get(dev, f"/shipments/{SHIPMENT_ID}", token=token)
        if last.status_code == 200 and last.json()["status"] == status:
            shipment: dict[str, Any] = last.json()
            return shipment
        time.sleep(0.3)
    pytest.fail(f"shipment never became {status!r}; last answer {last and last.text}\n{dev.log()}")


@pytest.mark.timeout(180)
def test_dev_runs_the_readme_path_and_stops_cleanly(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with flexhook_dev(tmp_path, data_dir) as dev:
        secrets = dev.generated_secrets()
        assert (data_dir / "dev-secrets.json").stat().st_mode & 0o777 == 0o600
        assert secrets["webhook_secret"] in dev.log()  # the banner shows what to paste
        assert secrets["api_token"] in dev.log()
        assert "(from FLEXPORT_WEBHOOK_SECRET)" not in dev.log()

        sent = send_sample(tmp_path, data_dir, "06_leg_departed")
        assert sent.returncode == 0, sent.stdout + sent.stderr + dev.log()
        assert sent.stdout.startswith("200")
        assert json.loads(sent.stdout.splitlines()[1])["status"] == "accepted"
        assert secrets["webhook_secret"] not in sent.stdout + sent.stderr

        shipment = wait_for_shipment_status(dev, secrets["api_token"], "departed")
        assert shipment["milestones"][0]["milestone"] == "departed"
        # The body reached Temporal encrypted with the generated key, which is never printed.
        assert secrets["payload_key"] and secrets["payload_key"] not in dev.log()
        workflow_id = json.loads(sent.stdout.splitlines()[1])["workflow_id"]
        assert history_input_encoding(dev, workflow_id) == "binary/encrypted"
        assert api_get(dev, f"/shipments/{SHIPMENT_ID}", token=None).status_code == 401
        assert api_get(dev, "/shipments", token="wrong").status_code == 401
        # /metrics on the web process's own listener, printed in the banner; not on the port.
        assert f"  Metrics:        {dev.metrics_url}" in dev.log()
        scraped = httpx.get(dev.metrics_url, timeout=10, trust_env=False)
        assert 'flexhook_events_received_total{category="milestone",outcome="accepted"} 1.0' in (
            scraped.text
        )
        assert httpx.get(f"{dev.web_url}/metrics", timeout=10, trust_env=False).status_code == 404

        dev.process.send_signal(signal.SIGTERM)
        assert dev.wait_exit() == 0, dev.log()
        assert not (data_dir / "dev.json").exists()
        assert set(dev.child_pids) == {"temporal", "worker", "web"}
        for pid in dev.child_pids.values():
            with pytest.raises(ProcessLookupError):  # stopped and reaped by dev itself
                os.kill(pid, 0)


@pytest.mark.timeout(180)
def test_dev_names_but_never_prints_secrets_from_the_environment(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    secret, token = "whsec-from-env-5c1d9e", "token-from-env-8b2f7a-0123456789abcdef"
    key = "dev-from-env:" + base64.b64encode(b"k" * 32).decode()
    configured = {
        "FLEXPORT_WEBHOOK_SECRET": secret,
        "FLEXHOOK_API_TOKEN": token,
        "FLEXHOOK_PAYLOAD_KEYS": key,
    }
    with flexhook_dev(tmp_path, data_dir, env=configured) as dev:
        # The children run with the configured values, and dev generated none.
        assert api_get(dev, "/shipments", token=token).status_code == 200
        assert not (data_dir / "dev-secrets.json").exists()
        dev.process.send_signal(signal.SIGTERM)
        assert dev.wait_exit() == 0, dev.log()
    output = dev.log()  # all of it: the banner and whatever dev and its children wrote
    assert "  Webhook secret: (from FLEXPORT_WEBHOOK_SECRET)\n" in output
    assert "  API token:      (from FLEXHOOK_API_TOKEN)\n" in output
    assert "  Payload key:    (from FLEXHOOK_PAYLOAD_KEYS)\n" in output
    assert secret not in output
    assert token not in output
    assert key.partition(":")[2] not in output


@pytest.mark.timeout(180)
def test_dev_reuses_its_generated_secrets_and_data_after_ctrl_c(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with flexhook_dev(tmp_path, data_dir) as first:
        secrets = first.generated_secrets()
        sent = send_sample(tmp_path, data_dir, "06_leg_departed")
        assert sent.returncode == 0, sent.stdout + sent.stderr + first.log()
        wait_for_shipment_status(first, secrets["api_token"], "departed")
        os.killpg(first.process.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        assert first.wait_exit() == 0, first.log()
        assert wait_until_gone(list(first.child_pids.values()), timeout=0) == []

    with flexhook_dev(tmp_path, data_dir) as second:
        assert second.generated_secrets() == secrets
        # The old token still works, and the record written before the restart is still there.
        shipment = api_get(second, f"/shipments/{SHIPMENT_ID}", token=secrets["api_token"])
        assert shipment.status_code == 200
        assert shipment.json()["status"] == "departed"
        # Sending the same delivery again reaches the same Temporal history: a duplicate.
        again = send_sample(tmp_path, data_dir, "06_leg_departed")
        assert again.returncode == 0, again.stdout + again.stderr + second.log()
        assert json.loads(again.stdout.splitlines()[1])["status"] == "duplicate"
        second.process.send_signal(signal.SIGTERM)
        assert second.wait_exit() == 0, second.log()


@pytest.mark.timeout(180)
def test_dev_stops_everything_when_a_child_dies(tmp_path: Path) -> None:
    with flexhook_dev(tmp_path, tmp_path / "data") as dev:
        os.kill(dev.child_pids["worker"], signal.SIGKILL)
        assert dev.wait_exit() != 0
        assert "worker exited unexpectedly (killed by SIGKILL)" in dev.log()
        assert wait_until_gone(list(dev.child_pids.values()), timeout=0) == []


@pytest.mark.timeout(180)
def test_children_die_with_a_killed_dev(tmp_path: Path) -> None:
    with flexhook_dev(tmp_path, tmp_path / "data") as dev:
        dev.process.kill()  # no chance to clean up: the kernel's parent-death signal must
        dev.process.wait()
        # SIGTERM lets each child drain as it would at a Ctrl-C, while Temporal goes down beside
        # the worker: on a loaded 2-core CI machine that once took over 20 s. The bound only
        # proves that no orphan stays; the names say which child did not go.
        left = wait_until_gone(list(dev.child_pids.values()), timeout=60)
        names = [name for name, pid in dev.child_pids.items() if pid in left]
        assert names == [], dev.log()


def test_send_refuses_an_unknown_sample(tmp_path: Path) -> None:
    sent = send_sample(tmp_path, tmp_path / "data", "no_such_sample")
    assert sent.returncode != 0
    assert "no sample named 'no_such_sample'" in sent.stderr


@pytest.mark.timeout(120)
def test_web_does_not_run_without_its_metrics_listener(tmp_path: Path) -> None:
    database = tmp_path / "flexhook.db"
    db.upgrade(db.create_db_engine(f"sqlite:///{database}"))
    web_port, temporal_port = free_ports(2)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        metrics_address = f"127.0.0.1:{taken.getsockname()[1]}"
        env = {
            **clean_env(),
            "DATABASE_URL": f"sqlite:///{database}",
            "TEMPORAL_ADDRESS": f"127.0.0.1:{temporal_port}",  # nobody: the client is lazy
            "FLEXPORT_WEBHOOK_SECRET": "whsec-metrics-listener-test",
            "FLEXHOOK_API_TOKEN": "token-metrics-listener-test-0123456789abcdef",
            "FLEXHOOK_METRICS_ADDRESS": metrics_address,
        }
        done = subprocess.run(
            [FLEXHOOK, "web", "--port", str(web_port)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    assert done.returncode == 1
    assert f"FLEXHOOK_METRICS_ADDRESS {metrics_address}: " in done.stderr
    assert "Traceback" not in done.stderr
