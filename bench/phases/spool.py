"""The `spool` phase: flexhook's ack once Temporal is stopped and its breaker sends events to
the database spool. Its baseline is the `ceiling` phase. It leaves Temporal stopped (the run
starts it again for any later phase that needs it)."""

from __future__ import annotations

import http.client
import json
import time
from typing import Any

from bench import payloads, report
from bench.measure import cpu, summarize
from bench.options import Options
from bench.procs import BenchError
from bench.stack import Stack

SPOOL_RATE_HINT = 2000.0  # requests/s, to size the first request files
TRIP_TIMEOUT_SECONDS = 60


def measure(stack: Stack, options: Options) -> dict[str, Any]:
    """`spool` (per concurrency, runs and medians) and `spool_first_ack_seconds`."""
    stack.echo("spool: flexhook's ack with Temporal stopped (events go to the database spool)")
    web, port = stack.start_web("spool", queue="bench-spool", database=stack.database("spool"))
    runs: dict[int, list[dict[str, Any]]] = {c: [] for c in options.concurrencies}
    found: dict[str, Any] = {}
    try:
        stack.posts("spool-ack", port, 8, warm_only=True)  # connected while Temporal is up
        stack.stop_temporal()
        tripped = wait_for_spooling(stack, port)
        stack.echo(f"  Temporal stopped; the first ack after that took {tripped:.1f} s")
        found["spool_first_ack_seconds"] = round(tripped, 2)
        for c in options.concurrencies:
            stack.expect_rate(f"spool-{c}", SPOOL_RATE_HINT)
        for run in range(options.runs):
            for c in options.concurrencies:
                result: dict[str, Any] = {}
                with cpu({"web": web}, result):
                    result.update(stack.posts(f"spool-{c}", port, c))
                result["spool_depth"] = spool_depth(stack, port)
                runs[c].append(result)
                stack.echo(
                    f"  run {run + 1} c={c}: {report.brief(result)}, "
                    f"spool depth {result['spool_depth']}"
                )
        if options.profile:
            with stack.profiled("spool", web):
                stack.posts("spool-8", port, 8)
    finally:
        web.stop()
    found["spool"] = {str(c): summarize(r) for c, r in runs.items()}
    return found


def spool_depth(stack: Stack, port: int) -> int | None:
    """Events waiting in the spool (`GET /api/spool`), or None if it does not say."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", "/api/spool", headers={"Authorization": f"Bearer {stack.token}"})
        response = connection.getresponse()
        depth = json.loads(response.read()).get("depth") if response.status == 200 else None
        return depth if isinstance(depth, int) else None
    except (OSError, ValueError):
        return None
    finally:
        connection.close()


def wait_for_spooling(stack: Stack, port: int) -> float:
    """Post one event at a time until the web process spools at once (its breaker is open);
    return how long the first post took (the wait for Temporal's start to fail)."""
    deliveries = payloads.deliveries(stack.tag("trip"), secret=stack.secret)
    first: float | None = None
    deadline = time.monotonic() + TRIP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        delivery = next(deliveries)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        began = time.perf_counter()
        try:
            connection.request(
                "POST",
                payloads.WEBHOOK_PATH,
                body=delivery.body,
                headers={
                    "Content-Type": "application/json",
                    "X-Hub-Signature-256": delivery.signature,
                },
            )
            answer = json.loads(connection.getresponse().read() or b"{}")
        finally:
            connection.close()
        took = time.perf_counter() - began
        first = took if first is None else first
        if answer.get("status") == "queued" and took < 0.5:
            return first
    raise BenchError(
        f"flexhook did not start spooling within {TRIP_TIMEOUT_SECONDS} s of Temporal stopping"
    )
