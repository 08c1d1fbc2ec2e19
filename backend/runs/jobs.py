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
