"""A local alert destination for the benchmark: an HTTP server that takes Apprise's `json://`
posts, answers 200 at once and counts them (`GET /count`). Nothing leaves the machine."""

from __future__ import annotations

import argparse
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Sink(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int]) -> None:
        super().__init__(address, Handler)
        self.lock = threading.Lock()
        self.received = 0
        self.bytes = 0


class Handler(BaseHTTPRequestHandler):
    server: Sink
    protocol_version = "HTTP/1.1"

    def _answer(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        size = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(size)
        with self.server.lock:
            self.server.received += 1
            self.server.bytes += size
        self._answer(b"{}")

    def do_GET(self) -> None:
        with self.server.lock:
            counts = {"received": self.server.received, "bytes": self.server.bytes}
        self._answer(json.dumps(counts).encode())

    def log_message(self, format: str, *args: object) -> None:
        return None  # one line per alert would only cost CPU


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    Sink(("127.0.0.1", args.port)).serve_forever()


if __name__ == "__main__":
    main()
