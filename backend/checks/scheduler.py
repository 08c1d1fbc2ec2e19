"""``verity scheduler``: one APScheduler process whose tick job finds due monitors in
SQL and runs each, and whose notify job delivers queued alert notifications.

Several schedulers may run against one PostgreSQL database: a due monitor is claimed
with ``SELECT … FOR UPDATE SKIP LOCKED`` and a lease, so each run happens once (and
unique ``(monitor_id, window_end)`` backs that up). On SQLite, claims serialize on
the database's single writer. A scheduler killed mid-run leaves nothing half-written
(a run is stored in one transaction) and its lease expires, so another retries it.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import uuid
from datetime import datetime, timedelta

import httpx
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.blocking import BlockingScheduler
from prometheus_client import start_http_server
from sqlalchemy import or_, select

from backend import clock, metrics
from backend.checks.runner import execute
from backend.config import Settings
from backend.db import Database, get_database, is_sqlite
from backend.models import Monitor
from backend.notifications.delivery import deliver_due
from backend.notifications.witness import checkpoint_and_publish
from backend.retention.service import run_retention
from backend.runtime import tune_allocator

logger = logging.getLogger(__name__)


class CheckScheduler:
    def __init__(self, settings: Settings, database: Database | None = None) -> None:
        self.settings = settings
        self.database = database or get_database(settings)
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.client = httpx.Client()
        self.stopping = threading.Event()
        self.apscheduler: BlockingScheduler | None = None

    def claim_due(self, limit: int = 1) -> list[tuple[int, datetime]]:
        with self.database.transaction() as session:
            now = clock.now()
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
            kinds = self.settings.checks.claimed_kinds
            if kinds is not None:
                query = query.where(Monitor.kind.in_(kinds))
            if not is_sqlite(self.database.engine):
                query = query.with_for_update(skip_locked=True)
            claimed = []
            for monitor in session.scalars(query).all():
                monitor.lease_owner = self.owner
                monitor.lease_expires_at = now + timedelta(
                    seconds=self.settings.checks.lease_seconds
                )
                assert monitor.next_run_at is not None
                claimed.append((monitor.id, monitor.next_run_at))
            return claimed

    def tick(self) -> int:
        """Run every due check, one claim at a time; the number run."""
        count = 0
        while not self.stopping.is_set():
            claimed = self.claim_due()
            if not claimed:
                return count
            for monitor_id, due in claimed:
                try:
                    execute(
                        self.database,
                        self.settings,
                        monitor_id,
                        due,
                        trigger="schedule",
                        lease_owner=self.owner,
                    )
                    count += 1
                except Exception:  # a store failure: the lease expires and it is retried
                    metrics.check_store_failures.inc()
                    logger.exception("check run of monitor %s failed to store", monitor_id)
        return count

    def notify(self) -> dict[str, int]:
        return deliver_due(self.database, self.settings.notify, self.client)

    def run_once(self) -> tuple[int, dict[str, int]]:
        return self.tick(), self.notify()

    def retention(self) -> dict[str, int]:
        return run_retention(self.database, self.settings.retention).totals()

    def checkpoint(self) -> int:
        return checkpoint_and_publish(self.database, self.settings)

    def stop(self, *_: object) -> None:
        """Stop claiming (SIGTERM, SIGINT): the run in progress is stored, then the
        process exits. A claimed monitor not yet started keeps its lease until it
        expires, as after a crash."""
        logger.info("scheduler %s stopping after the runs in progress", self.owner)
        self.stopping.set()
        if self.apscheduler is not None and self.apscheduler.running:
            # From the signal handler: wake the blocking start(); jobs are waited for
            # in run_forever, outside the handler.
            self.apscheduler.shutdown(wait=False)

    def run_forever(self) -> None:
        tune_allocator()
        # Held here so that after a signal's shutdown(wait=False) its jobs are waited for.
        executor = ThreadPoolExecutor(max_workers=4)
        scheduler = self.apscheduler = BlockingScheduler(
            timezone="UTC", executors={"default": executor}
        )
        every = self.settings.checks.tick_seconds
        # APScheduler's own timer decides when to wake; it compares against the wall
        # clock, so this is a wake-up time, not a business time. What each job
        # considers "now" comes from backend.clock.
        now = datetime.now().astimezone()
        jobs = (
            (self.tick, every),
            (self.notify, every),
            (self.retention, self.settings.retention.interval_seconds),
            (self.checkpoint, self.settings.audit.checkpoint_interval_seconds),
        )
        for job, seconds in jobs:
            scheduler.add_job(
                job,
                "interval",
                seconds=seconds,
                coalesce=True,
                max_instances=1,
                next_run_time=now,
                id=job.__name__,
            )
        if self.settings.checks.metrics_port:
            start_http_server(self.settings.checks.metrics_port, registry=metrics.registry)
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self.stop)
        logger.info("scheduler %s ticking every %ss", self.owner, every)
        try:
            scheduler.start()
        finally:
            # shutdown(wait=False) left the executor's threads running their jobs.
            executor.shutdown(wait=True)
            self.client.close()
            logger.info("scheduler %s stopped", self.owner)
