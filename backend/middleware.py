"""Pure ASGI middleware, outermost first:

RequestId → Metrics → AuthGate → LoadShed → BodyLimit → the app.

**No work before auth.** ``AuthGate`` checks the API key from the headers alone and
answers 401 before a byte of the body is read, inflated or parsed. Only then does a
request count against the in-flight limit (``LoadShed``), so keyless clients cannot
fill it; and only then does ``BodyLimit`` read the body, with a deadline that grows
with the bytes received (a slow body is cut off with 408), and inflate gzip strictly,
off the event loop, never past the limit.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio
import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.errors import PayloadTooLarge, RequestTimeout, Unauthorized
from backend.http import CLIENT_CLOSED, PROBLEM_BASE, classify_database_error, driver_error
from backend.metrics import database_unavailable, in_flight_requests, request_latency, shed_requests

log = logging.getLogger("verity.http")

_UPLOAD_PATH = re.compile(r"^/v1/models/[^/]+/versions/[^/]+/(artifact|references)$")


async def send_problem(
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


# --- authentication ------------------------------------------------------------------


def raw_api_key(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The key from ``Authorization: Bearer …`` or ``X-API-Key``, as FastAPI's
    HTTPBearer and APIKeyHeader read them."""
    authorization = api_key = None
    for name, value in headers:
        lowered = name.lower()
        if lowered == b"authorization" and authorization is None:
            authorization = value.decode("latin-1")
        elif lowered == b"x-api-key" and api_key is None:
            api_key = value.decode("latin-1")
    if authorization:
        scheme, _, credentials = authorization.partition(" ")
        if scheme.lower() == "bearer" and credentials.strip():
            return credentials.strip()
    return api_key or None


Authenticate = Callable[[str], Any]


class AuthGateMiddleware:
    """Every ``/v1`` request must carry a valid API key, checked from the headers
    before the body is touched: a keyless or bad key gets 401 at once, and its body is
    never read. The actor is left in ``scope["state"]["actor"]`` for the route's
    dependencies, so the key is looked up once per request."""

    def __init__(self, app: ASGIApp, *, authenticate: Authenticate) -> None:
        self.app = app
        self.authenticate = authenticate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        raw = raw_api_key(scope["headers"])
        if raw is None:
            await send_problem(
                send,
                401,
                Unauthorized.slug,
                Unauthorized.title,
                "send an API key as 'Authorization: Bearer vt_…' or 'X-API-Key'",
            )
            return
        try:
            # The key lookup is a database read: off the event loop.
            actor = await anyio.to_thread.run_sync(self.authenticate, raw)
        except Unauthorized as refused:
            await send_problem(send, 401, refused.slug, refused.title, refused.detail)
            return
        except Exception as exc:  # the database is down, busy or full
            reason, retry_after, detail = classify_database_error(exc)
            database_unavailable.labels(reason).inc()
            log.error("auth.database_error reason=%s: %s", reason, driver_error(exc))
            await send_problem(
                send,
                503,
                reason,
                "Database unavailable",
                f"{detail}; nothing from this request was stored, retry later",
                headers=[(b"retry-after", str(retry_after).encode())],
            )
            return
        scope.setdefault("state", {})["actor"] = actor
        await self.app(scope, receive, send)


# --- SDK versions --------------------------------------------------------------------

SDK_AGENT = re.compile(rb"(?:^|\s)verity-sdk/(\d+)\.(\d+)(?:\.(\d+))?")


def sdk_version(headers: list[tuple[bytes, bytes]]) -> tuple[int, int, int] | None:
    """The verity-sdk version a request's User-Agent names; None for other clients."""
    for name, value in headers:
        if name == b"user-agent":
            found = SDK_AGENT.search(value)
            if found:
                return int(found[1]), int(found[2]), int(found[3] or 0)
    return None


def parse_version(text: str) -> tuple[int, int, int]:
    major, minor, patch = (int(part) for part in text.split("."))
    return major, minor, patch


