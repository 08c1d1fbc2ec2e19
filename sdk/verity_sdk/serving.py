"""Serving control in the model server: the control plane's serving state, polled in
the background, and a local circuit breaker. The predict path only reads two fields
and, when the breaker is closed, appends one outcome: it never waits on the network.

- The control plane says ``active``, ``tripped`` (serve the fallback) or ``stopped``
  (serve the fallback, and the primary must not answer). When it cannot be reached,
  the last known state holds, and the failed polls are counted and reported.
- The breaker opens when the primary's share of failed calls (an exception, or a
  call slower than ``latency_ms``) over the last ``window`` calls reaches
  ``error_rate``; after ``cooldown`` seconds one probe call goes to the primary
  (half-open): its success closes the breaker, its failure opens it again. Each
  transition is reported to the control plane, which audits it.
"""

from __future__ import annotations

import inspect
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

logger = logging.getLogger("verity.sdk")

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


class ServingStopped(RuntimeError):
    """The version may not serve (stopped or tripped) and there is no fallback."""


@dataclass(frozen=True)
class BreakerConfig:
    window: int = 20
    min_calls: int = 10
    error_rate: float = 0.5
    latency_ms: float | None = None
    cooldown: float = 30.0


@dataclass
class ServingCounts:
    primary: int = 0
    fallback: int = 0
    primary_errors: int = 0
    breaker_opened: int = 0
    poll_failures: int = 0
    reports_failed: int = 0
    by_reason: dict = field(default_factory=dict)


class CircuitBreaker:
    def __init__(
        self, config: BreakerConfig, on_transition: Callable[[str, str], None] | None = None
    ) -> None:
        self.config = config
        self.state = CLOSED
        self._outcomes: deque = deque(maxlen=config.window)
        self._failures = 0
        self._opened_at = 0.0
        self._probing = False
        self._lock = threading.Lock()
        self._on_transition = on_transition

    def allow(self) -> bool:
        """Whether this call may go to the primary."""
        if self.state == CLOSED:
            return True
        with self._lock:
            if self.state == OPEN and time.monotonic() - self._opened_at >= self.config.cooldown:
                self._move(HALF_OPEN, "cool-down over: one probe call to the primary")
            if self.state == HALF_OPEN and not self._probing:
                self._probing = True
                return True
            return False

    def record(self, ok: bool) -> None:
        with self._lock:
            if self.state == HALF_OPEN:
                self._probing = False
                if ok:
                    self._outcomes.clear()
                    self._failures = 0
                    self._move(CLOSED, "the probe call succeeded")
                else:
                    self._open("the probe call failed")
                return
            if self.state != CLOSED:
                return
            if len(self._outcomes) == self._outcomes.maxlen and not self._outcomes[0]:
                self._failures -= 1
            self._outcomes.append(ok)
            if not ok:
                self._failures += 1
            calls = len(self._outcomes)
            if calls >= self.config.min_calls and self._failures / calls >= self.config.error_rate:
                self._open(f"{self._failures} of the last {calls} primary calls failed")

    def _open(self, why: str) -> None:
        self._opened_at = time.monotonic()
        self._move(OPEN, why)

    def _move(self, state: str, why: str) -> None:
        self.state = state
        if self._on_transition is not None:
            try:
                self._on_transition(f"breaker_{state}", why)
            except Exception:  # never into the predict path
                logger.exception("verity sdk: breaker report failed")


class ServingWatcher:
    """Polls the version's serving state with If-None-Match, and sends reports."""

    def __init__(
        self,
        http: httpx.Client,
        model: str,
        version: str,
        headers: dict[str, str],
        interval: float,
        counts: ServingCounts,
    ) -> None:
        self.state = "active"
        self.reason = ""
        self.revision = 0
        self._etag: str | None = None
        self._http = http
        self._path = f"/v1/models/{model}/versions/{version}/serving-state"
        self._headers = headers
        self._interval = interval
        self._counts = counts
        self._reports: deque = deque(maxlen=100)
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="verity-serving", daemon=True)
        self._failed_since_report = 0

    def start(self) -> None:
        self._thread.start()

    def report(self, event: str, detail: str, counts: dict[str, int] | None = None) -> None:
        self._reports.append({"event": event, "detail": detail[:2000], "counts": counts or {}})
        self._wake.set()

    def poll(self) -> None:
        headers = dict(self._headers)
        if self._etag:
            headers["If-None-Match"] = self._etag
        try:
            response = self._http.get(self._path, headers=headers)
        except httpx.HTTPError as exc:
            self._poll_failed(f"{type(exc).__name__}: {exc}")
            return
        if response.status_code == 304:
            self._poll_ok()
            return
        if response.status_code != 200:
            self._poll_failed(f"HTTP {response.status_code}")
            return
        body = response.json()
        self.state, self.reason = body["state"], body.get("reason") or ""
        self.revision = int(body.get("revision", 0))
        self._etag = response.headers.get("ETag")
        self._poll_ok()

    def _poll_ok(self) -> None:
        if self._failed_since_report:
            self.report("poll_failures", "the control plane answers again",
                        {"failed_polls": self._failed_since_report})  # fmt: skip
            self._failed_since_report = 0

    def _poll_failed(self, why: str) -> None:
        # The last known state holds; the failure is counted, and reported once back.
        self._counts.poll_failures += 1
        self._failed_since_report += 1
        logger.warning("verity sdk: serving-state poll failed (%s); keeping %s", why, self.state)

    def _send_reports(self) -> None:
        while self._reports:
            report = self._reports[0]
            try:
                response = self._http.post(self._path + ":report", json=report,
                                           headers=self._headers)  # fmt: skip
            except httpx.HTTPError:
                self._counts.reports_failed += 1
                return  # kept: sent with the next poll
            if response.status_code >= 500:
                self._counts.reports_failed += 1
                return
            self._reports.popleft()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll()
                self._send_reports()
            except Exception:
                logger.exception("verity sdk: serving watcher error")
            self._wake.wait(self._interval)
            self._wake.clear()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=5)
        self._send_reports()


