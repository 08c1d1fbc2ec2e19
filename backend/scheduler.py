"""``verity scheduler``: one APScheduler process that only lists jobs; each domain's
``jobs.py`` owns its work (``runs.tick``, ``runs.backfill``, ``notifications.deliver``,
``notifications.checkpoint``, ``retention.purge``)."""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import uuid
from collections.abc import Callable
from datetime import datetime

import httpx
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.blocking import BlockingScheduler
from prometheus_client import start_http_server

from backend import metrics
from backend.config import Settings
from backend.db import Database, get_database
from backend.hooks import install as install_hooks
from backend.notifications import jobs as notifications_jobs
from backend.oversight import jobs as oversight_jobs
from backend.retention import jobs as retention_jobs
from backend.runs import jobs as runs_jobs
from backend.runtime import tune_allocator

logger = logging.getLogger(__name__)


class CheckScheduler:
    def __init__(self, settings: Settings, database: Database | None = None) -> None:
        install_hooks()
        self.settings = settings
        self.database = database or get_database(settings)
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.client = httpx.Client()
        self.stopping = threading.Event()
        self.apscheduler: BlockingScheduler | None = None

    def claim_due(self, limit: int = 1) -> list[tuple[int, datetime]]:
        return runs_jobs.claim_due(self.database, self.settings, owner=self.owner, limit=limit)

    def tick(self) -> int:
        return runs_jobs.tick(
            self.database, self.settings, owner=self.owner, stopping=self.stopping
        )

    def backfill(self) -> int:
        return runs_jobs.backfill(
            self.database, self.settings, owner=self.owner, stopping=self.stopping
        )

    def notify(self) -> dict[str, int]:
        return notifications_jobs.deliver(self.database, self.settings, self.client)

    def run_once(self) -> tuple[int, dict[str, int]]:
        """Due checks and queued backfills (their runs counted together), then the
        notifications they queued."""
        runs = self.tick() + self.backfill()
        return runs, self.notify()

    def retention(self) -> dict[str, int]:
        return retention_jobs.purge(self.database, self.settings)

    def checkpoint(self) -> int:
        return notifications_jobs.checkpoint(self.database, self.settings)

    def deadlines(self) -> int:
        return oversight_jobs.deadlines(self.database)

    def jobs(self) -> list[tuple[str, Callable[[], object], float]]:
        """Every scheduled job, in one place: its id (``<domain>.<verb>``), the work,
        and its interval in seconds."""
        every = self.settings.checks.tick_seconds
        return [
            ("runs.tick", self.tick, every),
            ("runs.backfill", self.backfill, every),
            ("notifications.deliver", self.notify, every),
            ("retention.purge", self.retention, self.settings.retention.interval_seconds),
            ("oversight.deadlines", self.deadlines, 300.0),
            (
                "notifications.checkpoint",
                self.checkpoint,
                self.settings.audit.checkpoint_interval_seconds,
            ),
        ]

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
        for job_id, job, seconds in self.jobs():
            scheduler.add_job(
                job,
                "interval",
                seconds=seconds,
                coalesce=True,
                max_instances=1,
                next_run_time=now,
                id=job_id,
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
