"""``VerityClient``: log predictions and labels from a model server.

``log()`` only appends to a bounded in-memory queue and returns the event id; a
background thread batches, gzips and sends, retries with backoff, and spools to disk
when asked to. Nothing here blocks or raises into the caller's predict path: what
must be dropped is counted in ``stats`` and reported through ``on_drop``.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from types import TracebackType
from typing import Any, TypeVar

import httpx

from verity_sdk.core import ClientCore, extra_fields, shadow_fields
from verity_sdk.pipeline import ClientStats, DropCallback
from verity_sdk.serving import BreakerConfig, Router, ServingControl
from verity_sdk.transport import Backoff, Batch
from verity_sdk.version import USER_AGENT

logger = logging.getLogger("verity.sdk")
F = TypeVar("F", bound=Callable[..., Any])


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
        fallback: Callable[..., Any] | None = None,
        breaker: BreakerConfig | None = None,
        serving_poll_interval: float = 5.0,
        watch_serving: bool | None = None,
    ) -> None:
        """``fallback`` answers when the control plane trips or stops this version, or
        the local ``breaker`` opens (see ``verity_sdk.serving``); with one, the client
        polls the version's serving state every ``serving_poll_interval`` seconds
        (``watch_serving`` turns that on or off explicitly)."""
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
        self._http = httpx.Client(base_url=self.url, timeout=timeout, transport=transport)
        self._wake = threading.Event()
        self._progress = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="verity-sdk", daemon=True)
        self._thread.start()
        self._serving = ServingControl(
            httpx.Client(base_url=self.url, timeout=timeout, transport=transport),
            model,
            version,
            {"Authorization": f"Bearer {api_key}", "User-Agent": USER_AGENT},
            fallback=fallback,
            breaker=breaker,
            poll_interval=serving_poll_interval,
            watch=fallback is not None if watch_serving is None else watch_serving,
        )
        self.serving_counts = self._serving.counts
        self.router = self._serving.router
        atexit.register(self.close)

    @property
    def serving_state(self) -> str:
        """The last serving state the control plane gave (``active`` until then)."""
        return self._serving.watcher.state

    @property
    def breaker_state(self) -> str:
        return self._serving.breaker.state

    def predict(self, primary: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Call ``primary``, or the fallback when the version may not serve or the
        breaker is open, and return the answer (``@client.monitor`` also logs who
        gave it)."""
        result, _, _ = self.router.call(primary, args, kwargs)
        return result

    def router_with(self, fallback: Callable[..., Any]) -> Router:
        """A router over this client's serving state and breaker with its own fallback
        (``@client.monitor(fallback=...)``); starts watching the serving state."""
        return self._serving.router_with(fallback)

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
        shadow_of: str | None = None,
    ) -> str:
        """Queue one prediction; returns its event id (for ``log_label`` later)."""
        # A shadow prediction (this client's version predicting the champion's request):
        # the champion's event id pairs them for a comparison monitor.
        event_id, tags = shadow_fields(self.version, shadow_of, event_id, tags)
        extra = extra_fields(score, probabilities, latency_ms, compute_seconds, occurred_at, tags)
        event_id, ready = self._core.log(features, prediction, extra, event_id)
        if ready:
            self._wake.set()
        return event_id

    def log_label(self, event_id: str, label: Any, *, occurred_at: datetime | None = None) -> None:
        """Queue the ground truth for an earlier prediction (it may arrive much later)."""
        self._core.log_label(event_id, label, occurred_at)

    @property
    def stats(self) -> ClientStats:
        return self._core.stats

    # --- hooks ----------------------------------------------------------------------------

    def monitor(self, function: F | None = None, **options: Any) -> Any:
        """Decorator for a predict function; see ``verity_sdk.hooks.monitor``."""
        from verity_sdk.hooks import monitor

        return monitor(self, function, **options)

    def watch(self, module: Any, **options: Any) -> Any:
        """Log every row of every batch a ``torch.nn.Module`` sees; see
        ``verity_sdk.hooks.watch``."""
        from verity_sdk.hooks import watch

        return watch(self, module, **options)

    # --- the background ---------------------------------------------------------------

    def _run(self) -> None:
        while True:
            due = self._pipeline.next_due(time.monotonic())
            wait = self._core.flush_interval if due is None else min(due, self._core.flush_interval)
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
        path, body, headers = self._core.request(batch)
        try:
            response = self._http.post(path, content=body, headers=headers)
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
            return self._pipeline.settle(batch, None, time.monotonic(), error=error)
        verdict, retry_after = self._core.verdict(
            response.status_code, response.text, response.headers
        )
        return self._pipeline.settle(batch, verdict, time.monotonic(), retry_after=retry_after)

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
        if self._core.closed:
            return
        self._core.closed = True
        atexit.unregister(self.close)
        self.flush(timeout)
        self._stopping = True
        self._wake.set()
        self._thread.join(timeout=max(timeout, 1.0))
        self._pipeline.spill()
        self._serving.stop()
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