class SdkVersionMiddleware:
    """An SDK older than the oldest this API reads gets 426 and a problem naming the
    version to install, before its body is read: it keeps its records (spooled, or
    dropped and reported) instead of having them misread. Other clients pass."""

    def __init__(self, app: ASGIApp, *, minimum: tuple[int, int, int]) -> None:
        self.app = app
        self.minimum = minimum

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/v1/"):
            version = sdk_version(scope["headers"])
            if version is not None and version < self.minimum:
                need = ".".join(map(str, self.minimum))
                have = ".".join(map(str, version))
                await send_problem(
                    send,
                    426,
                    "sdk-unsupported",
                    "SDK version not supported",
                    f"this control plane reads verity-sdk {need} or later; this is {have}: "
                    f"pip install 'verity-sdk>={need}'. Nothing from this request was stored.",
                    headers=[(b"upgrade", f"verity-sdk/{need}".encode())],
                )
                return
        await self.app(scope, receive, send)


# --- load shedding -------------------------------------------------------------------


@dataclass
class InFlight:
    """Authenticated requests in flight in this process, against its limit; shared
    by ``LoadShedMiddleware`` and ``/readyz`` (a saturated replica is not ready)."""

    limit: int
    count: int = 0  # one event loop per process: no lock needed

    @property
    def saturated(self) -> bool:
        return self.count >= self.limit


_UNLIMITED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


class LoadShedMiddleware:
    """Past the limit of requests in flight in this process, answers 429 with
    ``Retry-After`` at once instead of queueing: a queue only grows under sustained
    overload, until every request times out. Probes and metrics are never shed.

    429 rather than 503: it is back-pressure, and the server is healthy, so alerts
    and error budgets on 5xx stay for real faults. The SDK backs off on both. It sits
    inside ``AuthGateMiddleware``: only requests with a valid key are counted.
    """

    def __init__(self, app: ASGIApp, *, in_flight: InFlight, retry_after_seconds: int) -> None:
        self.app = app
        self.in_flight = in_flight
        self.retry_after = str(retry_after_seconds).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in _UNLIMITED_PATHS:
            await self.app(scope, receive, send)
            return
        state = self.in_flight
        if state.saturated:
            shed_requests.inc()
            await send_problem(
                send,
                429,
                "overloaded",
                "Server overloaded",
                f"{state.count} requests are in flight, the limit is {state.limit}; "
                "nothing from this request was stored, retry after the Retry-After delay",
                headers=[(b"retry-after", self.retry_after)],
            )
            return
        state.count += 1
        in_flight_requests.inc()
        try:
            await self.app(scope, receive, send)
        finally:
            state.count -= 1
            in_flight_requests.dec()


# --- request bodies ------------------------------------------------------------------


class GzipError(ValueError):
    pass


def inflate_gzip(data: bytes, limit: int) -> bytes:
    """Exactly one gzip member, trailer (CRC-32 and length) checked, nothing after it,
    at most ``limit`` bytes inflated: never more is allocated than the limit."""
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        body = inflater.decompress(data, limit + 1)
        if len(body) > limit or inflater.unconsumed_tail:
            raise PayloadTooLarge(
                f"the decompressed request body exceeds the limit of {limit} bytes"
            )
        body += inflater.flush()
    except zlib.error as exc:
        raise GzipError(f"the body is not valid gzip: {exc}") from None
    if not inflater.eof:
        raise GzipError(
            "the gzip stream is truncated: its end and CRC-32/length trailer are missing"
        )
    if inflater.unused_data:
        if inflater.unused_data[:2] == b"\x1f\x8b":
            raise GzipError("the body holds more than one gzip member; send one")
        raise GzipError(f"{len(inflater.unused_data)} bytes follow the end of the gzip stream")
    return body


