"""The client's state, without I/O of its own beyond the spool: a bounded queue the
predict path appends to, batches waiting for their next attempt, and the counters.
The sync and async clients drive it, each with its own HTTP calls.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from verity_sdk.spool import Spool, SpoolFull
from verity_sdk.transport import Backoff, Batch, Kind, Verdict, timestamp

logger = logging.getLogger("verity.sdk")

# reason, records, detail
DropCallback = Callable[[str, int, str], None]


@dataclass
class ClientStats:
    """Counts since the client started. ``delivered`` counts records the server
    acknowledged (stored now, or already stored by an earlier attempt)."""

    logged: int = 0
    labels_logged: int = 0
    delivered: int = 0
    duplicates: int = 0
    batches_sent: int = 0
    retries: int = 0
    dropped_queue_full: int = 0
    dropped_invalid: int = 0
    dropped_rejected: int = 0
    dropped_retries_exhausted: int = 0
    dropped_spool_full: int = 0
    dropped_at_close: int = 0
    # The API no longer supports this SDK version (426): without a spool the records
    # are dropped (counted here, reported through on_drop); with one they stay
    # spooled for an SDK the API supports (counted in held_unsupported).
    dropped_unsupported: int = 0
    held_unsupported: int = 0
    internal_errors: int = 0
    last_error: str = ""

    @property
    def dropped(self) -> int:
        return sum(getattr(self, f.name) for f in fields(self) if f.name.startswith("dropped_"))


@dataclass
class Waiting:
    batch: Batch
    not_before: float


class Pipeline:
    def __init__(
        self,
        *,
        model: str,
        version: str,
        batch_size: int,
        max_queue: int,
        spool: Spool | None,
        backoff: Backoff,
        max_attempts: int | None,
        on_drop: DropCallback | None,
    ) -> None:
        if batch_size < 1 or max_queue < batch_size:
            raise ValueError("need 1 <= batch_size <= max_queue")
        self.model = model
        self.version = version
        self.batch_size = batch_size
        self.max_queue = max_queue
        self.spool = spool
        self.backoff = backoff
        # Without a spool a batch cannot wait for ever in memory. (`is None`: an empty
        # Spool has len() 0 and is falsy.)
        if max_attempts is None and spool is None:
            max_attempts = 8
        self.max_attempts = max_attempts
        self.on_drop = on_drop
        self.queue: deque[tuple[Kind, tuple[Any, ...]]] = deque()
        self.waiting: list[Waiting] = []
        # Batches handed out by ready() and not yet settled or put back.
        self.in_flight = 0
        self.stats = ClientStats()
        self._lock = threading.Lock()
        # Counted on the predict path without a lock: next() on a count is atomic.
        self._logged = itertools.count()
        self._labels = itertools.count()
        self._full = itertools.count()
        self._reported_full = 0
        if spool is not None:
            self.waiting = [Waiting(b, 0.0) for b in spool.pending()]

    # --- the predict path -----------------------------------------------------------

    def offer_prediction(
        self,
        event_id: str,
        features: Mapping[str, Any],
        prediction: Any,
        extra: tuple[Any, ...],
    ) -> bool:
        """Queue one prediction; ``extra`` is (score, probabilities, latency_ms,
        compute_seconds, occurred_at, tags). True when the queue holds a batch."""
        # A copy of the features: the caller may reuse or change its dict afterwards.
        item = (event_id, time.time(), dict(features), prediction, *extra)
        return self.offer("predictions", item) and len(self.queue) >= self.batch_size

    def offer(self, kind: Kind, item: tuple[Any, ...]) -> bool:
        if len(self.queue) >= self.max_queue:
            next(self._full)
            return False
        self.queue.append((kind, item))
        next(self._logged if kind == "predictions" else self._labels)
        return True

    # --- the background ---------------------------------------------------------------

    def snapshot(self) -> ClientStats:
        with self._lock:
            self._sync_counters()
            return ClientStats(**{f.name: getattr(self.stats, f.name) for f in fields(ClientStats)})

    def _sync_counters(self) -> None:
        # A count's repr holds its next value.
        self.stats.logged = _value(self._logged)
        self.stats.labels_logged = _value(self._labels)
        full = _value(self._full)
        self.stats.dropped_queue_full = full
        if full > self._reported_full:
            self._drop("queue_full", full - self._reported_full, "the in-memory queue was full")
            self._reported_full = full

    def ready(self, now: float) -> list[Batch]:
        """Batches to send now: those whose retry is due, then new ones from the queue
        (each written to the spool first, when there is one)."""
        with self._lock:
            self._sync_counters()
            due = [w.batch for w in self.waiting if w.not_before <= now]
            self.waiting = [w for w in self.waiting if w.not_before > now]
            fresh = self._take_batches(limit=None if self.spool is None else 64)
            self.in_flight += len(due) + len(fresh)
            return due + fresh

    def spill(self) -> int:
        """At close: what is still queued goes to the spool (or is dropped, without
        one); returns the records left undelivered in memory."""
        with self._lock:
            batches = self._take_batches(limit=None)
            lost = 0
            for batch in batches:
                if self.spool is None:
                    lost += len(batch.records)
            for waiting in self.waiting:
                if self.spool is None:
                    lost += len(waiting.batch.records)
            if lost:
                self.stats.dropped_at_close += lost
                self._drop("at_close", lost, "the client closed before these were delivered")
            self.waiting = []
            return lost

    def _take_batches(self, limit: int | None) -> list[Batch]:
        grouped: dict[Kind, list[dict[str, Any]]] = {"predictions": [], "labels": []}
        batches: list[Batch] = []
        while self.queue and (limit is None or len(batches) < limit):
            kind, item = self.queue.popleft()
            try:
                grouped[kind].append(self._record(kind, item))
            except Exception as exc:  # a record we cannot even build is dropped
                self.stats.dropped_invalid += 1
                self._drop("invalid", 1, f"record could not be built: {exc}")
                continue
            if len(grouped[kind]) >= self.batch_size:
                batches.append(self._new_batch(kind, grouped[kind]))
                grouped[kind] = []
        for kind, records in grouped.items():
            if records:
                batches.append(self._new_batch(kind, records))
        return [b for b in batches if b.records]

    def _new_batch(self, kind: Kind, records: list[dict[str, Any]]) -> Batch:
        batch = Batch(kind, records)
        if self.spool is not None:
            try:
                self.spool.write(batch)
            except (SpoolFull, OSError) as exc:
                self.stats.dropped_spool_full += len(records)
                self._drop("spool_full", len(records), str(exc))
                return Batch(kind, [])
        return batch

    def _record(self, kind: Kind, item: tuple[Any, ...]) -> dict[str, Any]:
        if kind == "labels":
            event_id, label, occurred_at = item
            record: dict[str, Any] = {"event_id": event_id, "label": label}
            if occurred_at is not None:
                record["occurred_at"] = _when(occurred_at)
            return record
        (
            event_id,
            logged_at,
            features,
            prediction,
            score,
            probabilities,
            latency_ms,
            compute_seconds,
            occurred_at,
            tags,
        ) = item
        record = {
            "event_id": event_id,
            "model": self.model,
            "version": self.version,
            "occurred_at": _when(occurred_at if occurred_at is not None else logged_at),
            "features": dict(features),
            "prediction": prediction,
        }
        for name, value in (
            ("score", score),
            ("probabilities", probabilities),
            ("latency_ms", latency_ms),
            ("compute_seconds", compute_seconds),
            ("tags", tags),
        ):
            if value is not None:
                record[name] = value
        return record

    def settle(
        self,
        batch: Batch,
        verdict: Verdict | None,
        now: float,
        *,
        retry_after: float | None = None,
        error: str = "",
    ) -> list[Batch]:
        """Record the outcome of one attempt (``verdict`` None: no answer at all).
        Returns batches to send at once (a batch split in two)."""
        with self._lock:
            again = self._settle(batch, verdict, now, retry_after, error)
            self.in_flight += len(again) - 1
            return again

    def _settle(
        self,
        batch: Batch,
        verdict: Verdict | None,
        now: float,
        retry_after: float | None,
        error: str,
    ) -> list[Batch]:
        batch.attempts += 1
        self.stats.batches_sent += 1
        if verdict is None or verdict.outcome == "retry":
            self.stats.last_error = error or (verdict.detail if verdict else "")
            if self.max_attempts is not None and batch.attempts >= self.max_attempts:
                self.stats.dropped_retries_exhausted += len(batch.records)
                self._finish(batch)
                self._drop("retries_exhausted", len(batch.records), self.stats.last_error)
                return []
            self.stats.retries += 1
            delay = self.backoff.delay(batch.attempts, retry_after)
            self.waiting.append(Waiting(batch, now + delay))
            return []
        if verdict.outcome == "delivered":
            self.stats.delivered += len(batch.records)
            self.stats.duplicates += verdict.duplicates
            self._finish(batch)
            return []
        if verdict.outcome == "split" and len(batch.records) > 1:
            halves = [self._respool(h) for h in batch.halves()]
            self._finish(batch)
            return halves
        if verdict.outcome == "drop_invalid":
            self.stats.dropped_invalid += len(verdict.invalid)
            self._drop("invalid", len(verdict.invalid), verdict.detail)
            rest = batch.without(set(verdict.invalid))
            self._finish(batch)
            return [self._respool(rest)] if rest.records else []
        if verdict.outcome == "unsupported":
            self.stats.last_error = verdict.detail
            if self.spool is not None:
                self.stats.held_unsupported += len(batch.records)
                return []  # left in the spool, not finished
            self.stats.dropped_unsupported += len(batch.records)
            self._drop("unsupported", len(batch.records), verdict.detail)
            return []
        self.stats.dropped_rejected += len(batch.records)
        self.stats.last_error = verdict.detail
        self._finish(batch)
        self._drop("rejected", len(batch.records), verdict.detail)
        return []

    def _respool(self, batch: Batch) -> Batch:
        if self.spool is not None:
            self.spool.write(batch)
        return batch

    def _finish(self, batch: Batch) -> None:
        if self.spool is not None:
            self.spool.remove(batch)

    def put_back(self, batches: list[Batch], now: float) -> None:
        """Batches taken for sending but not attempted."""
        with self._lock:
            self.waiting.extend(Waiting(b, now) for b in batches)
            self.in_flight -= len(batches)

    def next_due(self, now: float) -> float | None:
        with self._lock:
            if not self.waiting:
                return None
            return max(min(w.not_before for w in self.waiting) - now, 0.0)

    def idle(self) -> bool:
        with self._lock:
            return not self.queue and not self.waiting and self.in_flight == 0

    def _drop(self, reason: str, count: int, detail: str) -> None:
        logger.warning("verity sdk dropped %d record(s): %s (%s)", count, reason, detail)
        if self.on_drop is not None:
            try:
                self.on_drop(reason, count, detail)
            except Exception:  # the callback is the caller's; it must not stop us
                logger.exception("verity sdk on_drop callback failed")

    def note_error(self, detail: str) -> None:
        with self._lock:
            self.stats.internal_errors += 1
            self.stats.last_error = detail


def _value(counter: itertools.count[int]) -> int:
    return int(repr(counter)[6:-1])


def _when(value: Any) -> str:
    return timestamp(value) if isinstance(value, (int, float)) else value.isoformat()
