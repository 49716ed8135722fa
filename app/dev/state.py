"""`dev.json`: how `flexhook send` finds a running stack (where it listens, the children's pids;
no secrets), and the atomic writes of every file `flexhook dev` keeps in the data dir."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path

STATE_FILE = "dev.json"

log = logging.getLogger("flexhook.dev")


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


def write_dev_state(data_dir: Path, state: DevState) -> None:
    write_file(data_dir / STATE_FILE, json.dumps(asdict(state), indent=2) + "\n")


def remove_dev_state(data_dir: Path) -> None:
    (data_dir / STATE_FILE).unlink(missing_ok=True)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def write_file(path: Path, text: str, *, mode: int = 0o644) -> None:
    """Write `path` atomically, created with `mode` so secrets are never readable by others."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.unlink(missing_ok=True)
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(text)
    os.replace(temporary, path)