class BodyReader:
    """``receive`` with a body deadline: ``timeout_seconds`` to start, plus one second
    for every ``min_rate`` bytes received (Apache mod_reqtimeout's rule). A body that
    falls behind raises ``RequestTimeout``; one past ``limit`` raises
    ``PayloadTooLarge``. Both render as problems wherever they surface."""

    def __init__(self, receive: Receive, *, limit: int, timeout_seconds: float, min_rate: int):
        self._receive = receive
        self.limit = limit
        self.min_rate = min_rate
        self.received = 0
        self.deadline = time.monotonic() + timeout_seconds

    async def __call__(self) -> Message:
        remaining = self.deadline - time.monotonic()
        try:
            if remaining <= 0:
                raise TimeoutError
            message = await asyncio.wait_for(self._receive(), remaining)
        except TimeoutError:
            raise RequestTimeout(
                f"the request body arrived too slowly: {self.received} bytes before the "
                f"deadline (the server waits a base time plus 1 s per {self.min_rate} bytes)"
            ) from None
        if message["type"] == "http.request":
            chunk = len(message.get("body", b""))
            self.received += chunk
            self.deadline += chunk / self.min_rate
            if self.received > self.limit:
                raise PayloadTooLarge(f"the request body exceeds the limit of {self.limit} bytes")
        return message


class BodyLimitMiddleware:
    """Bounds, times and inflates request bodies (after authentication).

    The size limit applies to the decompressed size too, so a small gzip bomb is
    refused the same way as a large body, and inflation runs in a worker thread
    (zlib releases the GIL) so it never stalls the event loop.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        max_upload_bytes: int,
        timeout_seconds: float,
        min_rate: int,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_upload_bytes = max_upload_bytes
        self.timeout_seconds = timeout_seconds
        self.min_rate = min_rate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_upload_bytes if _UPLOAD_PATH.match(scope["path"]) else self.max_body_bytes
        headers = {k.lower(): v for k, v in scope["headers"]}
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await send_problem(
                send,
                413,
                PayloadTooLarge.slug,
                PayloadTooLarge.title,
                f"the request body is {int(declared)} bytes; the limit is {limit}",
            )
            return
        reader = BodyReader(
            receive, limit=limit, timeout_seconds=self.timeout_seconds, min_rate=self.min_rate
        )
        encoding = headers.get(b"content-encoding", b"identity").strip().lower()
        if encoding == b"gzip":
            await self._gzip(scope, reader, send, limit)
        elif encoding == b"identity":
            await self.app(scope, reader, send)
        else:
            await send_problem(
                send,
                415,
                "unsupported-media-type",
                "Unsupported content encoding",
                f"Content-Encoding '{encoding.decode(errors='replace')}' is not supported; "
                "send gzip or identity",
            )

    async def _gzip(self, scope: Scope, reader: BodyReader, send: Send, limit: int) -> None:
        compressed = bytearray()
        more = True
        try:
            while more:
                message = await reader()
                if message["type"] == "http.disconnect":
                    return
                compressed.extend(message.get("body", b""))
                more = message.get("more_body", False)
            body = await anyio.to_thread.run_sync(inflate_gzip, bytes(compressed), limit)
        except (RequestTimeout, PayloadTooLarge) as exc:
            await send_problem(send, exc.status, exc.slug, exc.title, exc.detail)
            return
        except GzipError as exc:
            await send_problem(send, 400, "bad-request", "Bad request", str(exc))
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
                return await reader()
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app({**scope, "headers": new_headers}, inflated_receive, send)


# --- metrics -------------------------------------------------------------------------


class MetricsMiddleware:
    """Request latency by method, route template and status; a request whose client
    went away before the answer counts as 499, not as a server error."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status: int | None = None
        disconnected = False
        started = time.perf_counter()

        async def watching_receive() -> Message:
            nonlocal disconnected
            message = await receive()
            if message["type"] == "http.disconnect":
                disconnected = True
            return message

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, watching_receive, recording_send)
        finally:
            route: Any = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            if status is None:
                status = CLIENT_CLOSED if disconnected else 500
            request_latency.labels(scope["method"], template, str(status)).observe(
                time.perf_counter() - started
            )
