"""Every SQL statement of the oversight domain."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.models import Incident, IncidentEvent, Model, ModelVersion, ServingState


def serving_state(session: Session, version_id: int, *, lock: bool = False) -> ServingState | None:
    statement = select(ServingState).where(ServingState.model_version_id == version_id)
    if lock:
        statement = statement.with_for_update()
    return session.scalars(statement).one_or_none()


def poll_key(session: Session, project_id: int, model: str, version: str) -> tuple[int, int] | None:
    """The version's id and its serving state's revision (0 when it never changed),
    for a conditional poll: one indexed lookup; None for an unknown version."""
    row = session.execute(
        select(ModelVersion.id, ServingState.revision)
        .join(Model, Model.id == ModelVersion.model_id)
        .outerjoin(ServingState, ServingState.model_version_id == ModelVersion.id)
        .where(Model.project_id == project_id, Model.name == model, ModelVersion.version == version)
    ).first()
    return None if row is None else (int(row[0]), int(row[1] or 0))


def alerts_of_version(session: Session, version_id: int, ids: list[int]) -> list[Any]:
    from backend.models import Alert

    if not ids:
        return []
    return list(
        session.scalars(
            select(Alert).where(Alert.model_version_id == version_id, Alert.id.in_(ids))
        ).all()
    )


def serving_history(session: Session, version_id: int) -> list[ServingState]:
    return list(
        session.scalars(
            select(ServingState).where(ServingState.model_version_id == version_id)
        ).all()
    )


def incident(session: Session, project_id: int, incident_id: int) -> Incident | None:
    return session.scalars(
        select(Incident).where(Incident.project_id == project_id, Incident.id == incident_id)
    ).one_or_none()


def timeline(session: Session, incident_id: int) -> list[IncidentEvent]:
    return list(
        session.scalars(
            select(IncidentEvent)
            .where(IncidentEvent.incident_id == incident_id)
            .order_by(IncidentEvent.id)
        ).all()
    )


def incidents_page(
    session: Session, project_id: int, before_id: int | None, limit: int
) -> list[Incident]:
    statement = select(Incident).where(Incident.project_id == project_id)
    if before_id is not None:
        statement = statement.where(Incident.id < before_id)
    return list(session.scalars(statement.order_by(Incident.id.desc()).limit(limit)).all())


def incidents_between(
    session: Session, version_id: int, start: datetime, end: datetime
) -> list[Incident]:
    return list(
        session.scalars(
            select(Incident)
            .where(
                Incident.model_version_id == version_id,
                Incident.aware_at < end,
                Incident.updated_at >= start,
            )
            .order_by(Incident.id)
        ).all()
    )


def deadlines_due(session: Session, before: datetime) -> list[Incident]:
    return list(
        session.scalars(
            select(Incident).where(
                Incident.deadline_at.is_not(None),
                Incident.deadline_at <= before,
                Incident.deadline_warned_at.is_(None),
                Incident.status.in_(("open", "investigating")),
            )
        ).all()
    )
