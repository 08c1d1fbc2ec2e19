"""Every SQL statement of the oversight domain."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.models import (
    Incident,
    IncidentEvent,
    Model,
    ModelVersion,
    ReviewItem,
    ReviewPolicy,
    ServingState,
)


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


def review_policy(session: Session, version_id: int) -> ReviewPolicy | None:
    return session.scalars(
        select(ReviewPolicy).where(ReviewPolicy.model_version_id == version_id)
    ).one_or_none()


def has_open_alert(session: Session, version_id: int, kinds: tuple[str, ...]) -> bool:
    from backend.models import Alert, Monitor

    found = session.scalar(
        select(Alert.id)
        .join(Monitor, Monitor.id == Alert.monitor_id)
        .where(
            Alert.model_version_id == version_id,
            Alert.state != "resolved",
            Monitor.kind.in_(kinds),
        )
        .limit(1)
    )
    return found is not None


def queue_items(session: Session, items: list[dict[str, Any]]) -> None:
    """Insert review items; an event id already queued is left as it is."""
    if not items:
        return
    from sqlalchemy.dialects.postgresql import insert as pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    keys = ["project_id", "event_id"]
    if session.get_bind().dialect.name == "postgresql":
        session.execute(pg_insert(ReviewItem).on_conflict_do_nothing(index_elements=keys), items)
    else:
        session.execute(
            sqlite_insert(ReviewItem).on_conflict_do_nothing(index_elements=keys), items
        )


def names(session: Session, version_id: int) -> tuple[str, str]:
    row = session.execute(
        select(Model.name, ModelVersion.version)
        .join(ModelVersion, ModelVersion.model_id == Model.id)
        .where(ModelVersion.id == version_id)
    ).one()
    return str(row[0]), str(row[1])


def prediction_row(session: Session, project_id: int, event_id: str) -> Any:
    from backend.models import Prediction

    return session.scalars(
        select(Prediction).where(
            Prediction.project_id == project_id, Prediction.event_id == event_id
        )
    ).one_or_none()


def next_claimable(session: Session, version_id: int, now: datetime) -> ReviewItem | None:
    from sqlalchemy import and_, or_

    statement = (
        select(ReviewItem)
        .where(
            ReviewItem.model_version_id == version_id,
            or_(
                ReviewItem.state == "pending",
                and_(ReviewItem.state == "claimed", ReviewItem.lease_expires_at < now),
            ),
        )
        .order_by(ReviewItem.id)
        .limit(1)
    )
    if session.get_bind().dialect.name == "postgresql":
        statement = statement.with_for_update(skip_locked=True)
    return session.scalars(statement).first()


def review_item(session: Session, project_id: int, item_id: int) -> ReviewItem | None:
    return session.scalars(
        select(ReviewItem).where(ReviewItem.project_id == project_id, ReviewItem.id == item_id)
    ).one_or_none()


def item_by_event(session: Session, project_id: int, event_id: str) -> ReviewItem | None:
    return session.scalars(
        select(ReviewItem).where(
            ReviewItem.project_id == project_id, ReviewItem.event_id == event_id
        )
    ).one_or_none()


def queue_figures(
    session: Session, version_id: int
) -> tuple[dict[str, int], datetime | None, list[tuple[str, str]]]:
    from sqlalchemy import func

    counts = {
        str(state): int(n)
        for state, n in session.execute(
            select(ReviewItem.state, func.count())
            .where(ReviewItem.model_version_id == version_id)
            .group_by(ReviewItem.state)
        ).all()
    }
    oldest = session.scalar(
        select(func.min(ReviewItem.queued_at)).where(
            ReviewItem.model_version_id == version_id, ReviewItem.state != "decided"
        )
    )
    if oldest is not None and oldest.tzinfo is None:
        from datetime import UTC

        oldest = oldest.replace(tzinfo=UTC)
    decided = [
        (str(d), str(s))
        for d, s in session.execute(
            select(ReviewItem.decision, ReviewItem.segment).where(
                ReviewItem.model_version_id == version_id, ReviewItem.state == "decided"
            )
        ).all()
    ]
    return counts, oldest, decided


def pending_older_than(session: Session, version_id: int, before: datetime) -> int:
    from sqlalchemy import func

    return int(
        session.scalar(
            select(func.count()).where(
                ReviewItem.model_version_id == version_id,
                ReviewItem.state != "decided",
                ReviewItem.queued_at < before,
            )
        )
        or 0
    )


def recent_decisions(session: Session, version_id: int, limit: int) -> list[str]:
    """The latest decisions, newest first."""
    return [
        str(d)
        for d in session.scalars(
            select(ReviewItem.decision)
            .where(ReviewItem.model_version_id == version_id, ReviewItem.state == "decided")
            .order_by(ReviewItem.decided_at.desc(), ReviewItem.id.desc())
            .limit(limit)
        ).all()
    ]
