from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.models import Model, ModelVersion, Monitor, ReferenceDataset


def get(session: Session, *, project_id: int, monitor_id: int) -> Monitor | None:
    return session.scalars(
        select(Monitor).where(Monitor.id == monitor_id, Monitor.project_id == project_id)
    ).one_or_none()


def by_name(session: Session, *, model_version_id: int, name: str) -> Monitor | None:
    return session.scalars(
        select(Monitor).where(Monitor.model_version_id == model_version_id, Monitor.name == name)
    ).one_or_none()


def list_for_version(session: Session, *, model_version_id: int) -> Sequence[Monitor]:
    return session.scalars(
        select(Monitor).where(Monitor.model_version_id == model_version_id).order_by(Monitor.id)
    ).all()


def names(session: Session, model_version_id: int) -> tuple[str, str]:
    """The model and version names of a model version."""
    row = session.execute(
        select(Model.name, ModelVersion.version)
        .join(ModelVersion, ModelVersion.model_id == Model.id)
        .where(ModelVersion.id == model_version_id)
    ).one()
    return row[0], row[1]


def has_reference_dataset(session: Session, *, model_version_id: int) -> bool:
    found = session.scalar(
        select(ReferenceDataset.id)
        .where(ReferenceDataset.model_version_id == model_version_id)
        .limit(1)
    )
    return found is not None


def newest_reference_columns(session: Session, *, model_version_id: int) -> list[str] | None:
    """The columns of the version's newest reference dataset; None when it has none."""
    columns: list[str] | None = session.scalar(
        select(ReferenceDataset.columns)
        .where(ReferenceDataset.model_version_id == model_version_id)
        .order_by(ReferenceDataset.id.desc())
        .limit(1)
    )
    return columns


def of_model(session: Session, *, model_id: int) -> list[tuple[Monitor, str]]:
    """Every monitor of the model's versions, with its version's name, in version order."""
    rows = session.execute(
        select(Monitor, ModelVersion.version)
        .join(ModelVersion, ModelVersion.id == Monitor.model_version_id)
        .where(ModelVersion.model_id == model_id)
        .order_by(ModelVersion.id, Monitor.id)
    ).all()
    return [(monitor, version) for monitor, version in rows]
