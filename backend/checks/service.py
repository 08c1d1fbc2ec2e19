from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend import clock
from backend.alerts import service as alerts_service
from backend.auth.actor import Actor
from backend.catalog import service as catalog_service
from backend.checks.runner import execute
from backend.checks.schemas import (
    BackfillOutcome,
    CheckRunPage,
    CheckRunRead,
    CheckRunSummary,
    ModelStatus,
    MonitorStatus,
    RunOutcome,
)
from backend.config import Settings
from backend.db import Database
from backend.errors import Conflict, InvalidInput, NotFound
from backend.models import Alert, CheckRun, ModelVersion, Monitor
from backend.monitors.schemas import BackfillRequest
from backend.monitors.specs import scheduled_times


def run_now(
    database: Database, settings: Settings, monitor_id: int, end: datetime | None
) -> RunOutcome:
    run, created = execute(database, settings, monitor_id, end or clock.now(), trigger="manual")
    if run is None:
        raise Conflict("the run could not be stored; try again")
    return RunOutcome(created=created, run=CheckRunRead.model_validate(run))


def backfill_ends(monitor: Monitor, spec: BackfillRequest, settings: Settings) -> list[datetime]:
    if monitor.window_seconds is None:
        raise InvalidInput("a fixed-window monitor has one window; run it instead of a backfill")
    if spec.end > clock.now():
        raise InvalidInput(
            "a backfill ends in the past", errors=[{"field": "end", "message": "in the future"}]
        )
    limit = settings.checks.max_backfill_windows
    ends = scheduled_times(monitor.schedule_seconds, monitor.cron, spec.start, spec.end, limit)
    if len(ends) > limit:
        raise InvalidInput(
            f"the range holds more than {limit} scheduled windows; split it",
            errors=[{"field": "start", "message": "range too long"}],
        )
    return ends


def backfill(
    database: Database, settings: Settings, monitor_id: int, ends: list[datetime]
) -> BackfillOutcome:
    runs = []
    created = 0
    for end in ends:
        run, was_created = execute(database, settings, monitor_id, end, trigger="backfill")
        if run is not None:
            runs.append(CheckRunSummary.model_validate(run))
            created += was_created
    return BackfillOutcome(
        windows=len(ends), created=created, existing=len(runs) - created, runs=runs
    )


def list_runs(
    session: Session, monitor_id: int, *, before_id: int | None, limit: int
) -> CheckRunPage:
    query = select(CheckRun).where(CheckRun.monitor_id == monitor_id)
    if before_id is not None:
        query = query.where(CheckRun.id < before_id)
    rows = session.scalars(query.order_by(CheckRun.id.desc()).limit(limit + 1)).all()
    items = [CheckRunSummary.model_validate(r) for r in rows[:limit]]
    return CheckRunPage(items=items, next_before_id=items[-1].id if len(rows) > limit else None)


def get_run(session: Session, *, actor: Actor, run_id: int) -> CheckRun:
    run = session.scalars(
        select(CheckRun).where(CheckRun.id == run_id, CheckRun.project_id == actor.project_id)
    ).one_or_none()
    if run is None:
        raise NotFound(f"no check run {run_id}")
    return run


def model_status(session: Session, *, actor: Actor, model_name: str) -> ModelStatus:
    model = catalog_service.get_model(session, actor=actor, name=model_name)
    rows = session.execute(
        select(Monitor, ModelVersion.version)
        .join(ModelVersion, ModelVersion.id == Monitor.model_version_id)
        .where(ModelVersion.model_id == model.id)
        .order_by(ModelVersion.id, Monitor.id)
    ).all()
    monitor_ids = [m.id for m, _ in rows]
    latest_ids = (
        select(func.max(CheckRun.id))
        .where(CheckRun.monitor_id.in_(monitor_ids))
        .group_by(CheckRun.monitor_id)
    )
    latest = {
        r.monitor_id: r
        for r in session.scalars(select(CheckRun).where(CheckRun.id.in_(latest_ids)))
    }
    open_counts: dict[int, int] = dict(
        session.execute(  # type: ignore[arg-type]
            select(Alert.monitor_id, func.count())
            .where(Alert.monitor_id.in_(monitor_ids), Alert.state != "resolved")
            .group_by(Alert.monitor_id)
        ).all()
    )
    monitors = [
        MonitorStatus(
            id=m.id,
            name=m.name,
            kind=m.kind,
            version=version,
            enabled=m.enabled,
            next_run_at=m.next_run_at,
            latest_run=CheckRunSummary.model_validate(latest[m.id]) if m.id in latest else None,
            open_alerts=int(open_counts.get(m.id, 0)),
        )
        for m, version in rows
    ]
    alerts = session.scalars(
        select(Alert)
        .where(Alert.monitor_id.in_(monitor_ids), Alert.state != "resolved")
        .order_by(Alert.id.desc())
    ).all()
    return ModelStatus(
        model=model.name,
        monitors=monitors,
        open_alerts=[alerts_service.to_read(session, a) for a in alerts],
    )
