from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from backend.models import Model, ModelVersion, ReferenceDataset


def get_model(session: Session, *, project_id: int, name: str) -> Model | None:
    return session.scalars(
        select(Model).where(Model.project_id == project_id, Model.name == name)
    ).one_or_none()


def list_models(session: Session, *, project_id: int) -> Sequence[Model]:
    return session.scalars(
        select(Model).where(Model.project_id == project_id).order_by(Model.name)
    ).all()


def get_version(session: Session, *, model_id: int, version: str) -> ModelVersion | None:
    return session.scalars(
        select(ModelVersion).where(
            ModelVersion.model_id == model_id, ModelVersion.version == version
        )
    ).one_or_none()


def list_versions(session: Session, *, model_id: int) -> Sequence[ModelVersion]:
    return session.scalars(
        select(ModelVersion).where(ModelVersion.model_id == model_id).order_by(ModelVersion.id)
    ).all()


def find_versions(
    session: Session, *, project_id: int, pairs: set[tuple[str, str]]
) -> dict[tuple[str, str], tuple[Model, ModelVersion]]:
    """Resolve (model name, version) pairs in one query."""
    if not pairs:
        return {}
    rows = session.execute(
        select(Model, ModelVersion)
        .join(ModelVersion, ModelVersion.model_id == Model.id)
        .where(
            Model.project_id == project_id,
            tuple_(Model.name, ModelVersion.version).in_(sorted(pairs)),
        )
    ).all()
    return {(model.name, version.version): (model, version) for model, version in rows}


def get_reference_by_hash(
    session: Session, *, model_version_id: int, content_sha256: str
) -> ReferenceDataset | None:
    return session.scalars(
        select(ReferenceDataset).where(
            ReferenceDataset.model_version_id == model_version_id,
            ReferenceDataset.content_sha256 == content_sha256,
        )
    ).one_or_none()


def list_references(session: Session, *, model_version_id: int) -> Sequence[ReferenceDataset]:
    return session.scalars(
        select(ReferenceDataset)
        .where(ReferenceDataset.model_version_id == model_version_id)
        .order_by(ReferenceDataset.id)
    ).all()
