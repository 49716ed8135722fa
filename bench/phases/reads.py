"""The `reads` phase (issue 20): every list, search, page, `/metrics`, the exception inbox and
the CSV export, each timed alone over HTTP, on SQLite and on PostgreSQL (a server started as the
PostgreSQL tests start theirs: tests/integration/postgres.py), with a small store (1,000 events,
the baseline) and a large one (`--large-store-events`, 1,000,000 by default: 40,000 shipments,
about a year of a mid-size importer). bench/store.py bulk-inserts the same rows in both (COPY on
PostgreSQL), with a few failed events and exceptions (bench/troubled.py) so those lists show
realistic content, the small store's included.

Each timing records `rows`, how many items the answer shows (a JSON list's length, one object
1, a dashboard table's body rows, a CSV's records; none for `/metrics`): a list that the small
store cannot fill shows fewer rows there than the large store's full page, so its ratio
compares unlike pages. The surfaces marked "like for like" ask both stores for the same rows:
a `limit` the small store fills (`SMALL`), a search matching one shipment in either store.

Requests are sequential, one client kept alive per surface: `WARMUP` untimed, then
`--reads-requests` timed (fewer when a surface's `BUDGET_SECONDS` run out first), the small
and the large store's web processes in turn surface by surface, so both see the same
neighbours on the machine. A list that answers a `next` cursor also has its second page timed
(`?after=`); a list without one has none. A surface that answers an error is recorded with its
status and the run goes on. The table (bench/reads_table.py) shows p50, p99 and the large
store's p99 over the small one's: issue 20 wants it at most 1.5.
"""

from __future__ import annotations

import csv
import io
import json
import math
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from app.store import db
from bench import store, troubled
from bench.options import Options
from bench.phases.store import SMALL_STORE_SHIPMENTS
from bench.procs import BenchError, Proc
from bench.stack import Stack
from bench.store import EVENTS_PER_SHIPMENT, shipment_id

