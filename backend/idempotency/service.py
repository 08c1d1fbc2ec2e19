"""Idempotency keys: a replay gets the first answer; the same key with another body
is refused. The record is written in the same transaction as the work it guards."""

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
    except IntegrityError as exc:
        # Another request with this key committed first; the client's retry will get
        # that request's answer as a replay.
        raise Conflict(
            "a request with this Idempotency-Key is already being processed; retry it"
        ) from exc
