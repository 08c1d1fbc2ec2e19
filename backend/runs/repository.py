"""Every SQL statement of the runs domain, but the window reads (``windows/``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from backend.models import CheckRun, Job, Model, ModelVersion, Monitor, Prediction


def first_prediction_at(session: Session, version_id: int) -> datetime | None:
    found: datetime | None = session.scalar(
        select(func.min(Prediction.occurred_at)).where(Prediction.model_version_id == version_id)
    )
    if found is not None and found.tzinfo is None:
        found = found.replace(tzinfo=UTC)
    return found


def version_named(session: Session, model_id: int, name: str) -> ModelVersion | None:
    return session.scalars(
        select(ModelVersion).where(ModelVersion.model_id == model_id, ModelVersion.version == name)
    ).one_or_none()


def model_task(session: Session, version: ModelVersion) -> str:
    task: str = session.execute(select(Model.task).where(Model.id == version.model_id)).scalar_one()
    return task


def has_scores(session: Session, version: ModelVersion, start: datetime, end: datetime) -> bool:
    """Whether any prediction of the window logged a score (one index range scan)."""
    found = session.execute(
        select(Prediction.id)
        .where(
            Prediction.model_version_id == version.id,
            Prediction.occurred_at >= start,
            Prediction.occurred_at < end,
            Prediction.score.is_not(None),
        )
        .limit(1)
    ).first()
    return found is not None


def run_for_window(session: Session, monitor_id: int, window_end: datetime) -> CheckRun | None:
    return session.scalars(
        select(CheckRun).where(CheckRun.monitor_id == monitor_id, CheckRun.window_end == window_end)
    ).one_or_none()


def estimate_for_window(
    session: Session, version_id: int, start: datetime, end: datetime
) -> CheckRun | None:
    """The newest completed estimated_performance run of the version over exactly
    this window."""
    return session.scalars(
        select(CheckRun)
        .where(
            CheckRun.model_version_id == version_id,
            CheckRun.detector_kind == "estimated_performance",
            CheckRun.window_start == start,
            CheckRun.window_end == end,
            CheckRun.status.in_(("ok", "warning", "alert")),
        )
        .order_by(CheckRun.id.desc())
        .limit(1)
    ).first()


def latest_nanny_run(
    session: Session, *, monitor_id: int, reference_sha256: str, detector_version: str
) -> CheckRun | None:
    """The monitor's newest completed run over the same reference rows that trained a
    nanny model (its digest is the run's artifact_sha256)."""
    return session.scalars(
        select(CheckRun)
        .where(
            CheckRun.monitor_id == monitor_id,
            CheckRun.status.in_(("ok", "warning", "alert")),
            CheckRun.reference_sha256 == reference_sha256,
            CheckRun.artifact_sha256.is_not(None),
            CheckRun.detector_version == detector_version,
        )
        .order_by(CheckRun.id.desc())
        .limit(1)
    ).first()


def latest_completed_run(
    session: Session,
    *,
    monitor_id: int,
    reference_sha256: str,
    artifact_sha256: str | None,
    detector_version: str,
) -> CheckRun | None:
    """The monitor's newest ok/warning/alert run over the same reference rows, artifact
    and detector version."""
    return session.scalars(
        select(CheckRun)
        .where(
            CheckRun.monitor_id == monitor_id,
            CheckRun.status.in_(("ok", "warning", "alert")),
            CheckRun.reference_sha256 == reference_sha256,
            CheckRun.artifact_sha256 == artifact_sha256,
            CheckRun.detector_version == detector_version,
        )
        .order_by(CheckRun.id.desc())
        .limit(1)
    ).one_or_none()


def runs_before(
    session: Session, *, monitor_id: int, before_id: int | None, limit: int
) -> Sequence[CheckRun]:
    """Up to ``limit`` runs of the monitor with ids below ``before_id``, newest first."""
    query = select(CheckRun).where(CheckRun.monitor_id == monitor_id)
    if before_id is not None:
        query = query.where(CheckRun.id < before_id)
    return session.scalars(query.order_by(CheckRun.id.desc()).limit(limit)).all()


def get_run(session: Session, *, project_id: int, run_id: int) -> CheckRun | None:
    return session.scalars(
        select(CheckRun).where(CheckRun.id == run_id, CheckRun.project_id == project_id)
    ).one_or_none()


def latest_runs(session: Session, monitor_ids: Sequence[int]) -> dict[int, CheckRun]:
    """The newest run of each monitor, by monitor id."""
    latest_ids = (
        select(func.max(CheckRun.id))
        .where(CheckRun.monitor_id.in_(monitor_ids))
        .group_by(CheckRun.monitor_id)
    )
    runs = session.scalars(select(CheckRun).where(CheckRun.id.in_(latest_ids)))
    return {run.monitor_id: run for run in runs}


def prediction_with_version(
    session: Session, *, project_id: int, event_id: str
) -> tuple[Prediction, ModelVersion, Model] | None:
    row = session.execute(
        select(Prediction, ModelVersion, Model)
        .join(ModelVersion, ModelVersion.id == Prediction.model_version_id)
        .join(Model, Model.id == ModelVersion.model_id)
        .where(Prediction.project_id == project_id, Prediction.event_id == event_id)
    ).one_or_none()
    return None if row is None else (row[0], row[1], row[2])


def due_monitors(
    session: Session,
    *,
    now: datetime,
    limit: int,
    kinds: Sequence[str] | None,
    skip_locked: bool,
) -> Sequence[Monitor]:
    """Enabled monitors due by ``now`` whose lease (if any) has expired, soonest first;
    with ``skip_locked`` (PostgreSQL), rows another scheduler is claiming are passed
    over."""
    query = (
        select(Monitor)
        .where(
            Monitor.enabled.is_(True),
            Monitor.next_run_at.is_not(None),
            Monitor.next_run_at <= now,
            or_(Monitor.lease_expires_at.is_(None), Monitor.lease_expires_at < now),
        )
        .order_by(Monitor.next_run_at, Monitor.id)
        .limit(limit)
    )
    if kinds is not None:
        query = query.where(Monitor.kind.in_(kinds))
    if skip_locked:
        query = query.with_for_update(skip_locked=True)
    return session.scalars(query).all()


def claimable_jobs(
    session: Session, *, now: datetime, limit: int, skip_locked: bool
) -> Sequence[Job]:
    """Queued jobs, and running ones whose scheduler's lease has expired, oldest first."""
    query = (
        select(Job)
        .where(
            Job.state.in_(("queued", "running")),
            or_(Job.lease_expires_at.is_(None), Job.lease_expires_at < now),
        )
        .order_by(Job.created_at, Job.id)
        .limit(limit)
    )
    if skip_locked:
        query = query.with_for_update(skip_locked=True)
    return session.scalars(query).all()


def get_job(session: Session, *, project_id: int, job_id: int) -> Job | None:
    return session.scalars(
        select(Job).where(Job.id == job_id, Job.project_id == project_id)
    ).one_or_none()


def lock_job(session: Session, job_id: int) -> Job | None:
    return session.scalars(select(Job).where(Job.id == job_id).with_for_update()).one_or_none()


def job(session: Session, job_id: int) -> Job | None:
    return session.get(Job, job_id)


def review_decisions(
    session: Session, version_id: int, start: datetime, end: datetime
) -> list[tuple[str, str, str]]:
    """Review decisions made in [start, end): event id, decision, segment."""
    from backend.models import ReviewItem

    rows = session.execute(
        select(ReviewItem.event_id, ReviewItem.decision, ReviewItem.segment)
        .where(
            ReviewItem.model_version_id == version_id,
            ReviewItem.state == "decided",
            ReviewItem.decided_at >= start,
            ReviewItem.decided_at < end,
        )
        .order_by(ReviewItem.id)
    ).all()
    return [(str(e), str(d), str(s or "")) for e, d, s in rows]
