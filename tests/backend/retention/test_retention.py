"""The retention job deletes old payloads (predictions with their labels, orphaned
labels, CloudEvents halves, audit payloads, idempotency replies), keeps what a
monitor still needs, audits what it removed, and never breaks the audit chain."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import ColumnElement, func, select
from typer.testing import CliRunner

from backend import clock
from backend.audit import service as audit_service
from backend.cli import app as cli
from backend.config import RetentionSettings, Settings, get_settings
from backend.db import Database
from backend.models import AuditEvent, AuditPayload, IdempotencyRecord, Label, Prediction
from backend.retention.service import run_retention
from tests.factories import Tenant, record, register_model

NOW = clock.now()
OLD = NOW - timedelta(days=200)  # far past any 30-day cut-off
RECENT = NOW - timedelta(days=2)


def at(start: datetime, i: int) -> str:
    return (start + timedelta(minutes=i)).isoformat()


def ingest(client: TestClient, tenant: Tenant) -> None:
    old = [record(i, event_id=f"old-{i}", occurred_at=at(OLD, i)) for i in range(300)]
    new = [record(i, event_id=f"new-{i}", occurred_at=at(RECENT, i)) for i in range(100)]
    answer = client.post(
        "/v1/predictions",
        json={"records": old + new},
        headers={**tenant.headers(), "Idempotency-Key": "batch-1"},
    )
    assert answer.status_code == 200, answer.text
    labels = [{"event_id": f"old-{i}", "label": i % 2} for i in range(0, 300, 3)]
    labels += [{"event_id": f"new-{i}", "label": 1} for i in range(10)]
    labels += [{"event_id": "never-predicted", "label": 0}]
    answer = client.post("/v1/labels", json={"labels": labels}, headers=tenant.headers())
    assert answer.status_code == 200, answer.text


def rows(database: Database, model: Any, tenant: Tenant, *where: ColumnElement[bool]) -> int:
    with database.session() as session:
        count = session.scalar(
            select(func.count())
            .select_from(model)
            .where(model.project_id == tenant.project_id, *where)
        )
    return int(count or 0)


def test_old_predictions_go_a_monitors_reference_window_stays(
    client: TestClient, tenant: Tenant, database: Database
) -> None:
    register_model(client, tenant)
    ingest(client, tenant)
    # Minutes 0-59 of the old data are this monitor's reference: kept.
    monitor = client.post(
        "/v1/models/churn/versions/v1/monitors",
        json={
            "name": "drift",
            "kind": "drift",
            "window": {"duration": "7d"},
            "reference": {"kind": "window", "start": at(OLD, 0), "end": at(OLD, 59)},
            "schedule": {"every": "1d"},
        },
        headers=tenant.headers(),
    )
    assert monitor.status_code == 201, monitor.text
    settings = RetentionSettings(prediction_days=30, batch_rows=64)  # several batches
    purge = run_retention(database, settings, now=NOW, projects=[tenant.project_id])

    assert purge.by_project[tenant.project_id] == {"prediction": 240, "label": 80}
    with database.session() as session:
        kept = set(
            session.scalars(
                select(Prediction.event_id).where(Prediction.project_id == tenant.project_id)
            )
        )
        labels = set(
            session.scalars(select(Label.event_id).where(Label.project_id == tenant.project_id))
        )
    assert kept == {f"old-{i}" for i in range(60)} | {f"new-{i}" for i in range(100)}
    # Labels go with their predictions; a recent label with no prediction waits.
    assert labels == (
        {f"old-{i}" for i in range(0, 60, 3)}
        | {f"new-{i}" for i in range(10)}
        | {"never-predicted"}
    )
    with database.transaction(read_only=True) as session:
        event = session.scalars(
            select(AuditEvent).where(
                AuditEvent.project_id == tenant.project_id, AuditEvent.action == "retention.run"
            )
        ).one()
        payload = json.loads(session.get(AuditPayload, event.id).body)  # type: ignore[union-attr]
        assert payload["deleted"] == {"label": 80, "prediction": 240}
        assert payload["predictions_before"] == (NOW - timedelta(days=30)).isoformat()
        assert event.actor == "verity:retention"
        # Each deleting transaction audited its rows and re-anchored their batches.
        purges = [
            json.loads(session.get(AuditPayload, e.id).body)  # type: ignore[union-attr]
            for e in session.scalars(
                select(AuditEvent).where(
                    AuditEvent.project_id == tenant.project_id,
                    AuditEvent.action == "retention.purge",
                )
            )
        ]
        assert sum(p["deleted"].get("prediction", 0) for p in purges) == 240
        assert len(purges) >= 240 // 64
        assert all(p["reanchored"]["predictions"] for p in purges)
        verified = audit_service.verify(session, project_id=tenant.project_id)
        assert verified.ok, verified
        assert (verified.predictions_checked, verified.labels_checked) == (160, 31)

    # A second pass finds nothing more, and writes no empty audit event.
    before = rows(database, AuditEvent, tenant)
    again = run_retention(database, settings, now=NOW, projects=[tenant.project_id])
    assert again.by_project == {}
    assert rows(database, AuditEvent, tenant) == before


def test_audit_payloads_go_and_the_chain_still_verifies(
    client: TestClient, tenant: Tenant, database: Database
) -> None:
    register_model(client, tenant)
    ingest(client, tenant)
    events = rows(database, AuditEvent, tenant)
    later = NOW + timedelta(days=10)  # every event so far is older than a day then
    purge = run_retention(
        database,
        RetentionSettings(audit_payload_days=1, idempotency_days=7),
        now=later,
        projects=[tenant.project_id],
    )
    # The payloads of the project, key, model and version events go; those that
    # anchor stored records (the two ingest batches) stay.
    assert purge.by_project[tenant.project_id] == {"audit_payload": events - 2}
    assert purge.idempotency_records == 1
    assert rows(database, IdempotencyRecord, tenant) == 0
    assert rows(database, Prediction, tenant) == 400  # predictions were not asked for
    with database.transaction(read_only=True) as session:
        result = audit_service.verify(session, project_id=tenant.project_id)
    assert result.ok, result
    assert result.payloads_missing == events - 2
    assert result.events == events + 2  # the purge's event and the pass's, payloads kept


def test_other_projects_are_untouched(
    client: TestClient, tenant: Tenant, other_tenant: Tenant, database: Database
) -> None:
    register_model(client, tenant)
    register_model(client, other_tenant)
    ingest(client, tenant)
    ingest(client, other_tenant)
    run_retention(
        database, RetentionSettings(prediction_days=30), now=NOW, projects=[tenant.project_id]
    )
    assert rows(database, Prediction, tenant) == 100
    assert rows(database, Prediction, other_tenant) == 400


@pytest.fixture
def run_cli(database: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("VERITY_DATABASE_URL", database.url)
    monkeypatch.setenv("VERITY_SECRET_KEY", settings.secret_key)
    get_settings.cache_clear()
    yield lambda *args: CliRunner().invoke(cli, list(args))
    get_settings.cache_clear()


def test_the_cli_runs_one_project_and_names_a_missing_one(  # type: ignore[no-untyped-def]
    client: TestClient, tenant: Tenant, database: Database, run_cli
) -> None:
    register_model(client, tenant)
    ingest(client, tenant)
    result = run_cli("retention", "--prediction-days", "30", "--project", tenant.name)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["deleted"]["prediction"] == 300
    assert rows(database, Prediction, tenant) == 100
    missing = run_cli("retention", "--prediction-days", "30", "--project", "nope")
    assert missing.exit_code != 0
    assert "no project named 'nope'" in missing.output
