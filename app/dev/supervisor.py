"""`flexhook dev`: a Temporal dev server, a worker and the web process, supervised as one.

The supervisor starts the three children in order (Temporal, then the worker and the web process
once Temporal's port answers), prints where everything is once `/healthz` answers, and stops all
three on SIGINT, SIGTERM or SIGHUP, or as soon as any one of them dies. Children run in their own
process groups, so a Ctrl-C reaches only the supervisor, which then stops them in reverse order.

Two files in the data dir tie it to `flexhook send`: `dev.json` (where the stack listens and the
children's pids; no secrets; see `app.dev.state`) and `dev-secrets.json` (mode 0600, the secrets
generated on first run; see `app.dev.secrets`).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import FrameType

from app.dev.banner import banner
from app.dev.config import DevConfig
from app.dev.errors import ChildDied, DevStackError, NotReady
from app.dev.process import ChildProcess, http_ok, poll_until, port_open
from app.dev.secrets import DevSecrets, choose_secrets
from app.dev.state import (
    STATE_FILE,
    DevState,
    pid_alive,
    read_dev_state,
    remove_dev_state,
    write_dev_state,
    write_file,
)
from app.dev.temporal_dev import dev_server_argv, temporal_binary

__all__ = ["ChildDied", "DevConfig", "DevStack", "DevStackError", "run_dev"]

START_TIMEOUT_SECONDS = 60.0
STOP_GRACE_SECONDS = 15.0
POLL_SECONDS = 0.2
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

log = logging.getLogger("flexhook.dev")


class _StopRequested(Exception):
    """A stop signal arrived: unwinds start-up or supervision into the orderly stop."""


# -- the children ---------------------------------------------------------------------------------


def plan_children(
    config: DevConfig,
    dev_secrets: DevSecrets,
    *,
    temporal: str,
    env: Mapping[str, str],
    log_level: str,
    public_url: str = "",
    temporal_ui_url: str = "",
) -> list[ChildProcess]:
    """Temporal, the worker and the web process, in start order, writing to dev's terminal."""
    temporal_argv = dev_server_argv(
        temporal,
        host=config.host,
        port=config.temporal_port,
        ui_port=config.ui_port,
        db_file=config.data_dir / "temporal.db",
        namespace=config.namespace,
        codec_endpoint=config.codec_endpoint,
    )
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
        # Payloads reach Temporal encrypted, with the generated key unless one is configured.
        **({"FLEXHOOK_PAYLOAD_KEYS": dev_secrets.payload_keys} if dev_secrets.payload_keys else {}),
    }
    web_argv = [*flexhook, "web", "--host", config.host, "--port", str(config.web_port)]
    web_env = {**child_env, "FLEXHOOK_METRICS_ADDRESS": config.metrics_address}
    return [
        ChildProcess("temporal", temporal_argv, env=env),
        ChildProcess("worker", [*flexhook, "worker"], env=child_env),
        ChildProcess("web", web_argv, env=web_env),
    ]


def stop_children(children: list[ChildProcess], *, grace: float = STOP_GRACE_SECONDS) -> None:
    """SIGTERM each running child, last started first; SIGKILL whatever outlives `grace`."""
    deadline = time.monotonic() + grace
    for child in reversed(children):
        if child.running():
            child.send_signal(signal.SIGTERM)
            child.wait(deadline - time.monotonic())
    for child in children:
        if child.running():
            log.warning("%s did not stop within %.0f s; killing it", child.name, grace)
            child.kill()


# -- before starting ------------------------------------------------------------------------------


def port_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers themselves do
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


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
        "--metrics-port": config.metrics_port,
    }
    for option, port in ports.items():
        if not port_free(config.host, port):
            raise DevStackError(f"port {port} is already in use; choose another with {option}")


EXAMPLE_NOTIFY_CONFIG = """\
# Who hears about what: an Apprise configuration file (https://github.com/caronc/apprise).
# Every target is a URL; its tags route alerts to it. An alert of kind K about shipment S goes to
# the URLs tagged K or shipment-S. Kinds: departed, arrived, delivered, eta, eta_missed, customs,
# exception. URLs tagged escalation (that tag alone) hear exceptions nobody acknowledged or
# resolved within FLEXHOOK_EXCEPTION_ACK_SLA / FLEXHOOK_EXCEPTION_RESOLVE_SLA.
# URLs tagged ops hear flexhook's own trouble: failed events, failing targets, a stuck spool.
# Uncomment and fill in what you use; flexhook reads this file for every alert.
#
# urls:
#   # Email through an SMTP server (mailtos:// for TLS):
#   - "mailtos://user:app-password@smtp.example.com?to=ops@example.com&from=flexhook@example.com":
#       tag: departed, arrived, delivered, eta, eta_missed, customs, exception, escalation, ops
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
    write_file(path, EXAMPLE_NOTIFY_CONFIG)
    return True


# -- the supervisor -------------------------------------------------------------------------------


class DevStack:
    """Start the children, print the banner, supervise them, and always stop them all."""

    def __init__(
        self, config: DevConfig, dev_secrets: DevSecrets, children: list[ChildProcess]
    ) -> None:
        self.config = config
        self.secrets = dev_secrets
        self.children = children
        self.stop_signal: int | None = None

    def run(self, echo: Callable[[str], None]) -> None:
        """Run until a stop signal (then return) or until a child dies (then raise `ChildDied`)."""
        previous = {sig: signal.signal(sig, self._request_stop) for sig in STOP_SIGNALS}
        try:
            self._start_all()
            write_dev_state(self.config.data_dir, self._state())
            echo(banner(self.config, self.secrets))
            self._supervise()
        except _StopRequested:
            pass
        finally:
            if self.stop_signal is not None:
                log.info("stopping (%s)", signal.Signals(self.stop_signal).name)
            stop_children(self.children)
            remove_dev_state(self.config.data_dir)
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
        self._wait_for("the web process", lambda: http_ok(f"{self.config.web_url}/healthz"))

    def _wait_for(self, what: str, ready: Callable[[], bool]) -> None:
        # Every child is checked while waiting, not only the one awaited: any death stops dev.
        timeout = START_TIMEOUT_SECONDS
        if not poll_until(ready, timeout=timeout, interval=POLL_SECONDS, check=self._check):
            raise NotReady(what, timeout)

    def _supervise(self) -> None:
        while True:
            self._check()
            time.sleep(POLL_SECONDS)

    def _check(self) -> None:
        if self.stop_signal is not None:
            raise _StopRequested
        for child in self.children:
            child.raise_if_exited()

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
    payload_keys_configured: bool = False,
) -> None:
    """Check, choose secrets, plan and run the stack; see `DevStack.run`."""
    preflight(config)
    dev_secrets = choose_secrets(
        config.data_dir,
        webhook_secrets=webhook_secrets,
        api_token=api_token,
        payload_keys_configured=payload_keys_configured,
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
