from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Select, and_, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from backend.models import Label, Model, ModelVersion, Prediction

# Stay under SQLite's and psycopg's bound-parameter limits in IN (...) lists.
_IN_CHUNK = 5000


def _insert(session: Session, table: Any) -> Any:
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def insert_predictions(session: Session, rows: list[dict[str, Any]]) -> set[str]:
    """Insert rows, skipping event_ids the project already has; return those inserted."""
    statement = (
        _insert(session, Prediction)
        .on_conflict_do_nothing(index_elements=["project_id", "event_id"])
        .returning(Prediction.event_id)
    )
    return set(session.scalars(statement, rows).all())


def _chunks(values: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(values), _IN_CHUNK):
        yield values[start : start + _IN_CHUNK]


def prediction_versions(
    session: Session, *, project_id: int, event_ids: Sequence[str]
) -> dict[str, int]:
    found: dict[str, int] = {}
    for chunk in _chunks(event_ids):
        found.update(
            session.execute(
                select(Prediction.event_id, Prediction.model_version_id).where(
                    Prediction.project_id == project_id, Prediction.event_id.in_(chunk)
                )
            )
            .tuples()
            .all()
        )
    return found


def versions_with_models(
    session: Session, version_ids: Iterable[int]
) -> list[tuple[Model, ModelVersion]]:
    ids = sorted(set(version_ids))
    if not ids:
        return []
    rows = session.execute(
        select(Model, ModelVersion)
        .join(ModelVersion, ModelVersion.model_id == Model.id)
        .where(ModelVersion.id.in_(ids))
    ).all()
    return [(model, version) for model, version in rows]


def existing_labels(
    session: Session, *, project_id: int, event_ids: Sequence[str]
) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for chunk in _chunks(event_ids):
        found.update(
            session.execute(
                select(Label.event_id, Label.label).where(
                    Label.project_id == project_id, Label.event_id.in_(chunk)
                )
            )
            .tuples()
            .all()
        )
    return found


def upsert_labels(session: Session, rows: list[dict[str, Any]]) -> None:
    statement = _insert(session, Label)
    statement = statement.on_conflict_do_update(
        index_elements=["project_id", "event_id"],
        set_={
            "label": statement.excluded.label,
            "occurred_at": statement.excluded.occurred_at,
            "updated_at": statement.excluded.updated_at,
        },
    )
    session.execute(statement, rows)


def _prediction_query(project_id: int) -> Select[Any]:
    return (
        select(
            Prediction,
            Model.name,
            ModelVersion.version,
            Label.label,
            Label.received_at,
        )
        .join(ModelVersion, ModelVersion.id == Prediction.model_version_id)
        .join(Model, Model.id == ModelVersion.model_id)
        .outerjoin(
            Label,
            and_(Label.project_id == Prediction.project_id, Label.event_id == Prediction.event_id),
        )
        .where(Prediction.project_id == project_id)
    )


def find_prediction(session: Session, *, project_id: int, event_id: str) -> Row[Any] | None:
    return session.execute(
        _prediction_query(project_id).where(Prediction.event_id == event_id)
    ).one_or_none()


def page_predictions(
    session: Session,
    *,
    project_id: int,
    model: str | None,
    version: str | None,
    start: datetime | None,
    end: datetime | None,
    after: tuple[datetime, int] | None,
    limit: int,
) -> Sequence[Row[Any]]:
    """Newest first, keyset-paged on (occurred_at, id)."""
    statement = _prediction_query(project_id)
    if model is not None:
        statement = statement.where(Model.name == model)
    if version is not None:
        statement = statement.where(ModelVersion.version == version)
    if start is not None:
        statement = statement.where(Prediction.occurred_at >= start)
    if end is not None:
        statement = statement.where(Prediction.occurred_at < end)
    if after is not None:
        occurred_at, row_id = after
        statement = statement.where(
            or_(
                Prediction.occurred_at < occurred_at,
                and_(Prediction.occurred_at == occurred_at, Prediction.id < row_id),
            )
        )
    statement = statement.order_by(Prediction.occurred_at.desc(), Prediction.id.desc()).limit(limit)
    return session.execute(statement).all()
