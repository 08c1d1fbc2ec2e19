"""Pure ASGI middleware: request body limits, gzip request bodies, request metrics."""

from __future__ import annotations

import re
import time
import zlib
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.http import PROBLEM_BASE
from backend.metrics import in_flight_requests, request_latency, shed_requests

_UPLOAD_PATH = re.compile(r"^/v1/models/[^/]+/versions/[^/]+/(artifact|references)$")


class _TooLarge(Exception):
    pass


async def _send_problem(
    send: Send,
    status: int,
    slug: str,
    title: str,
    detail: str,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    body = orjson.dumps(
        {"type": PROBLEM_BASE + slug, "title": title, "status": status, "detail": detail}
    )
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodyLimitMiddleware:
    """Refuses bodies past the limit with 413 and inflates ``Content-Encoding: gzip``.

    The limit applies to the decompressed size too, so a small gzip bomb is refused
    the same way as a large body.
    """

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, max_upload_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_upload_bytes = max_upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_upload_bytes if _UPLOAD_PATH.match(scope["path"]) else self.max_body_bytes
        headers = {k.lower(): v for k, v in scope["headers"]}
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _send_problem(
                send,
                413,
                "payload-too-large",
                "Payload too large",
                f"the request body is {int(declared)} bytes; the limit is {limit}",
            )
            return
        encoding = headers.get(b"content-encoding", b"identity").strip().lower()
        if encoding == b"gzip":
            await self._gzip(scope, receive, send, limit)
            return
        if encoding != b"identity":
            await _send_problem(
                send,
                415,
                "unsupported-media-type",
                "Unsupported content encoding",
                f"Content-Encoding '{encoding.decode(errors='replace')}' is not supported; "
                "send gzip or identity",
            )
            return
        await self._limited(scope, receive, send, limit)

    async def _limited(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _TooLarge:
            if started:
                raise
            await _send_problem(
                send,
                413,
                "payload-too-large",
                "Payload too large",
                f"the request body exceeds the limit of {limit} bytes",
            )

    async def _gzip(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        compressed = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            compressed.extend(message.get("body", b""))
            more = message.get("more_body", False)
            if len(compressed) > limit:
                await _send_problem(
                    send,
                    413,
                    "payload-too-large",
                    "Payload too large",
                    f"the request body exceeds the limit of {limit} bytes",
                )
                return
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        try:
            body = inflater.decompress(bytes(compressed), limit + 1)
            if len(body) > limit or inflater.unconsumed_tail:
                await _send_problem(
                    send,
                    413,
                    "payload-too-large",
                    "Payload too large",
                    f"the decompressed request body exceeds the limit of {limit} bytes",
                )
                return
            body += inflater.flush()
        except zlib.error as exc:
            await _send_problem(
                send,
                400,
                "bad-request",
                "Bad request",
                f"the body is not valid gzip: {exc}",
            )
            return
        new_headers = [
            (k, v)
            for k, v in scope["headers"]
            if k.lower() not in (b"content-encoding", b"content-length")
        ]
        new_headers.append((b"content-length", str(len(body)).encode()))
        delivered = False

        async def inflated_receive() -> Message:
            nonlocal delivered
            if delivered:
                return await receive()
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app({**scope, "headers": new_headers}, inflated_receive, send)


class MetricsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        started = time.perf_counter()

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            route: Any = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            request_latency.labels(scope["method"], template, str(status)).observe(
                time.perf_counter() - started
            )


_UNLIMITED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


class LoadShedMiddleware:
    """Past ``limit`` requests in flight in this process, answers 429 with
    ``Retry-After`` at once instead of queueing: a queue only grows under sustained
    overload, until every request times out. Probes and metrics are never shed.

    429 rather than 503: it is back-pressure, and the server is healthy, so alerts
    and error budgets on 5xx stay for real faults. The SDK backs off on both.
    """

    def __init__(self, app: ASGIApp, *, limit: int, retry_after_seconds: int) -> None:
        self.app = app
        self.limit = limit
        self.retry_after = str(retry_after_seconds).encode()
        self.in_flight = 0  # one event loop per process: no lock needed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in _UNLIMITED_PATHS:
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.limit:
            shed_requests.inc()
            await _send_problem(
                send,
                429,
                "overloaded",
                "Server overloaded",
                f"{self.in_flight} requests are in flight, the limit is {self.limit}; "
                "nothing from this request was stored, retry after the Retry-After delay",
                headers=[(b"retry-after", self.retry_after)],
            )
            return
        self.in_flight += 1
        in_flight_requests.inc()
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1
            in_flight_requests.dec()
