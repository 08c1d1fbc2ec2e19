"""Every SQL statement of the retention domain. The ``*_query`` builders return a
batch-sized ``LIMIT`` query of the ids to delete next; the service drains them a
batch per transaction."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Row, Select, and_, delete, exists, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from backend.models import (
    Alert,
    AuditEvent,
    AuditPayload,
    IdempotencyRecord,
    InferenceHalf,
    Label,
    ModelVersion,
    Monitor,
    Prediction,
    Project,
)


def project_ids(session: Session, only: Collection[int] | None) -> list[int]:
    query = select(Project.id).order_by(Project.id)
    if only is not None:
        query = query.where(Project.id.in_(only))
    return list(session.scalars(query))


def monitors(session: Session) -> Sequence[Monitor]:
    return session.scalars(select(Monitor)).all()


def versions_of(session: Session, projects: Sequence[int]) -> list[tuple[int, int]]:
    """(version id, project id) of every version of the projects."""
    rows = session.execute(
        select(ModelVersion.id, ModelVersion.project_id).where(
            ModelVersion.project_id.in_(projects)
        )
    ).all()
    return [(version_id, project_id) for version_id, project_id in rows]


def delete_chosen(
    session: Session, key: InstrumentedAttribute[int], chosen: Select[tuple[int]]
) -> int:
    """Deletes the rows whose ``key`` is in ``chosen``; how many."""
    result = cast(CursorResult[Any], session.execute(delete(key.class_).where(key.in_(chosen))))
    return result.rowcount or 0


def old_predictions_query(
    version_id: int, cutoff: datetime, keep: list[tuple[datetime, datetime]], limit: int
) -> Select[tuple[int]]:
    query = select(Prediction.id).where(
        Prediction.model_version_id == version_id, Prediction.occurred_at < cutoff
    )
    for start, end in keep:
        query = query.where(~and_(Prediction.occurred_at >= start, Prediction.occurred_at <= end))
    return query.limit(limit)


def old_halves_query(version_id: int, cutoff: datetime, limit: int) -> Select[tuple[int]]:
    return (
        select(InferenceHalf.id)
        .where(InferenceHalf.model_version_id == version_id, InferenceHalf.received_at < cutoff)
        .limit(limit)
    )


def orphaned_labels_query(project_id: int, cutoff: datetime, limit: int) -> Select[tuple[int]]:
    """Labels that never met a prediction (one may come before its prediction)."""
    return (
        select(Label.id)
        .where(
            Label.project_id == project_id,
            Label.received_at < cutoff,
            ~exists().where(
                Prediction.project_id == Label.project_id,
                Prediction.event_id == Label.event_id,
            ),
        )
        .limit(limit)
    )


def old_idempotency_query(
    projects: Sequence[int], before: datetime, limit: int
) -> Select[tuple[int]]:
    return (
        select(IdempotencyRecord.id)
        .where(IdempotencyRecord.project_id.in_(projects), IdempotencyRecord.created_at < before)
        .limit(limit)
    )


def predictions_chosen(
    session: Session, chosen: Select[tuple[int]]
) -> Sequence[Row[tuple[int, str, int | None]]]:
    """(id, event_id, ingest batch id) of the chosen predictions."""
    return session.execute(
        select(Prediction.id, Prediction.event_id, Prediction.ingest_batch_id).where(
            Prediction.id.in_(chosen)
        )
    ).all()


def labels_chosen(
    session: Session, chosen: Select[tuple[int]]
) -> Sequence[Row[tuple[int, int | None]]]:
    """(id, ingest batch id) of the chosen labels."""
    return session.execute(
        select(Label.id, Label.ingest_batch_id).where(Label.id.in_(chosen))
    ).all()


def delete_labels(session: Session, ids: Sequence[int]) -> None:
    session.execute(delete(Label).where(Label.id.in_(ids)))


def delete_predictions(session: Session, ids: Sequence[int]) -> None:
    session.execute(delete(Prediction).where(Prediction.id.in_(ids)))


def old_audit_payloads(
    session: Session,
    *,
    project_id: int,
    cutoff: datetime,
    keep_actions: Collection[str],
    limit: int,
) -> Sequence[Row[tuple[int, int]]]:
    """(audit event id, seq) of the oldest payloads past ``cutoff``, but those of
    events whose action is in ``keep_actions``."""
    return session.execute(
        select(AuditPayload.audit_event_id, AuditEvent.seq)
        .join(AuditEvent, AuditEvent.id == AuditPayload.audit_event_id)
        .where(
            AuditEvent.project_id == project_id,
            AuditEvent.occurred_at < cutoff,
            AuditEvent.action.not_in(sorted(keep_actions)),
        )
        .order_by(AuditEvent.seq)
        .limit(limit)
    ).all()


def delete_audit_payloads(session: Session, event_ids: Sequence[int]) -> None:
    session.execute(delete(AuditPayload).where(AuditPayload.audit_event_id.in_(event_ids)))


def unanchored_ids(
    session: Session, model: type[Prediction] | type[Label], *, project_id: int, limit: int
) -> list[int]:
    """Ids of rows stored before ingest batches existed (no batch), oldest first."""
    return list(
        session.scalars(
            select(model.id)
            .where(model.project_id == project_id, model.ingest_batch_id.is_(None))
            .order_by(model.id)
            .limit(limit)
        )
    )


def set_ingest_batch(
    session: Session, model: type[Prediction] | type[Label], ids: Sequence[int], batch_id: int
) -> None:
    session.execute(update(model).where(model.id.in_(ids)).values(ingest_batch_id=batch_id))


def alerts_of(session: Session, project_id: int) -> Sequence[Alert]:
    return session.scalars(select(Alert).where(Alert.project_id == project_id)).all()
