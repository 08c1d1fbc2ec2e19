"""What the sync and async clients share: the settings, the pipeline, event ids, the
non-blocking ``log`` and ``log_label``, and how one batch becomes a request and a
response becomes a verdict. Each client adds only how it waits and sends."""

from __future__ import annotations

import itertools
import json
import os
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from verity_sdk.pipeline import ClientStats, DropCallback, Pipeline
from verity_sdk.spool import Spool
from verity_sdk.transport import ENDPOINTS, Backoff, Batch, Verdict, judge, retry_after_seconds
from verity_sdk.version import USER_AGENT

# A shadow prediction's event id: the champion's, then this, then the shadow's version
# (the control plane's comparison pairs them by it).
SHADOW_SEPARATOR = "~shadow~"


def shadow_fields(
    version: str,
    shadow_of: str | None,
    event_id: str | None,
    tags: Mapping[str, str] | None,
) -> tuple[str | None, Mapping[str, str] | None]:
    """The event id and tags of a shadow prediction of ``shadow_of`` (unchanged when
    it is not one)."""
    if shadow_of is None:
        return event_id, tags
    return (
        event_id or f"{shadow_of}{SHADOW_SEPARATOR}{version}",
        {**(tags or {}), "shadow_of": shadow_of},
    )


class EventIds:
    """Event ids unique across processes and restarts: a random prefix per client and
    a counter; cheaper on the predict path than a UUID per call."""

    def __init__(self) -> None:
        self.prefix = uuid.uuid4().hex[:16]
        self.counter = itertools.count()

    def next(self) -> str:
        return f"{self.prefix}-{next(self.counter)}"


class ClientCore:
    def __init__(
        self,
        url: str,
        api_key: str,
        model: str,
        version: str,
        *,
        batch_size: int,
        flush_interval: float,
        max_queue: int,
        timeout: float,
        spool_dir: str | os.PathLike[str] | None,
        spool_max_bytes: int,
        on_drop: DropCallback | None,
        backoff: Backoff | None,
        max_attempts: int | None,
    ) -> None:
        self.url = url.rstrip("/")
        self.model = model
        self.version = version
        self.timeout = timeout
        self.flush_interval = flush_interval
        self.spooling = spool_dir is not None
        self._api_key = api_key
        self._ids = EventIds()
        self.closed = False
        self.pipeline = Pipeline(
            model=model,
            version=version,
            batch_size=batch_size,
            max_queue=max_queue,
            spool=Spool(spool_dir, spool_max_bytes) if spool_dir is not None else None,
            backoff=backoff or Backoff(),
            max_attempts=max_attempts,
            on_drop=on_drop,
        )

    def log(
        self,
        features: Mapping[str, Any],
        prediction: Any,
        extra: tuple[Any, ...],
        event_id: str | None,
    ) -> tuple[str, bool]:
        """Queue one prediction: its event id, and whether a batch is ready to send.
        Never raises: a failure is counted in the stats."""
        if event_id is None:
            event_id = self._ids.next()
        try:
            if not self.closed:
                return event_id, self.pipeline.offer_prediction(
                    event_id, features, prediction, extra
                )
        except Exception as exc:  # never into the predict path
            self.pipeline.note_error(f"log: {exc!r}")
        return event_id, False

    def log_label(self, event_id: str, label: Any, occurred_at: datetime | None) -> None:
        try:
            if not self.closed:
                self.pipeline.offer("labels", (event_id, label, occurred_at))
        except Exception as exc:
            self.pipeline.note_error(f"log_label: {exc!r}")

    @property
    def stats(self) -> ClientStats:
        return self.pipeline.snapshot()

    def request(self, batch: Batch) -> tuple[str, bytes, dict[str, str]]:
        """The path, body and headers that send ``batch``."""
        headers = batch.headers(self._api_key)
        headers["User-Agent"] = USER_AGENT
        return ENDPOINTS[batch.kind], batch.body(), headers

    @staticmethod
    def verdict(status: int, text: str, headers: Mapping[str, str]) -> tuple[Verdict, float | None]:
        """What the API's answer means for the batch, and how long it asked to wait."""
        try:
            body = json.loads(text) if text else None
        except ValueError:
            body = None
        return judge(status, body), retry_after_seconds(headers)


def extra_fields(
    score: float | None,
    probabilities: Mapping[str, float] | list[float] | None,
    latency_ms: float | None,
    compute_seconds: float | None,
    occurred_at: datetime | None,
    tags: Mapping[str, str] | None,
) -> tuple[Any, ...]:
    return (score, probabilities, latency_ms, compute_seconds, occurred_at, tags)
