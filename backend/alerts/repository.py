"""Every SQL statement of the alerts domain."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.models import Alert, Model, ModelVersion


def by_ids(session: Session, alert_ids: Sequence[int]) -> Sequence[Alert]:
    return session.scalars(select(Alert).where(Alert.id.in_(alert_ids))).all()


def unresolved(session: Session, monitor_ids: Sequence[int]) -> Sequence[Alert]:
    """The monitors' open and acknowledged alerts, newest first."""
    return session.scalars(
        select(Alert)
        .where(Alert.monitor_id.in_(monitor_ids), Alert.state != "resolved")
        .order_by(Alert.id.desc())
    ).all()


def unresolved_counts(session: Session, monitor_ids: Sequence[int]) -> dict[int, int]:
    rows = session.execute(
        select(Alert.monitor_id, func.count())
        .where(Alert.monitor_id.in_(monitor_ids), Alert.state != "resolved")
        .group_by(Alert.monitor_id)
    ).all()
    return {int(monitor_id): int(count) for monitor_id, count in rows}


def get(session: Session, *, project_id: int, alert_id: int) -> Alert | None:
    return session.scalars(
        select(Alert).where(Alert.id == alert_id, Alert.project_id == project_id)
    ).one_or_none()


def page(
    session: Session,
    *,
    project_id: int,
    state: str | None,
    severity: str | None,
    model: str | None,
    monitor_id: int | None,
    since: datetime | None,
    after_id: int | None,
    limit: int,
) -> Sequence[Alert]:
    """Newest first, keyset-paged by id (``after_id``: ids below it)."""
    query = select(Alert).where(Alert.project_id == project_id)
    if state is not None:
        query = query.where(Alert.state == state)
    if severity is not None:
        query = query.where(Alert.severity == severity)
    if monitor_id is not None:
        query = query.where(Alert.monitor_id == monitor_id)
    if since is not None:
        query = query.where(Alert.opened_at >= since)
    if after_id is not None:
        query = query.where(Alert.id < after_id)
    if model is not None:
        query = (
            query.join(ModelVersion, ModelVersion.id == Alert.model_version_id)
            .join(Model, Model.id == ModelVersion.model_id)
            .where(Model.name == model)
        )
    return session.scalars(query.order_by(Alert.id.desc()).limit(limit)).all()
