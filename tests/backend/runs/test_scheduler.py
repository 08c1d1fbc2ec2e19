"""Two scheduler processes at once run each due check exactly once."""

import os
import re
import subprocess
import sys

from sqlalchemy import func, select, update

from backend.models import CheckRun, Monitor
from backend.scheduler import CheckScheduler
from tests.factories import record, register_model

MONITORS = 12


def test_two_schedulers_run_each_check_once(client, tenant, database, settings):
    register_model(client, tenant)
    client.post(
        "/v1/predictions",
        json={"records": [record(i) for i in range(200)]},
        headers=tenant.headers(),
    )
    ids = []
    for i in range(MONITORS):
        created = client.post(
            "/v1/models/churn/versions/v1/monitors",
            json={
                "name": f"cost-{i}",
                "kind": "cost",
                "params": {"price_per_1k_predictions": 1.0},
                "window": {"duration": "30d"},
                "schedule": {"every": "1h"},
            },
            headers=tenant.headers(),
        )
        ids.append(created.json()["id"])
    env = {
        **os.environ,
        "VERITY_DATABASE_URL": database.url,
        "VERITY_SECRET_KEY": settings.secret_key,
        "VERITY_ARTIFACT_DIR": str(settings.resolved_artifact_dir),
    }
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "backend.cli", "scheduler", "--once"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120)[0] for p in processes]
    assert all(p.returncode == 0 for p in processes), outputs
    found = [re.search(r"ran (\d+) checks", out) for out in outputs]
    ran = [int(match.group(1)) for match in found if match is not None]
    assert len(ran) == 2, outputs
    with database.transaction(read_only=True) as session:
        per_monitor = dict(
            session.execute(
                select(CheckRun.monitor_id, func.count())
                .where(CheckRun.monitor_id.in_(ids))
                .group_by(CheckRun.monitor_id)
            ).all()
        )
    assert per_monitor == dict.fromkeys(ids, 1)
    # Other tests' monitors may be due too; ours were each run by exactly one process.
    assert sum(ran) >= MONITORS


def test_a_scheduler_claims_only_its_kinds(client, tenant, database, settings):
    """GPU nodes take explain monitors, CPU nodes the rest (VERITY_CHECKS__KINDS)."""
    register_model(client, tenant)
    ids = {}
    for kind, params in (("cost", {"price_per_1k_predictions": 1.0}), ("drift", {})):
        created = client.post(
            "/v1/models/churn/versions/v1/monitors",
            json={
                "name": kind,
                "kind": kind,
                "params": params,
                "window": {"duration": "30d"},
                "schedule": {"every": "1h"},
            },
            headers=tenant.headers(),
        )
        assert created.status_code == 201, created.text
        ids[kind] = created.json()["id"]
    cpu = settings.model_copy(
        update={"checks": settings.checks.model_copy(update={"kinds": "cost,bias"})}
    )
    scheduler = CheckScheduler(cpu, database)
    claimed = []
    try:
        while batch := scheduler.claim_due(limit=100):
            claimed += [monitor_id for monitor_id, _ in batch]
        with database.transaction(read_only=True) as session:
            kinds = set(session.scalars(select(Monitor.kind).where(Monitor.id.in_(claimed))))
        assert ids["cost"] in claimed and ids["drift"] not in claimed
        assert kinds <= {"cost", "bias"}
    finally:
        # Hand every claim back, as an expired lease would.
        with database.transaction() as session:
            session.execute(
                update(Monitor)
                .where(Monitor.id.in_(claimed))
                .values(lease_owner=None, lease_expires_at=None)
            )
