from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import Select, String, Text, cast, func, select, type_coerce
from sqlalchemy.orm import Session

from backend.models import (
    Alert,
    AuditCheckpoint,
    AuditEvent,
    AuditPayload,
    CheckRun,
    Prediction,
    Project,
)


def lock_chain(session: Session, project_id: int) -> None:
    """Serialize appends to one project's chain.

    On PostgreSQL the project row is locked until commit; on SQLite the connection
    already holds the database write lock (BEGIN IMMEDIATE). The lock is FOR NO KEY
    UPDATE: plain FOR UPDATE would conflict with the KEY SHARE locks that foreign-key
    checks on every project-scoped insert take, and two writers would deadlock.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            select(Project.id).where(Project.id == project_id).with_for_update(key_share=True)
        )


def last_event(session: Session, project_id: int) -> AuditEvent | None:
    return session.scalars(
        select(AuditEvent)
        .where(AuditEvent.project_id == project_id)
        .order_by(AuditEvent.seq.desc())
        .limit(1)
    ).one_or_none()


def add_event(session: Session, event: AuditEvent, payload_body: str) -> None:
    session.add(event)
    session.flush()
    session.add(AuditPayload(audit_event_id=event.id, body=payload_body))


def iter_chain(
    session: Session, project_id: int, batch_size: int = 5000
) -> Iterator[tuple[AuditEvent, str | None]]:
    statement = (
        select(AuditEvent, AuditPayload.body)
        .outerjoin(AuditPayload, AuditPayload.audit_event_id == AuditEvent.id)
        .where(AuditEvent.project_id == project_id)
        .order_by(AuditEvent.seq, AuditEvent.id)
        .execution_options(yield_per=batch_size)
    )
    yield from session.execute(statement).tuples()


def list_events(
    session: Session,
    *,
    project_id: int,
    action: str | None,
    actor: str | None,
    subject: str | None,
    since: datetime | None,
    until: datetime | None,
    after_seq: int | None,
    limit: int,
    before_seq: int | None = None,
    newest_first: bool = False,
) -> Sequence[tuple[AuditEvent, str | None]]:
    statement: Select[tuple[AuditEvent, str]] = (
        select(AuditEvent, AuditPayload.body)
        .outerjoin(AuditPayload, AuditPayload.audit_event_id == AuditEvent.id)
        .where(AuditEvent.project_id == project_id)
    )
    if action is not None:
        statement = statement.where(AuditEvent.action == action)
    if actor is not None:
        statement = statement.where(AuditEvent.actor == actor)
    if subject is not None:
        statement = statement.where(AuditEvent.subject == subject)
    if since is not None:
        statement = statement.where(AuditEvent.occurred_at >= since)
    if until is not None:
        statement = statement.where(AuditEvent.occurred_at < until)
    if after_seq is not None:
        statement = statement.where(AuditEvent.seq > after_seq)
    if before_seq is not None:
        statement = statement.where(AuditEvent.seq < before_seq)
    order = AuditEvent.seq.desc() if newest_first else AuditEvent.seq
    rows = session.execute(statement.order_by(order).limit(limit)).all()
    return [(event, body) for event, body in rows]


def _stored_time(dialect: str, column: Any) -> Any:
    """A time as its canonical UTC text (backend.audit.records.stamp), from SQL."""
    if dialect == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD HH24:MI:SS.US")
    return type_coerce(column, String)  # SQLite stores exactly that text


def _stored_json(dialect: str, column: Any) -> Any:
    """A JSON column as its stored text, parsed by the caller (orjson) rather than by
    the driver row by row."""
    return cast(column, Text) if dialect == "postgresql" else type_coerce(column, String)


def iter_stored_rows(
    session: Session, model: Any, project_id: int, batch_size: int = 20_000
) -> Iterator[tuple[Any, ...]]:
    """Every row of ``model`` (Prediction or Label) in the project, in the stored form
    its Merkle leaf is computed from (event id first, ingest batch last), grouped by
    ingest batch."""
    dialect = session.get_bind().dialect.name
    time, json = (partial(f, dialect) for f in (_stored_time, _stored_json))
    if model is Prediction:
        columns = [
            model.event_id,
            model.model_version_id,
            time(model.occurred_at),
            time(model.received_at),
            json(model.features),
            json(model.prediction),
            model.score,
            json(model.probabilities),
            model.latency_ms,
            model.compute_seconds,
            json(model.tags),
            model.ingest_batch_id,
        ]
    else:
        columns = [
            model.event_id,
            json(model.label),
            time(model.occurred_at),
            time(model.received_at),
            time(model.updated_at),
            model.ingest_batch_id,
        ]
    statement = (
        select(*columns)
        .where(model.project_id == project_id)
        .order_by(model.ingest_batch_id)
        .execution_options(yield_per=batch_size)
    )
    # Core on the session's connection (its transaction and snapshot), without the
    # ORM's per-row loading: a million rows are read here. (The option goes on the
    # statement: on the connection it would stay, and stream later INSERTs too.)
    result = session.connection().execute(statement)
    for chunk in result.partitions():
        yield from chunk  # type: ignore[misc]


def stored_runs(session: Session, project_id: int) -> Iterator[CheckRun]:
    yield from session.scalars(
        select(CheckRun)
        .where(CheckRun.project_id == project_id)
        .order_by(CheckRun.id)
        .execution_options(yield_per=1000)
    )


def stored_alerts(session: Session, project_id: int) -> Sequence[Alert]:
    return session.scalars(
        select(Alert).where(Alert.project_id == project_id).order_by(Alert.id)
    ).all()


def checkpoints(session: Session, project_id: int, limit: int = 1) -> Sequence[AuditCheckpoint]:
    """The newest first."""
    return session.scalars(
        select(AuditCheckpoint)
        .where(AuditCheckpoint.project_id == project_id)
        .order_by(AuditCheckpoint.seq.desc())
        .limit(limit)
    ).all()


def add_checkpoint(session: Session, checkpoint: AuditCheckpoint) -> None:
    session.add(checkpoint)
    session.flush()


def heads(session: Session) -> list[tuple[int, int, str]]:
    """(project, head seq, head hash) of every project whose chain has grown since its
    latest checkpoint."""
    newest = (
        select(AuditEvent.project_id, func.max(AuditEvent.seq).label("seq"))
        .group_by(AuditEvent.project_id)
        .subquery()
    )
    checkpointed = (
        select(AuditCheckpoint.project_id, func.max(AuditCheckpoint.seq).label("seq"))
        .group_by(AuditCheckpoint.project_id)
        .subquery()
    )
    rows = session.execute(
        select(AuditEvent.project_id, AuditEvent.seq, AuditEvent.hash)
        .join(
            newest,
            (newest.c.project_id == AuditEvent.project_id) & (newest.c.seq == AuditEvent.seq),
        )
        .outerjoin(checkpointed, checkpointed.c.project_id == AuditEvent.project_id)
        .where((checkpointed.c.seq.is_(None)) | (checkpointed.c.seq < AuditEvent.seq))
        .order_by(AuditEvent.project_id)
    ).all()
    return [(project_id, seq, hash_) for project_id, seq, hash_ in rows]
