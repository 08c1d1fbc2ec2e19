"""``AsyncVerityClient``: the same contract as ``VerityClient`` for asyncio servers.
``log()`` stays a plain, non-blocking call; a task on the running loop sends.
Spool writes (fsync) run in a worker thread, off the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Mapping
from datetime import datetime
from types import TracebackType
from typing import Any

import httpx

from backend.sdk.client import _Ids
from backend.sdk.pipeline import ClientStats, DropCallback, Pipeline
from backend.sdk.spool import Spool
from backend.sdk.transport import ENDPOINTS, Backoff, Batch, judge, retry_after_seconds


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
    ) -> None:
        self.url = url.rstrip("/")
        self._api_key = api_key
        self._flush_interval = flush_interval
        self._ids = _Ids()
        self._spooling = spool_dir is not None
        self._pipeline = Pipeline(
            model=model,
            version=version,
            batch_size=batch_size,
            max_queue=max_queue,
            spool=Spool(spool_dir, spool_max_bytes) if spool_dir is not None else None,
            backoff=backoff or Backoff(),
            max_attempts=max_attempts,
            on_drop=on_drop,
        )
        self._http = httpx.AsyncClient(base_url=self.url, timeout=timeout, transport=transport)
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._closed = False

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
    ) -> str:
        if event_id is None:
            event_id = self._ids.next()
        try:
            if not self._closed:
                self._ensure_task()
                extra = (score, probabilities, latency_ms, compute_seconds, occurred_at, tags)
                if self._pipeline.offer_prediction(event_id, features, prediction, extra):
                    assert self._wake is not None
                    self._wake.set()
        except Exception as exc:
            self._pipeline.note_error(f"log: {exc!r}")
        return event_id

    def log_label(self, event_id: str, label: Any, *, occurred_at: datetime | None = None) -> None:
        try:
            if not self._closed:
                self._ensure_task()
                self._pipeline.offer("labels", (event_id, label, occurred_at))
        except Exception as exc:
            self._pipeline.note_error(f"log_label: {exc!r}")

    @property
    def stats(self) -> ClientStats:
        return self._pipeline.snapshot()

    async def _call(self, function: Any, *args: Any) -> Any:
        # The pipeline touches the spool (fsync) only when there is one.
        if self._spooling:
            return await asyncio.to_thread(function, *args)
        return function(*args)

    async def _run(self) -> None:
        assert self._wake is not None
        while not self._closed:
            due = self._pipeline.next_due(time.monotonic())
            wait = self._flush_interval if due is None else min(due, self._flush_interval)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)
            self._wake.clear()
            await self._send_ready()

    async def _send_ready(self) -> None:
        batches: list[Batch] = await self._call(self._pipeline.ready, time.monotonic())
        while batches:
            batch = batches.pop(0)
            batches.extend(await self._attempt(batch))

    async def _attempt(self, batch: Batch) -> list[Batch]:
        try:
            response = await self._http.post(
                ENDPOINTS[batch.kind], content=batch.body(), headers=batch.headers(self._api_key)
            )
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
            return await self._call(
                lambda: self._pipeline.settle(batch, None, time.monotonic(), error=error)
            )
        try:
            body = response.json()
        except ValueError:
            body = None
        verdict = judge(response.status_code, body)
        retry_after = retry_after_seconds(response.headers)
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
        if self._closed:
            return
        await self.flush(timeout)
        self._closed = True
        if self._task is not None:
            assert self._wake is not None
            self._wake.set()
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._call(self._pipeline.spill)
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
