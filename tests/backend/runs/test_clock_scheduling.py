"""The scheduler's due times, windows and leases follow the control plane's clock:
a test moves the clock, and the code under test sees the move."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from backend.clock import ManualClock
from backend.config import Settings
from backend.db import Database
from backend.models import CheckRun, Monitor
from backend.scheduler import CheckScheduler
from tests.factories import HOURLY_COST_MONITOR, Tenant, record, register_model
from tests.support.timeline import at, iso


def hourly_cost_monitor(client: TestClient, tenant: Tenant) -> dict:
    register_model(client, tenant)
    posted = client.post(
        "/v1/predictions",
        json={"records": [record(i) for i in range(600)]},  # one a minute for 10 hours
        headers=tenant.headers(),
    )
    assert posted.status_code == 200, posted.text
    created = client.post(
        "/v1/models/churn/versions/v1/monitors", json=HOURLY_COST_MONITOR, headers=tenant.headers()
    )
    assert created.status_code == 201, created.text
    return created.json()


def runs(database: Database, monitor_id: int) -> list[tuple[str, str, int]]:
    with database.transaction(read_only=True) as session:
        rows = session.scalars(
            select(CheckRun).where(CheckRun.monitor_id == monitor_id).order_by(CheckRun.id)
        ).all()
        return [(iso(r.window_start), iso(r.window_end), r.rows) for r in rows]


def next_run_at(database: Database, monitor_id: int) -> str | None:
    with database.transaction(read_only=True) as session:
        monitor = session.get(Monitor, monitor_id)
        assert monitor is not None
        return iso(monitor.next_run_at) if monitor.next_run_at else None


def test_due_times_and_windows_follow_the_clock(
    client: TestClient,
    tenant: Tenant,
    database: Database,
    settings: Settings,
    manual_clock: ManualClock,
) -> None:
    manual_clock.set(at(hours=3, minutes=10))
    monitor = hourly_cost_monitor(client, tenant)
    # Due at once, for the last complete hour.
    assert monitor["next_run_at"] in (iso(at(hours=3)), at(hours=3).isoformat())
    scheduler = CheckScheduler(settings, database)
    try:
        assert scheduler.tick() >= 1
        assert runs(database, monitor["id"]) == [(iso(at(hours=2)), iso(at(hours=3)), 60)]
        assert next_run_at(database, monitor["id"]) == iso(at(hours=4))
        scheduler.tick()  # nothing is due until the clock moves
        assert len(runs(database, monitor["id"])) == 1

        manual_clock.advance(timedelta(hours=1))
        scheduler.tick()
        assert runs(database, monitor["id"])[-1] == (iso(at(hours=3)), iso(at(hours=4)), 60)

        # A scheduler down for three hours runs the window that was due, then jumps to
        # the latest one: the hour between is coalesced (backfill exists for it).
        manual_clock.advance(timedelta(hours=3))
        scheduler.tick()
        assert [end for _, end, _ in runs(database, monitor["id"])] == [
            iso(at(hours=hour)) for hour in (3, 4, 5, 7)
        ]
        assert next_run_at(database, monitor["id"]) == iso(at(hours=8))
    finally:
        scheduler.client.close()


def test_a_lease_expires_by_the_clock(
    client: TestClient,
    tenant: Tenant,
    database: Database,
    settings: Settings,
    manual_clock: ManualClock,
) -> None:
    manual_clock.set(at(hours=3, minutes=10))
    monitor = hourly_cost_monitor(client, tenant)
    first, second = CheckScheduler(settings, database), CheckScheduler(settings, database)
    try:
        claimed = first.claim_due(limit=100)
        assert monitor["id"] in [m for m, _ in claimed]
        # The first scheduler "dies" holding the claim: until its lease expires,
        # nobody else takes the monitor.
        lease = timedelta(seconds=settings.checks.lease_seconds)
        manual_clock.advance(lease - timedelta(seconds=1))
        assert monitor["id"] not in [m for m, _ in second.claim_due(limit=100)]
        manual_clock.advance(timedelta(seconds=2))
        assert second.tick() >= 1
        assert runs(database, monitor["id"]) == [(iso(at(hours=2)), iso(at(hours=3)), 60)]
    finally:
        first.client.close()
        second.client.close()