SHIPMENT = shipment_id(SMALL_STORE_SHIPMENTS // 2)
SEARCH = "Bench shipment 17"  # names 17, 170-179, 1700-1799...: 1 at 1k, 1,111 at 1M
# The small store's rows (bench/troubled.py): what a like-for-like `limit` asks for.
SMALL = {"shipments": SMALL_STORE_SHIPMENTS, **troubled.small_store_counts(SMALL_STORE_SHIPMENTS)}
# Its id: a substring of no other shipment's id or name, so one match in either store, found
# through the same substring index as a name.
UNIQUE_SEARCH = SHIPMENT
WARMUP = 5
BUDGET_SECONDS = 15.0  # per surface and store: fewer requests (at least MIN_REQUESTS) past it
MIN_REQUESTS = 5
DATABASES = ("sqlite", "postgresql")


@dataclass(frozen=True)
class Surface:
    name: str
    path: str
    via: str  # api (bearer token) | dashboard (signed in) | metrics (the metrics listener)
    paged: bool = False  # an API list: its `next` cursor's page is timed too


SURFACES = (
    Surface("GET /api/shipments/{id}", f"/api/shipments/{SHIPMENT}", "api"),
    Surface("/api/events?shipment_id=", f"/api/events?shipment_id={SHIPMENT}", "api", True),
    Surface("/api/events?status=failed", "/api/events?status=failed", "api", True),
    Surface(
        "/api/shipments?status=delivered&limit=50",
        "/api/shipments?status=delivered&limit=50",
        "api",
        True,
    ),
    Surface(
        "/api/events?type=shipment.milestone&limit=50",
        "/api/events?type=shipment.milestone&limit=50",
        "api",
        True,
    ),
    Surface("/api/exceptions", "/api/exceptions", "api", True),
    *(
        Surface(f"{path} (like for like)", path, "api")
        for path in (
            f"/api/events?status=failed&limit={SMALL['failed']}",
            f"/api/shipments?status=delivered&limit={SMALL['shipments']}",
            f"/api/exceptions?limit={SMALL['exceptions']}",
        )
    ),
    Surface("GET /metrics", "/metrics", "metrics"),
    Surface("dashboard home (shipments)", "/dashboard/shipments", "dashboard"),
    Surface("dashboard search by name", f"/dashboard/shipments?q={quote(SEARCH)}", "dashboard"),
    Surface(
        "dashboard search, one match (like for like)",
        f"/dashboard/shipments?q={quote(UNIQUE_SEARCH)}",
        "dashboard",
    ),
    Surface("dashboard events page", "/dashboard/events", "dashboard"),
    Surface("dashboard events, failed only", "/dashboard/events?status=failed", "dashboard"),
    Surface("/dashboard/exceptions (the inbox)", "/dashboard/exceptions", "dashboard"),
    Surface(
        "CSV export, one shipment's events",
        f"/api/events.csv?shipment_id={SHIPMENT}",
        "api",
    ),
    Surface(
        "CSV export, delivered shipments, limit 50",
        "/api/shipments.csv?status=delivered&limit=50",
        "api",
    ),
    Surface(
        f"CSV export, delivered shipments, limit {SMALL['shipments']} (like for like)",
        f"/api/shipments.csv?status=delivered&limit={SMALL['shipments']}",
        "api",
    ),
)


def measure(stack: Stack, options: Options) -> dict[str, Any]:
    """`reads`: per database and size, what was stored and each surface's p50 and p99 (ms)."""
    small = SMALL_STORE_SHIPMENTS * EVENTS_PER_SHIPMENT
    sizes = [small] + ([options.large_store_events] if options.large_store_events > small else [])
    stack.echo(f"reads: {len(SURFACES)} surfaces on {', '.join(DATABASES)} with {sizes} events")
    measured = {
        database: _measure_database(stack, options, database, sizes) for database in DATABASES
    }
    found = {"requests": options.reads_requests, "warmup": WARMUP, "databases": measured}
    saved = results_file(options.output)
    saved.parent.mkdir(parents=True, exist_ok=True)
    saved.write_text(json.dumps(found, indent=2) + "\n")
    stack.echo(f"  reads: {saved}")
    return {"reads": found}


def _measure_database(
    stack: Stack, options: Options, database: str, sizes: list[int]
) -> dict[str, Any]:
    with _servers(database) as create:
        stores = {events: _fill(stack, database, create, events) for events in sizes}
        webs: dict[int, tuple[Proc, int]] = {}
        try:
            for events, (url, _) in stores.items():
                webs[events] = stack.start_web(
                    f"reads-{database}-{events}",
                    queue="bench-reads",
                    database=stack.work / f"reads-{database}-{events}.unused",
                    env={"DATABASE_URL": url},
                )
            timings = _time_surfaces(stack, options, database, webs)
        finally:
            for web, _ in webs.values():
                web.stop()
    return {str(events): {**stores[events][1], "surfaces": timings[events]} for events in sizes}


@contextmanager
def _servers(database: str) -> Iterator[Callable[[], str] | None]:
    """PostgreSQL: a server for the phase and its function making a new empty database (its
    SQLAlchemy URL; schema not yet there). SQLite: None (bench.stack makes the files)."""
    if database == "sqlite":
        yield None
        return
    from tests.integration.postgres import running_postgres

    with running_postgres() as server:
        yield server.create_database


def _fill(
    stack: Stack, database: str, create: Callable[[], str] | None, events: int
) -> tuple[str, dict[str, Any]]:
    """A new `database` store holding about `events` events: (its URL, what it holds)."""
    name = f"reads-{database}-{events}"
    rest = events // EVENTS_PER_SHIPMENT - SMALL_STORE_SHIPMENTS
    began = time.perf_counter()
    if create is None:
        path = stack.database(name)
        url = f"sqlite:///{path}"
        store.seed(path, first_shipment=0, shipments=SMALL_STORE_SHIPMENTS, troubles=True)
        if rest > 0:
            store.seed(path, first_shipment=SMALL_STORE_SHIPMENTS, shipments=rest, troubles=True)
    else:
        url = create()
        engine = db.create_db_engine(url)
        try:
            db.upgrade(engine)
        finally:
            engine.dispose()
        store.seed_postgres(url, first_shipment=0, shipments=SMALL_STORE_SHIPMENTS, troubles=True)
        if rest > 0:
            store.seed_postgres(
                url, first_shipment=SMALL_STORE_SHIPMENTS, shipments=rest, troubles=True
            )
    seeded = time.perf_counter() - began
    stored = _count_events(url)
    stack.echo(f"  {database}: {stored:,} events stored ({seeded:.1f} s to write them)")
    return url, {"events": stored, "seed_seconds": round(seeded, 1)}


def _count_events(url: str) -> int:
    engine = db.create_db_engine(url)
    try:
        with engine.connect() as connection:
            return int(connection.exec_driver_sql("SELECT count(*) FROM event").scalar_one())
    finally:
        engine.dispose()


def _time_surfaces(
    stack: Stack, options: Options, database: str, webs: dict[int, tuple[Proc, int]]
) -> dict[int, dict[str, dict[str, Any]]]:
    """Each surface (and second page) in turn, on each store's web process in turn."""
    timings: dict[int, dict[str, dict[str, Any]]] = {events: {} for events in webs}
    with _clients(stack, webs) as clients:
        for surface in SURFACES:
            for events, by_via in clients.items():
                client = by_via[surface.via]
                first = _timed(client, surface.path, options.reads_requests)
                timings[events][surface.name] = first
                stack.echo(f"  {database}, {events:,} events: {surface.name} {_brief(first)}")
                cursor = first.pop("next", None)
                if not surface.paged or cursor is None:
                    continue
                joint = "&" if "?" in surface.path else "?"
                after = f"{surface.path}{joint}after={quote(str(cursor))}"
                second = _timed(client, after, options.reads_requests)
                second.pop("next", None)
                timings[events][f"{surface.name}, next page"] = second
                stack.echo(f"  {database}, {events:,} events: … next page {_brief(second)}")
    return timings


@contextmanager
def _clients(
    stack: Stack, webs: dict[int, tuple[Proc, int]]
) -> Iterator[dict[int, dict[str, httpx.Client]]]:
    """Per store: an API client (bearer token), a signed-in dashboard one, a metrics one."""
    opened: list[httpx.Client] = []

    def client(port: int, **kwargs: Any) -> httpx.Client:
        made = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120, **kwargs)
        opened.append(made)
        return made

    try:
        clients: dict[int, dict[str, httpx.Client]] = {}
        for events, (_, port) in webs.items():
            bearer = {"authorization": f"Bearer {stack.token}"}
            dashboard = client(port)
            signed_in = dashboard.post("/dashboard/sign-in", data={"token": stack.token})
            if signed_in.status_code != 303:
                raise BenchError(f"dashboard sign-in: {signed_in.status_code}")
            clients[events] = {
                "api": client(port, headers=bearer),
                "dashboard": dashboard,
                "metrics": client(stack.metrics_ports[port]),
            }
        yield clients
    finally:
        for made in opened:
            made.close()


