"""The HTTP load generator, run as its own process: keep-alive HTTP/1.1 connections that replay
pre-built requests (bench/payloads.py) back to back, one in flight per connection; prints JSON.

It records every latency as observed: closed-loop, no correction for coordinated omission (wrk
4.1 applies one, which turns a few slow answers into a slow p90). Written on asyncio + uvloop
protocols, it drives ~7-10k requests/s from one core.

Modes: `cycle` repeats the file (the ceiling, GETs); `unique` counts a wrap-around, since a
repeated event id is a cheaper duplicate; `once` sends each request once, then stops.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any, cast

import uvloop


def read_requests(path: Path) -> list[bytes]:
    data = path.read_bytes()
    requests, at = [], 0
    while at < len(data):
        end = data.index(b"\n", at)
        size = int(data[at:end])
        requests.append(data[end + 1 : end + 1 + size])
        at = end + 1 + size
    return requests


class Source:
    """Hands out requests, and knows when to stop."""

    def __init__(self, requests: list[bytes], mode: str, end: float) -> None:
        self.requests = requests
        self.mode = mode
        self.end = end
        self.index = 0
        self.wrapped = 0

    def next(self) -> bytes | None:
        if time.perf_counter() >= self.end:
            return None
        if self.index >= len(self.requests):
            if self.mode == "once":
                return None
            self.index = 0
            self.wrapped += 1
        request = self.requests[self.index]
        self.index += 1
        return request


class Tally:
    def __init__(self, begin: float, end: float) -> None:
        self.begin = begin
        self.end = end
        self.latencies: list[float] = []
        self.statuses: Counter[int] = Counter()
        self.answers: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()

    def record(self, sent: float, done: float, status: int, body: bytes) -> None:
        if not self.begin <= done < self.end:
            return
        self.latencies.append(done - sent)
        self.statuses[status] += 1
        if status == 200:
            for answer in (b'"accepted"', b'"duplicate"', b'"queued"'):
                if answer in body:
                    self.answers[answer.decode().strip('"')] += 1
                    break


class Connection(asyncio.Protocol):
    def __init__(self, source: Source, tally: Tally, finished: asyncio.Future[None]) -> None:
        self.source = source
        self.tally = tally
        self.finished = finished
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.need = -1  # bytes of the current response, once its head is read
        self.body_at = 0
        self.status = 0
        self.sent = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.send()

    def send(self) -> None:
        assert self.transport is not None
        request = self.source.next()
        if request is None:
            self.transport.close()
            return
        self.sent = time.perf_counter()
        self.transport.write(request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            if self.need < 0:
                head_end = self.buffer.find(b"\r\n\r\n")
                if head_end < 0:
                    return
                head = self.buffer[:head_end].lower()
                self.status = int(head[9:12])
                at = head.find(b"content-length:")
                if at < 0:
                    self.tally.errors["no content-length"] += 1
                    assert self.transport is not None
                    self.transport.close()
                    return
                stop = head.find(b"\r\n", at)
                length = int(head[at + 15 : stop if stop > 0 else len(head)])
                self.body_at = head_end + 4
                self.need = self.body_at + length
            if len(self.buffer) < self.need:
                return
            body = self.buffer[self.body_at : self.need]
            self.buffer = self.buffer[self.need :]
            self.need = -1
            self.tally.record(self.sent, time.perf_counter(), self.status, body)
            self.send()

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is not None:
            self.tally.errors[type(exc).__name__] += 1
        if not self.finished.done():
            self.finished.set_result(None)


def percentile(ordered: list[float], p: float) -> float:
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def run(args: argparse.Namespace) -> dict[str, Any]:
    requests = read_requests(args.requests)
    loop = asyncio.get_running_loop()
    begin = time.perf_counter() + args.warmup
    end = begin + args.duration
    source = Source(requests, args.mode, end)
    tally = Tally(begin if args.mode != "once" else 0.0, end)
    started = time.perf_counter()
    finished: list[asyncio.Future[None]] = []
    for _ in range(args.concurrency):
        future: asyncio.Future[None] = loop.create_future()
        try:
            await loop.create_connection(
                functools.partial(Connection, source, tally, future), args.host, args.port
            )
        except OSError as exc:
            tally.errors[type(exc).__name__] += 1
            future.set_result(None)
        finished.append(future)
    await asyncio.sleep(max(0.0, begin - time.perf_counter()))
    cpu = time.process_time()
    # Answers still awaited 30 s after the end are abandoned (and not counted).
    await asyncio.wait(finished, timeout=max(0.0, end - time.perf_counter()) + 30)
    stopped = time.perf_counter()
    cpu = time.process_time() - cpu
    seconds = stopped - started if args.mode == "once" else args.duration
    ordered = sorted(tally.latencies)
    failed = sum(n for status, n in tally.statuses.items() if status >= 400)
    return {
        "requests": len(ordered),
        "seconds": round(seconds, 3),
        "rate": len(ordered) / seconds if seconds else 0.0,
        "p50_ms": percentile(ordered, 50) * 1000,
        "p90_ms": percentile(ordered, 90) * 1000,
        "p99_ms": percentile(ordered, 99) * 1000,
        "mean_ms": sum(ordered) / len(ordered) * 1000 if ordered else float("nan"),
        "max_ms": ordered[-1] * 1000 if ordered else float("nan"),
        "errors": failed + sum(tally.errors.values()),
        "error_kinds": dict(tally.errors),
        "statuses": {str(k): v for k, v in sorted(tally.statuses.items())},
        **{answer: tally.answers.get(answer, 0) for answer in ("accepted", "duplicate", "queued")},
        "wrapped": source.wrapped if args.mode == "unique" else 0,
        "loader_cpu_pct": round(100 * cpu / max(stopped - begin, 1e-9)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--requests", type=Path, required=True)
    parser.add_argument("--mode", choices=["cycle", "unique", "once"], default="cycle")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--duration", type=float, default=6.0, help="ignored in `once` mode")
    parser.add_argument("--warmup", type=float, default=0.0)
    args = parser.parse_args()
    if args.mode == "once":
        args.warmup, args.duration = 0.0, 3600.0
    json.dump(uvloop.run(run(args)), sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
