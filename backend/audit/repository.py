from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from backend.models import AuditEvent, AuditPayload, Project


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
