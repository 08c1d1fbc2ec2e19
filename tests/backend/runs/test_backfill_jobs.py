"""A backfill is queued work: the request answers 202 with a job at once, a scheduler
runs the windows (``runs.backfill``), the job tells its progress, and a scheduler that
dies mid-job leaves the rest to another once its lease expires."""

from __future__ import annotations

import threading
from datetime import timedelta

from fastapi.testclient import TestClient

from backend.clock import ManualClock
from backend.config import Settings
from backend.db import Database
from backend.models import Job
from backend.runs import jobs
from tests.backend.runs.test_clock_scheduling import hourly_cost_monitor, runs
from tests.factories import Tenant
from tests.support.timeline import at, window


def job_row(database: Database, job_id: int) -> Job:
    with database.transaction(read_only=True) as session:
        found = session.get(Job, job_id)
        assert found is not None
        session.expunge(found)
        return found


def test_a_backfill_is_answered_at_once_and_done_by_a_scheduler(
    client: TestClient, tenant: Tenant, database: Database, settings: Settings
) -> None:
    monitor = hourly_cost_monitor(client, tenant)
    queued = client.post(
        f"/v1/monitors/{monitor['id']}/backfill",
        json=window(at(hours=1), at(hours=4)),
        headers=tenant.headers(),
    )
    assert queued.status_code == 202, queued.text
    job = queued.json()
    assert job["state"] == "queued"
    assert job["windows_done"] == 0
    assert len(job["windows"]) == 4
    assert runs(database, monitor["id"]) == []  # nothing ran in the request
    assert queued.headers["Location"] == f"/v1/jobs/{job['id']}"
    events = client.get(
        "/v1/audit", params={"action": "backfill.queue"}, headers=tenant.headers()
    ).json()["items"]
    assert events[0]["subject"] == f"monitor:{monitor['id']}/job:{job['id']}"
    jobs.backfill(database, settings, owner="s1", stopping=threading.Event())
    done = client.get(f"/v1/jobs/{job['id']}", headers=tenant.headers()).json()
    assert done["state"] == "done"
    assert done["windows_done"] == 4
    assert done["runs_created"] == 4
    assert len(done["run_ids"]) == 4
    assert done["finished_at"] is not None
    assert [rows for _, _, rows in runs(database, monitor["id"])] == [60, 60, 60, 60]


def test_a_dead_schedulers_job_resumes_where_it_stopped(
    client: TestClient,
    tenant: Tenant,
    database: Database,
    settings: Settings,
    manual_clock: ManualClock,
) -> None:
    manual_clock.set(at(hours=12))
    monitor = hourly_cost_monitor(client, tenant)
    job = client.post(
        f"/v1/monitors/{monitor['id']}/backfill",
        json=window(at(hours=1), at(hours=5)),
        headers=tenant.headers(),
    ).json()
    # Scheduler s1 claims every queued job, then runs two windows of ours and dies.
    while (claimed := jobs._claim_job(database, settings, "s1")) != job["id"]:
        assert claimed is not None
    stop_after_two = threading.Event()
    original = jobs.execute

    def execute_two(*args: object, **kwargs: object) -> object:
        if len(runs(database, monitor["id"])) == 2:
            stop_after_two.set()
        return original(*args, **kwargs)  # type: ignore[arg-type]

    jobs.execute = execute_two  # type: ignore[assignment]
    try:
        jobs._work(database, settings, job["id"], "s1", stop_after_two)
    finally:
        jobs.execute = original
    halfway = job_row(database, job["id"])
    assert halfway.state == "running"
    assert halfway.windows_done == 3
    # Until s1's lease expires, s2 leaves the job alone; then it runs the rest.
    lease = timedelta(seconds=settings.checks.lease_seconds)
    manual_clock.advance(lease - timedelta(seconds=1))
    jobs.backfill(database, settings, owner="s2", stopping=threading.Event())
    assert job_row(database, job["id"]).windows_done == 3
    manual_clock.advance(timedelta(seconds=2))
    jobs.backfill(database, settings, owner="s2", stopping=threading.Event())
    done = client.get(f"/v1/jobs/{job['id']}", headers=tenant.headers()).json()
    assert done["state"] == "done"
    assert done["windows_done"] == 5
    assert done["runs_created"] == 5
    assert len(runs(database, monitor["id"])) == 5  # no window ran twice


def test_another_projects_job_is_not_found(
    client: TestClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    monitor = hourly_cost_monitor(client, tenant)
    job = client.post(
        f"/v1/monitors/{monitor['id']}/backfill",
        json=window(at(hours=1), at(hours=2)),
        headers=tenant.headers(),
    ).json()
    answer = client.get(f"/v1/jobs/{job['id']}", headers=other_tenant.headers())
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/problem+json"
