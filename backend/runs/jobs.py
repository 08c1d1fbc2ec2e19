"""``runs.tick``: claim the monitors that are due and run each, one claim at a time.

Several schedulers may run against one PostgreSQL database: a due monitor is claimed
with ``SELECT … FOR UPDATE SKIP LOCKED`` and a lease, so each run happens once (and
unique ``(monitor_id, window_end)`` backs that up). On SQLite, claims serialize on
the database's single writer. A scheduler killed mid-run leaves nothing half-written
(a run is stored in one transaction) and its lease expires, so another retries it.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

from backend import clock, metrics
from backend.config import Settings
from backend.db import Database, is_sqlite
from backend.runs import repository
from backend.runs.execute import execute

logger = logging.getLogger(__name__)


def claim_due(
    database: Database, settings: Settings, *, owner: str, limit: int = 1
) -> list[tuple[int, datetime]]:
    """Leases up to ``limit`` due monitors to ``owner``: (monitor id, due time)."""
    with database.transaction() as session:
        now = clock.now()
        due = repository.due_monitors(
            session,
            now=now,
            limit=limit,
            kinds=settings.checks.claimed_kinds,
            skip_locked=not is_sqlite(database.engine),
        )
        claimed = []
        for monitor in due:
            monitor.lease_owner = owner
            monitor.lease_expires_at = now + timedelta(seconds=settings.checks.lease_seconds)
            assert monitor.next_run_at is not None
            claimed.append((monitor.id, monitor.next_run_at))
        return claimed


def tick(database: Database, settings: Settings, *, owner: str, stopping: threading.Event) -> int:
    """Run every due check, one claim at a time, until none is due or ``stopping``
    is set; the number run."""
    count = 0
    while not stopping.is_set():
        claimed = claim_due(database, settings, owner=owner)
        if not claimed:
            return count
        for monitor_id, due in claimed:
            try:
                execute(database, settings, monitor_id, due, trigger="schedule", lease_owner=owner)
                count += 1
            except Exception:  # a store failure: the lease expires and it is retried
                metrics.check_store_failures.inc()
                logger.exception("check run of monitor %s failed to store", monitor_id)
    return count


def backfill(
    database: Database, settings: Settings, *, owner: str, stopping: threading.Event
) -> int:
    """``runs.backfill``: work through queued backfills, one window per transaction,
    progress stored after each, the lease renewed as it goes; the windows run."""
    count = 0
    while not stopping.is_set():
        job_id = _claim_job(database, settings, owner)
        if job_id is None:
            return count
        count += _work(database, settings, job_id, owner, stopping)
    return count


def _claim_job(database: Database, settings: Settings, owner: str) -> int | None:
    with database.transaction() as session:
        now = clock.now()
        found = repository.claimable_jobs(
            session, now=now, limit=1, skip_locked=not is_sqlite(database.engine)
        )
        if not found:
            return None
        job = found[0]
        job.state = "running"
        job.started_at = job.started_at or now
        job.lease_owner = owner
        job.lease_expires_at = now + timedelta(seconds=settings.checks.lease_seconds)
        return job.id


def _work(
    database: Database, settings: Settings, job_id: int, owner: str, stopping: threading.Event
) -> int:
    with database.transaction(read_only=True) as session:
        job = repository.job(session, job_id)
        assert job is not None
        monitor_id, windows, start = job.monitor_id, list(job.windows), job.windows_done
    ran = 0
    for index in range(start, len(windows)):
        if stopping.is_set():
            return ran  # the lease expires and a scheduler resumes at this window
        end = datetime.fromisoformat(windows[index])
        error = None
        try:
            run, created = execute(database, settings, monitor_id, end, trigger="backfill")
        except Exception as exc:  # stored on the job; the next window still runs
            logger.exception("backfill window %s of job %s failed", end, job_id)
            run, created, error = None, False, f"{type(exc).__name__}: {exc}"
        ran += 1
        with database.transaction() as session:
            job = repository.lock_job(session, job_id)
            assert job is not None
            if job.lease_owner != owner:
                return ran  # the lease expired and another scheduler took the job
            job.windows_done = index + 1
            if run is not None:
                job.run_ids = [*job.run_ids, run.id]
                job.runs_created += int(created)
                job.runs_existing += int(not created)
            else:
                problem = error or "the run could not be stored"
                job.errors = [*job.errors, {"window_end": windows[index], "error": problem}]
            now = clock.now()
            job.lease_expires_at = now + timedelta(seconds=settings.checks.lease_seconds)
            if job.windows_done == len(windows):
                job.state = "done"
                job.finished_at = now
                job.lease_owner = job.lease_expires_at = None
    if start == len(windows):
        with database.transaction() as session:
            job = repository.lock_job(session, job_id)
            assert job is not None
            job.state, job.finished_at = "done", clock.now()
            job.lease_owner = job.lease_expires_at = None
    return ran