def _timed(client: httpx.Client, path: str, requests: int) -> dict[str, Any]:
    """`WARMUP` untimed GETs of `path`, then `requests` timed: p50 and p99 (ms), how many, the
    answer's size, its rows (`shown_rows`) and its `next` cursor; `{"status": code}` for an
    error answer."""
    seconds: list[float] = []
    spent = 0.0
    answer: httpx.Response | None = None
    for i in range(WARMUP + requests):
        began = time.perf_counter()
        answer = client.get(path)
        took = time.perf_counter() - began
        if answer.status_code != 200:
            return {"status": answer.status_code, "error": answer.text[:200]}
        if i >= WARMUP:
            seconds.append(took)
            spent += took
            if spent > BUDGET_SECONDS and len(seconds) >= MIN_REQUESTS:
                break
    assert answer is not None
    ordered = sorted(seconds)
    found: dict[str, Any] = {
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p99_ms": round(ordered[math.ceil(0.99 * len(ordered)) - 1] * 1000, 2),
        "requests": len(ordered),
        "bytes": len(answer.content),
        "rows": shown_rows(answer.headers.get("content-type", ""), answer.text),
        "next": _next_cursor(answer),
    }
    return found


def shown_rows(content_type: str, body: str) -> int | None:
    """How many items an answer shows: a JSON page's list (the list beside its `next`:
    "events", "shipments", "exceptions"; 1 for one object, whatever lists it holds), an HTML
    page's rows in its table's body (0 without one), a CSV's records but the header; None for
    anything else (`/metrics`)."""
    if content_type.startswith("application/json"):
        found = json.loads(body)
        if isinstance(found, list):
            return len(found)
        if not isinstance(found, dict) or "next" not in found:
            return 1
        lists = [value for value in found.values() if isinstance(value, list)]
        return len(lists[0]) if lists else 0
    if content_type.startswith("text/html"):
        _, opened, rest = body.partition("<tbody")
        return rest.split("</tbody>", 1)[0].count("<tr") if opened else 0
    if content_type.startswith("text/csv"):
        return max(sum(1 for _ in csv.reader(io.StringIO(body))) - 1, 0)
    return None


def _next_cursor(answer: httpx.Response) -> str | None:
    if not answer.headers.get("content-type", "").startswith("application/json"):
        return None
    body = answer.json()
    cursor = body.get("next") if isinstance(body, dict) else None
    return cursor if isinstance(cursor, str) and cursor else None


def _brief(timing: dict[str, Any]) -> str:
    if "status" in timing:
        return f"HTTP {timing['status']}: {timing['error'][:80]}"
    return f"p50 {timing['p50_ms']:.2f} ms, p99 {timing['p99_ms']:.2f} ms ({timing['requests']})"


def results_file(output: Path) -> Path:
    """Where the phase writes its results (beside `--output`): bench/results/reads.json."""
    return output.parent / "reads.json"
