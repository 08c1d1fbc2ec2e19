"""A webhook receiver on loopback whose answers a test scripts: ``answer(n)`` gives
the n-th POST's (status, headers, body), n counting from 1."""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Answer = tuple[int, dict[str, str], bytes]


class StubServer:
    def __init__(self, answer: Callable[[int], Answer]) -> None:
        outer = self
        self.calls = 0
        self.paths: list[str] = []
        self.hosts: list[str] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["content-length"]))
                outer.calls += 1
                outer.paths.append(self.path)
                outer.hosts.append(self.headers.get("host", ""))
                status, headers, body = answer(outer.calls)
                self.send_response(status)
                for name, value in {**headers, "Content-Length": str(len(body))}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.url = f"{self.base}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def flaky() -> StubServer:
    """Answers 503 with Retry-After: 30 the first time, then 204."""
    return StubServer(lambda n: (503, {"Retry-After": "30"}, b"") if n == 1 else (204, {}, b""))
