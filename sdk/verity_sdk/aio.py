"""``AsyncVerityClient``: the same contract as ``VerityClient`` for asyncio servers.
``log()`` stays a plain, non-blocking call; a task on the running loop sends.
Spool writes (fsync) run in a worker thread, off the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from types import TracebackType
from typing import Any

import httpx

from verity_sdk.core import ClientCore, extra_fields, shadow_fields
from verity_sdk.pipeline import ClientStats, DropCallback
from verity_sdk.serving import BreakerConfig, ServingControl
from verity_sdk.transport import Backoff, Batch
from verity_sdk.version import USER_AGENT


class AsyncVerityClient:
    def __init__(
        self,
        url: str,
        api_key: str,
        model: str,
        version: str,
        *,
        batch_size: int = 500,
        flush_interval: float = 1.0,
        max_queue: int = 100_000,
        timeout: float = 10.0,
        spool_dir: str | os.PathLike[str] | None = None,
        spool_max_bytes: int = 1 << 30,
        on_drop: DropCallback | None = None,
        backoff: Backoff | None = None,
        max_attempts: int | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        fallback: Callable[..., Any] | None = None,
        breaker: BreakerConfig | None = None,
        serving_poll_interval: float = 5.0,
        serving_transport: httpx.BaseTransport | None = None,
    ) -> None:
        """As ``VerityClient``; with a ``fallback``, the version's serving state is
        polled on a background thread and ``predict`` routes each call (the predict
        path never waits on it)."""
        self._core = ClientCore(
            url,
            api_key,
            model,
            version,
            batch_size=batch_size,
            flush_interval=flush_interval,
            max_queue=max_queue,
            timeout=timeout,
            spool_dir=spool_dir,
            spool_max_bytes=spool_max_bytes,
            on_drop=on_drop,
            backoff=backoff,
            max_attempts=max_attempts,
        )
        self.url, self.model, self.version = self._core.url, model, version
        self._pipeline = self._core.pipeline
        self._http = httpx.AsyncClient(base_url=self.url, timeout=timeout, transport=transport)
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._serving = ServingControl(
            httpx.Client(base_url=self.url, timeout=timeout, transport=serving_transport),
            model,
            version,
            {"Authorization": f"Bearer {api_key}", "User-Agent": USER_AGENT},
            fallback=fallback,
            breaker=breaker,
            poll_interval=serving_poll_interval,
            watch=fallback is not None,
        )
        self.serving_counts = self._serving.counts
        self.router = self._serving.router

    @property
    def serving_state(self) -> str:
        return self._serving.watcher.state

    @property
    def breaker_state(self) -> str:
        return self._serving.breaker.state

    async def predict(self, primary: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Await ``primary`` (or call it), or the fallback when the version may not
        serve or the breaker is open; log with ``log(..., tags={"served_by": ...})``
        from ``predict_routed`` to record who answered."""
        result, _, _ = await self.router.acall(primary, args, kwargs)
        return result

    async def predict_routed(
        self, primary: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> tuple[Any, str, str]:
        """The answer, who gave it (``primary`` or ``fallback``), and why."""
        return await self.router.acall(primary, args, kwargs)

    def _ensure_task(self) -> None:
        if self._task is None:
            self._wake = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(self._run(), name="verity-sdk")

    def log(
        self,
        features: Mapping[str, Any],
        prediction: Any,
        *,
        score: float | None = None,
        probabilities: Mapping[str, float] | list[float] | None = None,
        latency_ms: float | None = None,
        compute_seconds: float | None = None,
        event_id: str | None = None,
        occurred_at: datetime | None = None,
        tags: Mapping[str, str] | None = None,
        shadow_of: str | None = None,
    ) -> str:
        """Queue one prediction; returns its event id. Call it on the loop's thread."""
        try:
            if not self._core.closed:
                self._ensure_task()
        except Exception as exc:
            self._pipeline.note_error(f"log: {exc!r}")
        # A shadow prediction (this client's version predicting the champion's request):
        # the champion's event id pairs them for a comparison monitor.
        event_id, tags = shadow_fields(self.version, shadow_of, event_id, tags)
        extra = extra_fields(score, probabilities, latency_ms, compute_seconds, occurred_at, tags)
        event_id, ready = self._core.log(features, prediction, extra, event_id)
        if ready and self._wake is not None:
            self._wake.set()
        return event_id

    def log_label(self, event_id: str, label: Any, *, occurred_at: datetime | None = None) -> None:
        try:
            if not self._core.closed:
                self._ensure_task()
        except Exception as exc:
            self._pipeline.note_error(f"log_label: {exc!r}")
        self._core.log_label(event_id, label, occurred_at)

    @property
    def stats(self) -> ClientStats:
        return self._core.stats

    async def _call(self, function: Any, *args: Any) -> Any:
        # The pipeline touches the spool (fsync) only when there is one.
        if self._core.spooling:
            return await asyncio.to_thread(function, *args)
        return function(*args)

    async def _run(self) -> None:
        assert self._wake is not None
        while not self._core.closed:
            due = self._pipeline.next_due(time.monotonic())
            wait = self._core.flush_interval if due is None else min(due, self._core.flush_interval)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)
            self._wake.clear()
            await self._send_ready()

    async def _send_ready(self) -> None:
        batches: list[Batch] = await self._call(self._pipeline.ready, time.monotonic())
        while batches:
            batch = batches.pop(0)
            batches.extend(await self._attempt(batch))

    async def _attempt(self, batch: Batch) -> list[Batch]:
        path, body, headers = self._core.request(batch)
        try:
            response = await self._http.post(path, content=body, headers=headers)
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
            return await self._call(
                lambda: self._pipeline.settle(batch, None, time.monotonic(), error=error)
            )
        verdict, retry_after = self._core.verdict(
            response.status_code, response.text, response.headers
        )
        return await self._call(
            lambda: self._pipeline.settle(batch, verdict, time.monotonic(), retry_after=retry_after)
        )

    async def flush(self, timeout: float | None = 30.0) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._pipeline.idle():
            if deadline is not None and time.monotonic() >= deadline:
                return False
            await self._send_ready()
            if not self._pipeline.idle():
                due = self._pipeline.next_due(time.monotonic()) or 0.0
                await asyncio.sleep(min(max(due, 0.01), 0.25))
        return True

    async def aclose(self, timeout: float = 10.0) -> None:
        if self._core.closed:
            return
        await self.flush(timeout)
        self._core.closed = True
        if self._task is not None:
            assert self._wake is not None
            self._wake.set()
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._call(self._pipeline.spill)
        await asyncio.to_thread(self._serving.stop)
        await self._http.aclose()

    async def __aenter__(self) -> AsyncVerityClient:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        await self.aclose()
