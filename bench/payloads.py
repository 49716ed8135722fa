"""Unique, signed Flexport deliveries made from the bundled samples, and the raw HTTP requests
that bench/http_load.py replays.

Every event gets its own id (a repeated id is a duplicate, which is cheaper) and one of a pool of
shipment ids, and is re-serialized compactly, as Flexport sends it. The bodies cycle through all
bundled samples: full Flexport-format events of 5-9 KB and compact ones of ~250 bytes.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from app.core.signature import sign

SAMPLE_SHIPMENT_ID = "418563"
_SHIPMENT_RE = re.compile(rf"(?<![0-9]){SAMPLE_SHIPMENT_ID}(?![0-9])")
_ID_MARK = "@@EVENT_ID@@"
_SHIP_MARK = "@@SHIPMENT_ID@@"
WEBHOOK_PATH = "/webhooks/flexport"


@dataclass(frozen=True)
class Template:
    name: str
    text: str  # compact JSON with the id and shipment id marked

    def render(self, event_id: str, shipment_id: str) -> str:
        return self.text.replace(_ID_MARK, event_id).replace(_SHIP_MARK, shipment_id)


def _template(name: str, raw: str) -> Template:
    payload = json.loads(raw)
    payload["id"] = _ID_MARK
    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    return Template(name, _SHIPMENT_RE.sub(_SHIP_MARK, text))


def templates(*, compact_only: bool = False) -> list[Template]:
    """One template per bundled sample, in name order."""
    found = []
    for entry in sorted(resources.files("app").joinpath("samples").iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".json") and (not compact_only or "compact" in entry.name):
            found.append(_template(entry.name.removesuffix(".json"), entry.read_text("utf-8")))
    return found


def shipment_id(index: int) -> str:
    return str(900_000 + index)


@dataclass(frozen=True)
class Delivery:
    event_id: str
    body: bytes
    signature: str


def deliveries(tag: str, *, secret: str, shipments: int = 1000) -> Iterator[Delivery]:
    """An endless stream of signed deliveries with ids `<tag>-<n>`, cycling through the samples."""
    cycle = itertools.cycle(templates())
    for n in itertools.count():
        event_id = f"{tag}-{n:07d}"
        body = next(cycle).render(event_id, shipment_id(n % shipments)).encode("utf-8")
        yield Delivery(event_id, body, sign(body, secret))


def template(name: str) -> Template:
    """The template of one bundled sample, by name (`06_leg_departed`)."""
    for found in templates():
        if found.name == name:
            return found
    raise KeyError(f"no bundled sample {name}")


def one_kind(name: str, tag: str, *, secret: str, first_shipment: int) -> Iterator[Delivery]:
    """Signed deliveries of one sample, each with its own id `<tag>-<n>` and its own shipment
    (`first_shipment + n`), so that every one is news: the first of its kind for its shipment."""
    sample = template(name)
    for n in itertools.count():
        event_id = f"{tag}-{n:07d}"
        body = sample.render(event_id, str(first_shipment + n)).encode("utf-8")
        yield Delivery(event_id, body, sign(body, secret))


def post_request(delivery: Delivery, *, host: str) -> bytes:
    """The raw HTTP/1.1 request Flexport would send for `delivery`."""
    head = (
        f"POST {WEBHOOK_PATH} HTTP/1.1\r\n"
        f"Host: {host}\r\n"
        "User-Agent: flexhook-bench\r\n"
        "Content-Type: application/json\r\n"
        f"X-Hub-Signature-256: {delivery.signature}\r\n"
        f"Content-Length: {len(delivery.body)}\r\n"
        "\r\n"
    )
    return head.encode("ascii") + delivery.body


def get_request(path: str, *, host: str, token: str) -> bytes:
    return (f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n\r\n").encode(
        "ascii"
    )


def write_requests(path: Path, requests: Iterator[bytes], count: int) -> int:
    """Write `count` requests for bench/http_load.py (a length line, then the bytes)."""
    size = 0
    with path.open("wb") as file:
        for request in itertools.islice(requests, count):
            file.write(b"%d\n" % len(request))
            file.write(request)
            size += len(request)
    return size
