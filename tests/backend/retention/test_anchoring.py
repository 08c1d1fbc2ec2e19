"""Records stored before the chain vouched for each row (Verity 0.1: no ingest batch
on the rows, an ingest event without a Merkle root) are anchored once at upgrade,
after which verification holds them like new ones."""

from __future__ import annotations

from backend.api.actor import cli_actor
from backend.audit import service as audit_service
from backend.ingest import repository as ingest_repository
from backend.ingest import service as ingest_service
from backend.ingest.schemas import LabelBatch, PredictionBatch
from backend.retention.anchoring import anchor_legacy
from tests.factories import record, register_model


def store_as_verity_0_1(database, settings, tenant):
    """Predictions and labels written as 0.1 wrote them: rows without a batch, and an
    ingest event that names no Merkle root."""
    actor = cli_actor(tenant.project_id, "legacy")
    batch = PredictionBatch.model_validate({"records": [record(i) for i in range(30)]})
    labels = LabelBatch.model_validate(
        {"labels": [{"event_id": f"evt-{i}", "label": 1} for i in range(10)]}
    )
    with database.transaction() as session:
        prepared = ingest_service.prepare_predictions(
            session, actor=actor, batch=batch, max_records=100, limits=settings.limits
        )
        rows = [{**row, "ingest_batch_id": None} for row in prepared.rows]
        ingest_repository.insert_predictions(session, rows)
        audit_service.append(
            session,
            project_id=tenant.project_id,
            actor=actor.label,
            action="predictions.ingest",
            subject="predictions",
            payload={"received": 30, "stored": 30},
        )
        prepared_labels = ingest_service.prepare_labels(
            session, actor=actor, batch=labels, max_records=100, limits=settings.limits
        )
        ingest_repository.upsert_labels(
            session, [{**row, "ingest_batch_id": None} for row in prepared_labels.rows]
        )
        audit_service.append(
            session,
            project_id=tenant.project_id,
            actor=actor.label,
            action="labels.ingest",
            subject="labels",
            payload={"received": 10, "stored": 10},
        )


def test_legacy_rows_are_anchored_and_then_verify(client, tenant, database, settings):
    register_model(client, tenant)
    store_as_verity_0_1(database, settings, tenant)
    with database.transaction(read_only=True) as session:
        before = audit_service.verify(session, project_id=tenant.project_id)
    assert not before.ok and "belongs to no audited ingest batch" in (before.reason or "")

    counts = anchor_legacy(database, alerts=True)
    assert counts["predictions"] >= 30 and counts["labels"] >= 10
    with database.transaction(read_only=True) as session:
        after = audit_service.verify(session, project_id=tenant.project_id)
    assert after.ok, after.reason
    assert (after.predictions_checked, after.labels_checked) == (30, 10)
    # Once anchored, nothing is left to anchor.
    assert anchor_legacy(database, alerts=False) == {"predictions": 0, "labels": 0, "alerts": 0}
