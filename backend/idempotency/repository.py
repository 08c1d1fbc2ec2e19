from __future__ import annotations

from sqlalchemy import func, select
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


def try_hold(session: Session, *, project_id: int, key: str) -> bool:
    """A transaction-scoped lock on the key (PostgreSQL); SQLite's single writer holds
    every key of the transaction already."""
    if session.get_bind().dialect.name != "postgresql":
        return True
    held = session.scalar(
        select(
            func.pg_try_advisory_xact_lock(
                func.hashtextextended(func.concat("idempotency:", project_id, ":", key), 0)
            )
        )
    )
    return bool(held)
