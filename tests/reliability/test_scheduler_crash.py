"""A scheduler killed (SIGKILL) mid-run, again and again: a run is stored whole or
not at all, its lease expires and another scheduler retries it, and no window ever
gets two runs. A SIGTERM'd scheduler finishes the run in progress and exits."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from backend.audit import service as audit_service
from backend.audit.keys import trusted_public_keys
from backend.config import Settings
from backend.db import Database
from backend.models import AuditEvent, CheckRun, Monitor
from tests.factories import Tenant, record, register_model
from tests.support.timeline import at, window

pytestmark = pytest.mark.slow  # minutes, not seconds: -m 'not slow' leaves it out

MONITORS = 30
LEASE_SECONDS = 10


def create_monitors(client: TestClient, tenant: Tenant) -> list[int]:
    register_model(client, tenant)
    for start in range(0, 3_000, 1_000):
        response = client.post(
            "/v1/predictions",
            json={"records": [record(i) for i in range(start, start + 1_000)]},
            headers=tenant.headers(),
        )
        assert response.status_code == 200, response.text
    ids = []
    for i in range(MONITORS):
        created = client.post(
            "/v1/models/churn/versions/v1/monitors",
            json={
                "name": f"drift-{i}",
                "kind": "drift",
                "window": {"duration": "30d"},
                "reference": {"kind": "window", **window(at(0), at(hours=12))},
                "schedule": {"every": "1h"},
            },
            headers=tenant.headers(),
        )
        assert created.status_code == 201, created.text
        ids.append(created.json()["id"])
    return ids


def start_scheduler(database: Database, settings: Settings) -> subprocess.Popen[Any]:
    env = {
        **os.environ,
        "VERITY_DATABASE_URL": database.url,
        "VERITY_SECRET_KEY": settings.secret_key,
        "VERITY_ARTIFACT_DIR": str(settings.resolved_artifact_dir),
        # The API's data dir: the key that signs the scheduler's audit checkpoints.
        "VERITY_DATA_DIR": str(settings.data_dir),
        "VERITY_CHECKS__LEASE_SECONDS": str(LEASE_SECONDS),
        "VERITY_CHECKS__TICK_SECONDS": "0.5",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "backend.cli", "scheduler"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def snapshot(database: Database, ids: list[int]) -> tuple[dict[int, int], int, int]:
    """(runs per monitor, audit events recording our runs, monitors leased now)."""
    with database.transaction(read_only=True) as session:
        rows = session.execute(
            select(CheckRun.monitor_id, func.count())
            .where(CheckRun.monitor_id.in_(ids))
            .group_by(CheckRun.monitor_id)
        ).tuples()
        runs: dict[int, int] = dict(rows.all())
        recorded = session.scalar(
            select(func.count()).where(
                AuditEvent.action == "check_run.record",
                AuditEvent.subject.in_(
                    [f"monitor:{m}/check_run:{r}" for m, r in _run_ids(session, ids)]
                ),
            )
        )
        leased = session.scalar(
            select(func.count()).where(Monitor.id.in_(ids), Monitor.lease_owner.is_not(None))
        )
    return runs, int(recorded or 0), int(leased or 0)


def _run_ids(session: Any, ids: list[int]) -> list[tuple[int, int]]:
    return list(
        session.execute(
            select(CheckRun.monitor_id, CheckRun.id).where(CheckRun.monitor_id.in_(ids))
        )
    )


def test_killed_schedulers_leave_no_half_written_or_duplicate_runs(
    client: TestClient, tenant: Tenant, database: Database, settings: Settings
) -> None:
    ids = create_monitors(client, tenant)
    rng = random.Random(7)
    orphaned_leases = 0
    kills = 0
    for _ in range(12):
        runs, _, _ = snapshot(database, ids)
        if sum(runs.values()) >= MONITORS - 3:
            break
        scheduler = start_scheduler(database, settings)
        try:
            # Kill only once it is working: after its first new run is stored.
            deadline = time.monotonic() + 60
            while sum(snapshot(database, ids)[0].values()) == sum(runs.values()):
                assert time.monotonic() < deadline, "the scheduler stored nothing"
                assert scheduler.poll() is None, scheduler.stderr.read() if scheduler.stderr else ""
                time.sleep(0.05)
            time.sleep(rng.uniform(0.0, 0.6))
        finally:
            scheduler.kill()
            scheduler.wait()
        kills += 1
        runs, recorded, leased = snapshot(database, ids)
        # Stored whole or not at all: every run has its audit event, no window twice.
        assert all(count == 1 for count in runs.values()), runs
        assert recorded == sum(runs.values())
        orphaned_leases += leased
    assert kills >= 2
    assert orphaned_leases > 0, "no kill landed while a run was claimed"
    # A last scheduler runs the rest, the killed ones' claims included once their
    # leases expire.
    scheduler = start_scheduler(database, settings)
    try:
        deadline = time.monotonic() + LEASE_SECONDS + 120
        while len(snapshot(database, ids)[0]) < MONITORS:
            assert time.monotonic() < deadline, snapshot(database, ids)
            time.sleep(0.2)
    finally:
        scheduler.send_signal(signal.SIGTERM)
        assert scheduler.wait(timeout=60) == 0
    runs, recorded, leased = snapshot(database, ids)
    assert runs == dict.fromkeys(ids, 1)
    assert recorded == MONITORS
    with database.transaction(read_only=True) as session:
        verified = audit_service.verify(
            session, project_id=tenant.project_id, trusted_keys=trusted_public_keys(settings)
        )
        assert verified.ok, verified
        statuses = set(session.scalars(select(CheckRun.status).where(CheckRun.monitor_id.in_(ids))))
    assert statuses <= {"ok", "warning", "alert"}, statuses
