"""What the sync and async clients share: batches, their encoding, and the answer to
"send again, and when?" for each response. No I/O here.
"""

from __future__ import annotations

import gzip
import json
import math
import random
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any, Literal

Kind = Literal["predictions", "labels"]
ENDPOINTS: dict[Kind, str] = {"predictions": "/v1/predictions", "labels": "/v1/labels"}
BODY_KEYS: dict[Kind, str] = {"predictions": "records", "labels": "labels"}
# The answers after which sending the same batch again may succeed (408: the body
# arrived too slowly for the server's deadline).
RETRYABLE_STATUS = frozenset({408, 429, 502, 503, 504})
# A 409 of this problem type: another request with the batch's Idempotency-Key is in
# progress. Retried, never dropped: if that request fails, this one must still land.
IN_PROGRESS_TYPE = "/idempotency-in-progress"


@dataclass
class Batch:
    """Records for one request. The id is the request's ``Idempotency-Key``, kept
    across retries, spooling and restarts."""

    kind: Kind
    records: list[dict[str, Any]]
    id: str = field(default_factory=lambda: new_batch_id())
    attempts: int = 0

    def body(self) -> bytes:
        payload = {BODY_KEYS[self.kind]: self.records}
        return gzip.compress(json.dumps(payload, default=_json_default).encode(), compresslevel=5)

    def headers(self, api_key: str) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {api_key}",
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
            "Idempotency-Key": f"sdk-{self.id}",
        }

    def without(self, indexes: set[int]) -> Batch:
        """The same batch less some records: a new id, since the body changes."""
        kept = [r for i, r in enumerate(self.records) if i not in indexes]
        return Batch(self.kind, kept)

    def halves(self) -> tuple[Batch, Batch]:
        middle = len(self.records) // 2
        return Batch(self.kind, self.records[:middle]), Batch(self.kind, self.records[middle:])


def new_batch_id() -> str:
    # Creation time first, so that a spool's file names sort oldest first.
    return f"{time.time_ns():020d}-{uuid.uuid4().hex[:16]}"


def _json_default(value: Any) -> Any:
    """numpy and torch scalars and arrays, datetimes: what a model server has at hand."""
    if isinstance(value, datetime):
        return value.isoformat()
    for method in ("item", "tolist"):
        convert = getattr(value, method, None)
        if callable(convert):
            try:
                return convert()
            except (TypeError, ValueError):
                continue
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def timestamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat()


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with full jitter, capped; ``Retry-After`` wins when the
    server gives one."""

    base: float = 0.5
    cap: float = 30.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.cap * 10)
        return random.uniform(0, min(self.cap, self.base * 2 ** max(attempt - 1, 0)))


def retry_after_seconds(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds: delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    value = headers.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max((when - (now or datetime.now(timezone.utc))).total_seconds(), 0.0)


Outcome = Literal["delivered", "retry", "split", "drop_invalid", "unsupported", "rejected"]


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    # For "drop_invalid": the records the server named as invalid.
    invalid: frozenset[int] = frozenset()
    stored: int = 0
    duplicates: int = 0
    detail: str = ""


def judge(status: int, body: Any) -> Verdict:
    """What to do after the server answered ``status`` with ``body`` (parsed JSON or
    None)."""
    if 200 <= status < 300:
        stored = body.get("stored", 0) if isinstance(body, dict) else 0
        duplicates = body.get("duplicates", 0) if isinstance(body, dict) else 0
        return Verdict("delivered", stored=int(stored), duplicates=int(duplicates))
    if status in RETRYABLE_STATUS:
        return Verdict("retry", detail=f"HTTP {status}")
    if (
        status == 409
        and isinstance(body, dict)
        and str(body.get("type", "")).endswith(IN_PROGRESS_TYPE)
    ):
        return Verdict("retry", detail="HTTP 409: the same batch is still being stored")
    if status == 413:
        return Verdict("split", detail="batch too large")
    detail = body.get("detail", "") if isinstance(body, dict) else ""
    if status == 426:
        return Verdict("unsupported", detail=f"HTTP 426: {detail}")
    if status == 422 and isinstance(body, dict):
        invalid = frozenset(
            int(e["record"]) for e in body.get("errors", []) if isinstance(e.get("record"), int)
        )
        if invalid:
            return Verdict("drop_invalid", invalid=invalid, detail=str(detail))
    return Verdict("rejected", detail=f"HTTP {status}: {detail}")
