"""The `store` phase: flexhook's ack and `GET /api/shipments/{id}` with a small store (1,000
events) and a large one (bench/store.py bulk-inserts them), measured in turn: the small
store is the large one's baseline."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from bench import payloads, report, store
from bench.measure import cpu, summarize
from bench.options import Options
from bench.procs import BenchError, Proc
from bench.stack import Stack

SMALL_STORE_SHIPMENTS = 40  # 1,000 events; the shipments read back in every store


def measure(stack: Stack, options: Options) -> dict[str, Any]:
    """`store`: per size, what was stored, and the ack and GET runs with their medians."""
    small = SMALL_STORE_SHIPMENTS * store.EVENTS_PER_SHIPMENT
    sizes = [small] + ([options.large_store_events] if options.large_store_events > small else [])
    stack.echo(f"store: ack p99 and GET /api/shipments/{{id}} p99 with {sizes} stored events")
    c = options.store_concurrency
    # One database and web process per size, measured in turn, so both see the same
    # Temporal (whose history grows) and the same neighbours on the machine.
    stores: dict[int, dict[str, Any]] = {}
    webs: list[Proc] = []
    try:
        for events in sizes:
            stores[events] = _open_store(stack, events, concurrency=c)
            webs.append(stores[events]["web"])
        for run in range(options.runs):
            for events, s in stores.items():
                web, port = s["web"], s["port"]
                ack: dict[str, Any] = {}
                with cpu({"temporal": stack.temporal, "web": web}, ack):
                    ack.update(stack.posts(f"store-ack-{events}", port, c))
                s["ack"].append(ack)
                get: dict[str, Any] = {}
                with cpu({"web": web}, get):
                    get.update(stack.http(port, get_file(stack, port), mode="cycle", concurrency=c))
                if get["errors"]:
                    raise BenchError(f"GET /api/shipments/{{id}} failed: {get}")
                s["get"].append(get)
                stack.echo(f"  run {run + 1}, {events:,} events: ack {report.brief(ack)}")
                stack.echo(f"  run {run + 1}, {events:,} events: GET {report.brief(get)}")
        if options.profile:
            largest = stores[sizes[-1]]
            with stack.profiled("get", largest["web"]):
                stack.http(
                    largest["port"], get_file(stack, largest["port"]), mode="cycle", concurrency=c
                )
    finally:
        for web in webs:
            web.stop()
    return {
        "store": {
            "concurrency": c,
            "sizes": {
                str(events): {**s["info"], "ack": summarize(s["ack"]), "get": summarize(s["get"])}
                for events, s in stores.items()
            },
        }
    }


def fill(stack: Stack, name: str, events: int) -> tuple[Path, dict[str, Any]]:
    """A new database `name` holding about `events` stored events: (its path, what it holds)."""
    database = stack.database(name)
    began = time.perf_counter()
    # The same first shipments in every store: those are the ones read back.
    store.seed(
        database, first_shipment=0, shipments=SMALL_STORE_SHIPMENTS, window=SMALL_STORE_SHIPMENTS
    )
    rest = events // store.EVENTS_PER_SHIPMENT - SMALL_STORE_SHIPMENTS
    if rest > 0:
        store.seed(database, first_shipment=SMALL_STORE_SHIPMENTS, shipments=rest)
    seeded = time.perf_counter() - began
    stored = store.count_events(database)
    stack.echo(f"  {stored:,} events stored ({seeded:.1f} s to write them)")
    return database, {
        "events": stored,
        "seed_seconds": round(seeded, 1),
        "database_bytes": database.stat().st_size,
    }


def _open_store(stack: Stack, events: int, *, concurrency: int) -> dict[str, Any]:
    """A database of about `events` stored events and a warmed-up web process over it."""
    database, info = fill(stack, f"store-{events}", events)
    web, port = stack.start_web(f"store-{events}", queue="bench-store", database=database)
    stack.posts(f"store-ack-{events}", port, concurrency, warm_only=True)
    return {"web": web, "port": port, "info": info, "ack": [], "get": []}


def get_file(stack: Stack, port: int) -> Path:
    """One `GET /api/shipments/{id}` per shipment every store holds, for the `cycle` mode."""
    host = f"127.0.0.1:{port}"
    gets = [
        payloads.get_request(f"/api/shipments/{store.shipment_id(k)}", host=host, token=stack.token)
        for k in range(SMALL_STORE_SHIPMENTS)
    ]
    return stack.request_file(iter(gets), len(gets))
