from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from backend import clock
from backend.api.actor import Actor
from backend.api.paging import next_cursor
from backend.config import Settings
from backend.db import Database
from backend.errors import Conflict, InvalidInput, NotFound
from backend.models import CheckRun, Monitor
from backend.monitors.schemas import BackfillRequest
from backend.monitors.specs import scheduled_times
from backend.runs import repository
from backend.runs.execute import execute
from backend.runs.schemas import (
    BackfillOutcome,
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
