"""Every SQL statement of the oversight domain."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.models import Model, ModelVersion, ServingState


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
