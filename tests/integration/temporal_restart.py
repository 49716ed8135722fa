"""A Temporal dev server of a test's own, kept in a file, that the test can stop and start again
on the same port: what a Temporal server restart in production looks like to flexhook (timers,
signals and histories survive in its database; clients reconnect)."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
from pathlib import Path

from temporalio.client import Client

from app.dev.temporal_dev import dev_server_argv
from tests.integration.harness import free_port, temporal_binary

# How long the dev server may take to answer after it starts, and to stop after SIGTERM.
START_SECONDS = 60.0
STOP_SECONDS = 30.0


class RestartableTemporal:
    """`temporal server start-dev --db-filename <file>` on a fixed port, started and stopped on
    demand; `connect()` answers a new client of it."""

    def __init__(self, work: Path) -> None:
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self._db_file = work / "temporal.db"
        self._log = work / "temporal.log"
        self._proc: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        """Start the server on its port and its file; return once a client can call it."""
        if self._proc is not None:
            raise RuntimeError("the Temporal server is already running")
        argv = dev_server_argv(
            temporal_binary(),
            host="127.0.0.1",
            port=self.port,
            ui_port=None,
            db_file=self._db_file,
        )
        with self._log.open("ab") as log:
            self._proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_SECONDS
        while True:
            if self._proc.poll() is not None:
                tail = self._log.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"Temporal exited with {self._proc.returncode}: {tail}")
            with contextlib.suppress(RuntimeError, OSError):
                client = await Client.connect(self.address)
                await client.count_workflows()
                return
            if loop.time() > deadline:
                raise RuntimeError(f"Temporal did not answer on {self.address}")
            await asyncio.sleep(0.2)

    async def stop(self) -> None:
        """SIGTERM, then wait for the process to end (SIGKILL after `STOP_SECONDS`)."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            await asyncio.to_thread(proc.wait, STOP_SECONDS)
        except subprocess.TimeoutExpired:
            proc.kill()
            await asyncio.to_thread(proc.wait)

    async def connect(self) -> Client:
        return await Client.connect(self.address)
