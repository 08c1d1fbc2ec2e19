"""Every SQL statement of the governance domain."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.models import (
    Alert,
    CheckRun,
    GateEvaluation,
    GatePolicy,
    ModelCard,
    ModelVersion,
    Monitor,
    VersionTransition,
)


def current_policy(session: Session, model_id: int) -> GatePolicy | None:
    return session.scalars(
        select(GatePolicy)
        .where(GatePolicy.model_id == model_id)
        .order_by(GatePolicy.revision.desc())
        .limit(1)
    ).first()


def policy_revision(session: Session, model_id: int, revision: int) -> GatePolicy | None:
    return session.scalars(
        select(GatePolicy).where(GatePolicy.model_id == model_id, GatePolicy.revision == revision)
    ).one_or_none()


def monitor_kinds_of_model(session: Session, model_id: int) -> dict[str, str]:
    """Monitor name → kind, over every version of the model."""
    rows = session.execute(
        select(Monitor.name, Monitor.kind)
        .join(ModelVersion, ModelVersion.id == Monitor.model_version_id)
        .where(ModelVersion.model_id == model_id)
        .order_by(Monitor.id)
    ).all()
    return dict(rows)  # type: ignore[arg-type]


def monitor_by_name(session: Session, version_id: int, name: str) -> Monitor | None:
    return session.scalars(
        select(Monitor).where(Monitor.model_version_id == version_id, Monitor.name == name)
    ).one_or_none()


def latest_completed_run(session: Session, monitor_id: int) -> CheckRun | None:
    """The run over the latest window that completed (ok, warning or alert)."""
    return session.scalars(
        select(CheckRun)
        .where(
            CheckRun.monitor_id == monitor_id,
            CheckRun.status.in_(("ok", "warning", "alert")),
        )
        .order_by(CheckRun.window_end.desc(), CheckRun.id.desc())
        .limit(1)
    ).first()


def open_alerts(session: Session, version_id: int, severities: Sequence[str]) -> list[Alert]:
    return list(
        session.scalars(
            select(Alert)
            .join(Monitor, Monitor.id == Alert.monitor_id)
            .where(
                Monitor.model_version_id == version_id,
                Alert.state != "resolved",
                Alert.severity.in_(severities),
            )
            .order_by(Alert.id)
        ).all()
    )


def latest_evaluation(session: Session, version_id: int) -> GateEvaluation | None:
    return session.scalars(
        select(GateEvaluation)
        .where(GateEvaluation.model_version_id == version_id)
        .order_by(GateEvaluation.id.desc())
        .limit(1)
    ).first()


def versions_in_stage(session: Session, model_id: int, stage: str) -> list[ModelVersion]:
    return list(
        session.scalars(
            select(ModelVersion)
            .where(ModelVersion.model_id == model_id, ModelVersion.stage == stage)
            .order_by(ModelVersion.id)
        ).all()
    )


def versions_of(session: Session, model_id: int) -> list[ModelVersion]:
    return list(
        session.scalars(
            select(ModelVersion).where(ModelVersion.model_id == model_id).order_by(ModelVersion.id)
        ).all()
    )


def transitions_of(session: Session, version_ids: Sequence[int]) -> list[VersionTransition]:
    if not version_ids:
        return []
    return list(
        session.scalars(
            select(VersionTransition)
            .where(VersionTransition.model_version_id.in_(version_ids))
            .order_by(VersionTransition.id)
        ).all()
    )


def last_transition_to(session: Session, version_id: int, stage: str) -> VersionTransition | None:
    return session.scalars(
        select(VersionTransition)
        .where(
            VersionTransition.model_version_id == version_id,
            VersionTransition.to_stage == stage,
        )
        .order_by(VersionTransition.id.desc())
        .limit(1)
    ).first()


def transitions_between(
    session: Session, project_id: int, version_id: int, start: datetime, end: datetime
) -> list[VersionTransition]:
    return list(
        session.scalars(
            select(VersionTransition)
            .where(
                VersionTransition.project_id == project_id,
                VersionTransition.model_version_id == version_id,
                VersionTransition.created_at >= start,
                VersionTransition.created_at < end,
            )
            .order_by(VersionTransition.id)
        ).all()
    )


def evaluations_between(
    session: Session, version_id: int, start: datetime, end: datetime
) -> list[GateEvaluation]:
    return list(
        session.scalars(
            select(GateEvaluation)
            .where(
                GateEvaluation.model_version_id == version_id,
                GateEvaluation.evaluated_at >= start,
                GateEvaluation.evaluated_at < end,
            )
            .order_by(GateEvaluation.id)
        ).all()
    )


def policy_by_id(session: Session, policy_id: int) -> GatePolicy | None:
    return session.get(GatePolicy, policy_id)


def next_revision(session: Session, model_id: int) -> int:
    found = session.scalar(
        select(func.max(GatePolicy.revision)).where(GatePolicy.model_id == model_id)
    )
    return int(found or 0) + 1


def monitors_of_version(session: Session, version_id: int) -> list[Monitor]:
    return list(
        session.scalars(
            select(Monitor).where(Monitor.model_version_id == version_id).order_by(Monitor.id)
        ).all()
    )


def latest_card(session: Session, version_id: int, state: str | None = None) -> ModelCard | None:
    statement = select(ModelCard).where(ModelCard.model_version_id == version_id)
    if state is not None:
        statement = statement.where(ModelCard.state == state)
    return session.scalars(statement.order_by(ModelCard.revision.desc()).limit(1)).first()


def card_revision(session: Session, version_id: int, revision: int) -> ModelCard | None:
    return session.scalars(
        select(ModelCard).where(
            ModelCard.model_version_id == version_id, ModelCard.revision == revision
        )
    ).one_or_none()
