from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.models import IdempotencyRecord


def get(session: Session, *, project_id: int, key: str) -> IdempotencyRecord | None:
    return session.scalars(
        select(IdempotencyRecord).where(
            IdempotencyRecord.project_id == project_id, IdempotencyRecord.key == key
        )
    ).one_or_none()


def add(session: Session, record: IdempotencyRecord) -> None:
    session.add(record)
    session.flush()
