"""The `ceiling` phase: requests/s of a bare Starlette endpoint that only verifies the HMAC
(bench/ceiling.py), under the same uvicorn call as `flexhook web`. The spool's baseline."""

from __future__ import annotations

import os
from typing import Any

from bench import report
from bench.measure import cpu, summarize
from bench.options import Options
from bench.procs import Proc, free_port, http_ok, wait_until
from bench.stack import Stack, python


def measure(stack: Stack, options: Options) -> dict[str, Any]:
    """`ceiling`: per concurrency, the runs and their medians."""
    stack.echo("ceiling: bare Starlette endpoint that only verifies the HMAC")
    port = free_port()
    proc = Proc(
        "ceiling",
        python("-m", "bench.ceiling", "--port", str(port)),
        env={**os.environ, "FLEXPORT_WEBHOOK_SECRET": stack.secret},
        log=stack.log("ceiling"),
    ).start()
    runs: dict[int, list[dict[str, Any]]] = {c: [] for c in options.concurrencies}
    try:
        wait_until("the ceiling app", lambda: http_ok(port), proc=proc)
        for run in range(options.runs):
            for c in options.concurrencies:
                # It only verifies: the same signed deliveries can repeat.
                file = stack.post_file(port, tag=stack.tag("ceil"), count=2000)
                result: dict[str, Any] = {}
                with cpu({"ceiling": proc}, result):
                    result.update(stack.http(port, file, mode="cycle", concurrency=c))
                runs[c].append(result)
                stack.echo(f"  run {run + 1} c={c}: {report.brief(result)}")
    finally:
        proc.stop()
    return {"ceiling": {str(c): summarize(r) for c, r in runs.items()}}
