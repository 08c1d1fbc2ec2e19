"""Idempotency keys: a replay gets the first answer; the same key with another body
is refused. The record is written in the same transaction as the work it guards.

While a request does its work it holds its key: on PostgreSQL a transaction-scoped
advisory lock on (project, key), taken at the start of the write transaction, so a
concurrent request with the same key gets 409 with ``Retry-After`` at once (the SDK
retries it, and then gets the first answer). A request that fails rolls back and the
lock goes with it, so its key may be used again; nothing is left to expire. SQLite
runs one writer at a time: a concurrent duplicate waits for the first to commit and
then gets its answer as a replay.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.errors import Conflict, InvalidInput
from backend.idempotency import repository
from backend.models import IdempotencyRecord

MAX_KEY_LENGTH = 255
IN_PROGRESS_RETRY_AFTER = 1


@dataclass(frozen=True)
class StoredAnswer:
    status_code: int
    body: dict[str, Any]


def check_key(key: str) -> None:
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise InvalidInput(
            f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable characters",
            errors=[{"field": "Idempotency-Key", "message": "invalid header value"}],
        )


def find_replay(
    session: Session, *, project_id: int, key: str, endpoint: str, request_sha256: str
) -> StoredAnswer | None:
    check_key(key)
    record = repository.get(session, project_id=project_id, key=key)
    if record is None:
        return None
    if record.endpoint != endpoint or record.request_sha256 != request_sha256:
        raise InvalidInput(
            "this Idempotency-Key was already used with a different request body; "
            "use a new key for a new request",
            errors=[{"field": "Idempotency-Key", "message": "reused with another body"}],
        )
    return StoredAnswer(status_code=record.status_code, body=orjson.loads(record.response_body))


class IdempotencyInProgress(Conflict):
    slug = "idempotency-in-progress"
    title = "A request with this Idempotency-Key is in progress"

    def __init__(self) -> None:
        super().__init__(
            "a request with this Idempotency-Key is still being processed; retry after "
            "the Retry-After delay to get its answer",
            headers={"Retry-After": str(IN_PROGRESS_RETRY_AFTER)},
        )


def hold(session: Session, *, project_id: int, key: str) -> None:
    """Takes the key for this write transaction, or raises ``IdempotencyInProgress``
    while another request holds it."""
    if not repository.try_hold(session, project_id=project_id, key=key):
        raise IdempotencyInProgress()


def remember(
    session: Session,
    *,
    project_id: int,
    key: str,
    endpoint: str,
    request_sha256: str,
    status_code: int,
    body: dict[str, Any],
) -> None:
    try:
        repository.add(
            session,
            IdempotencyRecord(
                project_id=project_id,
                key=key,
                endpoint=endpoint,
                request_sha256=request_sha256,
                status_code=status_code,
                response_body=orjson.dumps(body).decode(),
            ),
        )
    except IntegrityError:
        # Another request with this key committed first (a key not held beforehand);
        # the client's retry gets that request's answer as a replay.
        raise IdempotencyInProgress() from None
