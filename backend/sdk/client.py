"""``VerityClient``: log predictions and labels from a model server.

``log()`` only appends to a bounded in-memory queue and returns the event id; a
background thread batches, gzips and sends, retries with backoff, and spools to disk
when asked to. Nothing here blocks or raises into the caller's predict path: what
must be dropped is counted in ``stats`` and reported through ``on_drop``.
"""

from __future__ import annotations

import atexit
import itertools
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from types import TracebackType
from typing import Any, TypeVar

import httpx

from backend.sdk.pipeline import ClientStats, DropCallback, Pipeline
from backend.sdk.spool import Spool
from backend.sdk.transport import ENDPOINTS, Backoff, Batch, judge, retry_after_seconds

logger = logging.getLogger("verity.sdk")
F = TypeVar("F", bound=Callable[..., Any])


class _Ids:
    """Event ids unique across processes and restarts: a random prefix per client and
    a counter; cheaper on the predict path than a UUID per call."""

    def __init__(self) -> None:
        self.prefix = uuid.uuid4().hex[:16]
        self.counter = itertools.count()

    def next(self) -> str:
        return f"{self.prefix}-{next(self.counter)}"


class VerityClient:
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
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.model = model
        self.version = version
        self._api_key = api_key
        self._flush_interval = flush_interval
        self._ids = _Ids()
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
        self._http = httpx.Client(base_url=self.url, timeout=timeout, transport=transport)
        self._wake = threading.Event()
        self._progress = threading.Condition()
        self._closed = False
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="verity-sdk", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    # --- the predict path -------------------------------------------------------------

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
        """Queue one prediction; returns its event id (for ``log_label`` later)."""
        if event_id is None:
            event_id = self._ids.next()
        try:
            if not self._closed:
                extra = (score, probabilities, latency_ms, compute_seconds, occurred_at, tags)
                if self._pipeline.offer_prediction(event_id, features, prediction, extra):
                    self._wake.set()
        except Exception as exc:  # never into the predict path
            self._pipeline.note_error(f"log: {exc!r}")
        return event_id

    def log_label(self, event_id: str, label: Any, *, occurred_at: datetime | None = None) -> None:
        """Queue the ground truth for an earlier prediction (it may arrive much later)."""
        try:
            if not self._closed:
                self._pipeline.offer("labels", (event_id, label, occurred_at))
        except Exception as exc:
            self._pipeline.note_error(f"log_label: {exc!r}")

    @property
    def stats(self) -> ClientStats:
        return self._pipeline.snapshot()

    # --- hooks ----------------------------------------------------------------------------

    def monitor(self, function: F | None = None, **options: Any) -> Any:
        """Decorator for a predict function; see ``backend.sdk.hooks.monitor``."""
        from backend.sdk.hooks import monitor

        return monitor(self, function, **options)

    def watch(self, module: Any, **options: Any) -> Any:
        """Log every row of every batch a ``torch.nn.Module`` sees; see
        ``backend.sdk.hooks.watch``."""
        from backend.sdk.hooks import watch

        return watch(self, module, **options)

    # --- the background ---------------------------------------------------------------

    def _run(self) -> None:
        while True:
            due = self._pipeline.next_due(time.monotonic())
            wait = self._flush_interval if due is None else min(due, self._flush_interval)
            self._wake.wait(wait)
            self._wake.clear()
            if self._stopping:
                # close() spools (or counts) whatever is left: no new attempts now.
                return
            try:
                self._send_ready()
            except Exception as exc:
                logger.exception("verity sdk background error")
                self._pipeline.note_error(f"background: {exc!r}")
            with self._progress:
                self._progress.notify_all()

    def _send_ready(self) -> None:
        batches = self._pipeline.ready(time.monotonic())
        while batches and not self._stopping:
            batch = batches.pop(0)
            batches.extend(self._attempt(batch))
        self._pipeline.put_back(batches, time.monotonic())

    def _attempt(self, batch: Batch) -> list[Batch]:
        now = time.monotonic
        try:
            response = self._http.post(
                ENDPOINTS[batch.kind], content=batch.body(), headers=batch.headers(self._api_key)
            )
        except httpx.HTTPError as exc:
            return self._pipeline.settle(batch, None, now(), error=f"{type(exc).__name__}: {exc}")
        try:
            body = response.json()
        except (ValueError, json.JSONDecodeError):
            body = None
        return self._pipeline.settle(
            batch,
            judge(response.status_code, body),
            now(),
            retry_after=retry_after_seconds(response.headers),
        )

    def flush(self, timeout: float | None = 30.0) -> bool:
        """Send what is queued now; True once nothing is left waiting."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._pipeline.idle():
            if not self._thread.is_alive():
                return False
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return False
            self._wake.set()
            with self._progress:
                self._progress.wait(0.05 if remaining is None else min(remaining, 0.05))
        return True

    def close(self, timeout: float = 10.0) -> None:
        """Flush for up to ``timeout`` seconds, spool (or count as dropped) the rest,
        and stop the background thread."""
        if self._closed:
            return
        self._closed = True
        atexit.unregister(self.close)
        self.flush(timeout)
        self._stopping = True
        self._wake.set()
        self._thread.join(timeout=max(timeout, 1.0))
        self._pipeline.spill()
        self._http.close()

    def __enter__(self) -> VerityClient:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()
