"""The `start` phase: flexhook's ack (`POST /webhooks/flexport`) next to its baseline, the raw
SDK `start_workflow` with the web process's arguments (bench/load.py), interleaved run by run
so that both see the same Temporal."""

from __future__ import annotations

from typing import Any

from bench import report
from bench.measure import cpu, summarize
from bench.options import Options
from bench.stack import Stack


def measure(stack: Stack, options: Options) -> dict[str, Any]:
    """`sdk_start` and `ack`: per concurrency, the runs and their medians."""
    stack.echo("start: raw SDK start_workflow and flexhook's ack, interleaved")
    web, port = stack.start_web("ack", queue="bench-ack", database=stack.database("ack"))
    sdk_runs: dict[int, list[dict[str, Any]]] = {c: [] for c in options.concurrencies}
    ack_runs: dict[int, list[dict[str, Any]]] = {c: [] for c in options.concurrencies}
    try:
        stack.posts("ack-8", port, 8, warm_only=True)  # the first requests connect to Temporal
        for run in range(options.runs):
            for c in options.concurrencies:
                sdk: dict[str, Any] = {}
                with cpu({"temporal": stack.temporal}, sdk):
                    sdk.update(
                        stack.sdk(
                            "start",
                            queue="bench-sdk",
                            tag=stack.tag("sdk"),
                            concurrency=c,
                            duration=options.duration,
                            warmup=options.warmup,
                        )
                    )
                sdk_runs[c].append(sdk)
                stack.echo(f"  run {run + 1} c={c} raw SDK: {report.brief(sdk)}")
                ack: dict[str, Any] = {}
                with cpu({"temporal": stack.temporal, "web": web}, ack):
                    ack.update(stack.posts(f"ack-{c}", port, c))
                ack_runs[c].append(ack)
                stack.echo(f"  run {run + 1} c={c} flexhook ack: {report.brief(ack)}")
        if options.profile:
            with stack.profiled("ack", web):
                stack.posts("ack-8", port, 8)
    finally:
        web.stop()
    return {
        "sdk_start": {str(c): summarize(r) for c, r in sdk_runs.items()},
        "ack": {str(c): summarize(r) for c, r in ack_runs.items()},
    }
