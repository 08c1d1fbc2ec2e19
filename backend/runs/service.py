from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from backend import clock
from backend.api.actor import Actor
from backend.api.paging import next_cursor
from backend.audit import service as audit_service
from backend.config import Settings
from backend.db import Database
from backend.errors import Conflict, InvalidInput, NotFound
from backend.models import CheckRun, Job, Monitor
from backend.monitors.schemas import BackfillRequest
from backend.monitors.specs import scheduled_times
from backend.runs import repository
from backend.runs.execute import execute
from backend.runs.schemas import (
    CheckRunPage,
    CheckRunRead,
    CheckRunSummary,
    RunOutcome,
)


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


def queue_backfill(
    session: Session, *, actor: Actor, monitor: Monitor, ends: list[datetime]
) -> Job:
    """A backfill of the windows ending at ``ends``, queued for a scheduler
    (``runs.backfill``); audited with the request."""
    job = Job(
        project_id=monitor.project_id,
        kind="backfill",
        monitor_id=monitor.id,
        state="queued",
        windows=[end.isoformat() for end in ends],
        windows_done=0,
        runs_created=0,
        runs_existing=0,
        run_ids=[],
        errors=[],
        requested_by=actor.label,
    )
    session.add(job)
    session.flush()
    audit_service.record(
        session,
        actor,
        "backfill.queue",
        f"monitor:{monitor.id}/job:{job.id}",
        {
            "job_id": job.id,
            "windows": len(ends),
            "first_window_end": job.windows[0] if ends else None,
            "last_window_end": job.windows[-1] if ends else None,
        },
    )
    return job


def get_job(session: Session, *, actor: Actor, job_id: int) -> Job:
    job = repository.get_job(session, project_id=actor.project_id, job_id=job_id)
    if job is None:
        raise NotFound(f"no job {job_id}")
    return job


def list_runs(
    session: Session, monitor_id: int, *, before_id: int | None, limit: int
) -> CheckRunPage:
    rows = repository.runs_before(
        session, monitor_id=monitor_id, before_id=before_id, limit=limit + 1
    )
    items = [CheckRunSummary.model_validate(r) for r in rows[:limit]]
    more = len(rows) > limit
    return CheckRunPage(
        items=items,
        next_cursor=next_cursor("runs", [r.id for r in items], more),
        next_before_id=items[-1].id if more else None,
    )


def get_run(session: Session, *, actor: Actor, run_id: int) -> CheckRun:
    run = repository.get_run(session, project_id=actor.project_id, run_id=run_id)
    if run is None:
        raise NotFound(f"no check run {run_id}")
    return run