class Router:
    """Chooses who answers a call: the primary, or the fallback and why."""

    def __init__(
        self,
        watcher: ServingWatcher,
        breaker: CircuitBreaker,
        fallback: Callable[..., Any] | None,
        counts: ServingCounts,
    ) -> None:
        self.watcher = watcher
        self.breaker = breaker
        self.fallback = fallback
        self.counts = counts

    def call(self, primary: Callable[..., Any], args: tuple, kwargs: dict) -> tuple[Any, str, str]:
        """The answer, who gave it (``primary`` or ``fallback``) and why."""
        state = self.watcher.state
        if state != "active":
            return self._fallback(f"control plane: {state}", args, kwargs)
        if not self.breaker.allow():
            return self._fallback("local breaker open", args, kwargs)
        limit = self.breaker.config.latency_ms
        started = time.perf_counter()
        try:
            result = primary(*args, **kwargs)
        except Exception as exc:
            self.counts.primary_errors += 1
            self.breaker.record(False)
            if self.fallback is None:
                raise
            return self._fallback(f"primary raised {type(exc).__name__}", args, kwargs)
        slow = limit is not None and (time.perf_counter() - started) * 1000.0 > limit
        self.breaker.record(not slow)
        self.counts.primary += 1
        return result, "primary", ""

    async def acall(
        self, primary: Callable[..., Any], args: tuple, kwargs: dict
    ) -> tuple[Any, str, str]:
        """``call`` for asyncio: ``primary`` and the fallback may be coroutine functions."""
        state = self.watcher.state
        if state != "active":
            return await self._afallback(f"control plane: {state}", args, kwargs)
        if not self.breaker.allow():
            return await self._afallback("local breaker open", args, kwargs)
        limit = self.breaker.config.latency_ms
        started = time.perf_counter()
        try:
            result = primary(*args, **kwargs)
            if inspect.isawaitable(result):
                result = await result
        except Exception as exc:
            self.counts.primary_errors += 1
            self.breaker.record(False)
            if self.fallback is None:
                raise
            return await self._afallback(f"primary raised {type(exc).__name__}", args, kwargs)
        slow = limit is not None and (time.perf_counter() - started) * 1000.0 > limit
        self.breaker.record(not slow)
        self.counts.primary += 1
        return result, "primary", ""

    async def _afallback(self, why: str, args: tuple, kwargs: dict) -> tuple[Any, str, str]:
        result, served_by, why = self._fallback(why, args, kwargs)
        if inspect.isawaitable(result):
            result = await result
        return result, served_by, why

    def _fallback(self, why: str, args: tuple, kwargs: dict) -> tuple[Any, str, str]:
        if self.fallback is None:
            raise ServingStopped(f"the version may not serve ({why}) and no fallback is set")
        self.counts.fallback += 1
        self.counts.by_reason[why] = self.counts.by_reason.get(why, 0) + 1
        return self.fallback(*args, **kwargs), "fallback", why


class ServingControl:
    """What a client holds for serving control: its counters, the watcher, the
    breaker and the router (``VerityClient`` and ``AsyncVerityClient`` alike)."""

    def __init__(
        self,
        http: httpx.Client,
        model: str,
        version: str,
        headers: dict[str, str],
        *,
        fallback: Callable[..., Any] | None,
        breaker: BreakerConfig | None,
        poll_interval: float,
        watch: bool,
    ) -> None:
        self.counts = ServingCounts()
        self.watcher = ServingWatcher(http, model, version, headers, poll_interval, self.counts)
        self.breaker = CircuitBreaker(breaker or BreakerConfig(), self._report_breaker)
        self.router = Router(self.watcher, self.breaker, fallback, self.counts)
        self.watching = False
        if watch:
            self.start()

    def start(self) -> None:
        if not self.watching:
            self.watching = True
            self.watcher.start()

    def stop(self) -> None:
        if self.watching:
            self.watcher.stop()

    def router_with(self, fallback: Callable[..., Any]) -> Router:
        """A router with its own fallback over the same state and breaker."""
        self.start()
        return Router(self.watcher, self.breaker, fallback, self.counts)

    def _report_breaker(self, event: str, why: str) -> None:
        if event == "breaker_open":
            self.counts.breaker_opened += 1
        counts = {
            "primary": self.counts.primary,
            "fallback": self.counts.fallback,
            "primary_errors": self.counts.primary_errors,
        }
        self.watcher.report(event, why, counts)
