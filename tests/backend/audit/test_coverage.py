"""The chain covers every stored record: an edited, deleted or inserted prediction,
label, alert or check run fails verification, naming its batch and audit event; a
payload deleted outside retention fails; a truncated tail fails against a signed
checkpoint, stored or handed in. Each finding of the outside attack, reproduced."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, func, select, update

from backend.api.roles import Role
from backend.audit import keys
from backend.audit import service as audit_service
from backend.audit.checkpoints import sign
from backend.audit.records import (
    EMPTY_ROOT,
    LEAF_PREFIX,
    NODE_PREFIX,
    canonical,
    merkle_root,
)
from backend.db import Database
from backend.models import (
    Alert,
    AuditCheckpoint,
    AuditEvent,
    AuditPayload,
    CheckRun,
    Label,
    Prediction,
)
from backend.notifications.witness import checkpoint_and_publish
from tests.factories import OVER_BUDGET_MONITOR, Tenant, record, register_model


def verify(client: TestClient, tenant: Tenant, checkpoints: list[Any] | None = None) -> Any:
    if checkpoints is None:
        answer = client.get("/v1/audit/verify", headers=tenant.headers(Role.COMPLIANCE))
    else:
        answer = client.post(
            "/v1/audit/verify",
            json={"checkpoints": checkpoints},
            headers=tenant.headers(Role.COMPLIANCE),
        )
    assert answer.status_code == 200, answer.text
    return answer.json()


@pytest.fixture
def stored(client: TestClient, tenant: Tenant) -> dict[str, Any]:
    """Two prediction batches, a label batch, a label correction, and a monitor run
    that opened an alert which was acknowledged."""
    register_model(client, tenant)
    admin = tenant.headers()
    for start in (0, 50):
        posted = client.post(
            "/v1/predictions",
            json={"records": [record(i) for i in range(start, start + 50)]},
            headers=admin,
        )
        assert posted.status_code == 200, posted.text
    labels = [{"event_id": f"evt-{i}", "label": i % 2} for i in range(0, 100, 2)]
    assert client.post("/v1/labels", json={"labels": labels}, headers=admin).status_code == 200
    corrected = [{"event_id": "evt-0", "label": 1}, {"event_id": "evt-2", "label": 1}]
    assert client.post("/v1/labels", json={"labels": corrected}, headers=admin).status_code == 200
    monitor = client.post(
        "/v1/models/churn/versions/v1/monitors", json=OVER_BUDGET_MONITOR, headers=admin
    ).json()
    run = client.post(f"/v1/monitors/{monitor['id']}/run", headers=admin).json()["run"]
    alert = client.get("/v1/alerts", headers=admin).json()["items"][0]
    assert (
        client.post(
            f"/v1/alerts/{alert['id']}/acknowledge",
            json={"comment": "looking"},
            headers=tenant.headers(Role.COMPLIANCE),
        ).status_code
        == 200
    )
    result = verify(client, tenant)
    assert result["ok"], result
    assert (result["predictions_checked"], result["labels_checked"]) == (100, 50)
    assert (result["runs_checked"], result["alerts_checked"]) == (1, 1)
    return {"monitor": monitor, "run": run, "alert": alert}


def seq_of(database: Database, tenant: Tenant, action: str, nth: int = 0) -> int:
    with database.session() as session:
        seqs = session.scalars(
            select(AuditEvent.seq)
            .where(AuditEvent.project_id == tenant.project_id, AuditEvent.action == action)
            .order_by(AuditEvent.seq)
        ).all()
    return int(seqs[nth])


def batch_of(database: Database, model: Any, event_id: str, tenant: Tenant) -> int:
    with database.session() as session:
        found = session.scalar(
            select(model.ingest_batch_id).where(
                model.project_id == tenant.project_id, model.event_id == event_id
            )
        )
    assert found is not None
    return int(found)


def tamper(database: Database, statement: Any) -> None:
    with database.transaction() as session:
        session.execute(statement)


def test_an_edited_prediction_names_its_batch_and_event(client, tenant, database, stored):
    batch = batch_of(database, Prediction, "evt-60", tenant)
    tamper(
        database,
        update(Prediction)
        .where(Prediction.project_id == tenant.project_id, Prediction.event_id == "evt-60")
        .values(prediction=1),
    )
    result = verify(client, tenant)
    assert result["ok"] is False
    assert result["first_bad_seq"] == seq_of(database, tenant, "predictions.ingest", 1)
    assert f"predictions of ingest batch {batch}" in result["reason"]
    assert "a row was edited" in result["reason"]


def test_a_deleted_prediction_is_caught(client, tenant, database, stored):
    tamper(
        database,
        delete(Prediction).where(
            Prediction.project_id == tenant.project_id, Prediction.event_id == "evt-7"
        ),
    )
    result = verify(client, tenant)
    assert result["ok"] is False
    assert result["first_bad_seq"] == seq_of(database, tenant, "predictions.ingest", 0)
    assert "1 of its 50 rows were deleted" in result["reason"]


def test_a_whole_batch_deleted_is_caught(client, tenant, database, stored):
    batch = batch_of(database, Prediction, "evt-60", tenant)
    tamper(database, delete(Prediction).where(Prediction.ingest_batch_id == batch))
    result = verify(client, tenant)
    assert result["ok"] is False
    assert result["first_bad_seq"] == seq_of(database, tenant, "predictions.ingest", 1)
    assert "are gone" in result["reason"]


def test_an_inserted_prediction_is_caught_with_or_without_a_batch(client, tenant, database, stored):
    batch = batch_of(database, Prediction, "evt-60", tenant)
    with database.session() as session:
        template = session.scalars(
            select(Prediction).where(
                Prediction.project_id == tenant.project_id, Prediction.event_id == "evt-60"
            )
        ).one()
        copy = {
            c.name: getattr(template, c.name)
            for c in Prediction.__table__.columns
            if c.name != "id"
        }
    with database.transaction() as session:
        session.add(Prediction(**{**copy, "event_id": "forged-1"}))
    result = verify(client, tenant)
    assert result["ok"] is False
    assert "1 rows were inserted into it" in result["reason"]
    assert f"ingest batch {batch}" in result["reason"]
    tamper(
        database,
        update(Prediction).where(Prediction.event_id == "forged-1").values(ingest_batch_id=None),
    )
    result = verify(client, tenant)
    assert result["ok"] is False
    assert "'forged-1' belongs to no audited ingest batch" in result["reason"]


def test_an_edited_or_deleted_label_is_caught(client, tenant, database, stored):
    first_batch = batch_of(database, Label, "evt-10", tenant)
    tamper(
        database,
        update(Label)
        .where(Label.project_id == tenant.project_id, Label.event_id == "evt-10")
        .values(label=1),
    )
    result = verify(client, tenant)
    assert result["ok"] is False
    # The correction batch moved two labels out of the first batch and re-anchored it:
    # the latest audited claim about the first batch is that event's.
    assert result["first_bad_seq"] == seq_of(database, tenant, "labels.ingest", 1)
    assert f"labels of ingest batch {first_batch}" in result["reason"]
    tamper(
        database,
        update(Label)
        .where(Label.project_id == tenant.project_id, Label.event_id == "evt-10")
        .values(label=0),
    )
    assert verify(client, tenant)["ok"]
    # The corrected label lives in the second label batch now.
    tamper(
        database,
        delete(Label).where(Label.project_id == tenant.project_id, Label.event_id == "evt-0"),
    )
    result = verify(client, tenant)
    assert result["ok"] is False
    assert result["first_bad_seq"] == seq_of(database, tenant, "labels.ingest", 1)


def test_an_edited_alert_or_a_deleted_run_is_caught(client, tenant, database, stored):
    alert_id = stored["alert"]["id"]
    tamper(database, update(Alert).where(Alert.id == alert_id).values(state="resolved"))
    result = verify(client, tenant)
    assert result["ok"] is False
    assert f"alert {alert_id} no longer matches" in result["reason"]
    assert result["first_bad_seq"] == seq_of(database, tenant, "alert.acknowledge")

    # The alert's run: delete the alert, then the run (finding 5's "alert run").
    tamper(database, delete(Alert).where(Alert.id == alert_id))
    result = verify(client, tenant)
    assert f"alert {alert_id}, audited at seq" in result["reason"]
    assert "is no longer stored" in result["reason"]
    run_id = stored["run"]["id"]
    with database.transaction() as session:
        session.execute(update(Alert).where(Alert.first_run_id == run_id).values(first_run_id=None))
    tamper(database, delete(CheckRun).where(CheckRun.id == run_id))
    with database.transaction(read_only=True) as session:
        found = audit_service.verify(session, project_id=tenant.project_id)
    assert found.ok is False
    assert "is no longer stored" in (found.reason or "")


def test_a_deleted_run_without_alerts_is_caught(client, tenant, database):
    register_model(client, tenant)
    created = client.post(
        "/v1/models/churn/versions/v1/monitors",
        json={**OVER_BUDGET_MONITOR, "params": {"price_per_1k_predictions": 1}},
        headers=tenant.headers(),
    ).json()
    run = client.post(f"/v1/monitors/{created['id']}/run", headers=tenant.headers()).json()["run"]
    assert verify(client, tenant)["ok"]
    tamper(database, delete(CheckRun).where(CheckRun.id == run["id"]))
    result = verify(client, tenant)
    assert result["ok"] is False
    assert result["reason"] == (
        f"check run {run['id']}, audited at seq {result['first_bad_seq']}, is no longer stored"
    )


def three_key_events(client: TestClient, tenant: Tenant) -> None:
    """Three events at the chain's end that anchor no record: only a checkpoint can
    show they were cut off (finding 5: "truncating the last 3 events verifies ok")."""
    for n in range(3):
        answer = client.post(
            "/v1/keys", json={"name": f"k{n}", "role": "viewer"}, headers=tenant.headers()
        )
        assert answer.status_code == 201


def test_a_truncated_tail_is_caught_by_a_stored_checkpoint(
    client, tenant, database, settings, stored
):
    three_key_events(client, tenant)
    checkpoint_and_publish(database, settings)
    with database.session() as session:
        head = session.scalar(
            select(func.max(AuditEvent.seq)).where(AuditEvent.project_id == tenant.project_id)
        )
    result = verify(client, tenant)
    assert result["ok"] and result["checkpoint_seq"] == head
    _truncate(database, tenant, head - 3)
    result = verify(client, tenant)
    assert result["ok"] is False
    assert result["first_bad_seq"] == head - 2  # the first event gone
    assert "removed from its end" in result["reason"]


def test_a_truncation_that_also_deletes_the_checkpoints_is_caught_by_a_witness_copy(
    client, tenant, database, settings, stored
):
    three_key_events(client, tenant)
    checkpoint_and_publish(database, settings)
    witness = client.get(
        "/v1/audit/checkpoints/latest", headers=tenant.headers(Role.COMPLIANCE)
    ).json()
    _truncate(database, tenant, witness["seq"] - 3)
    tamper(database, delete(AuditCheckpoint).where(AuditCheckpoint.project_id == tenant.project_id))
    # Without an outside copy the shorter chain still links: that is what a witness is for.
    assert verify(client, tenant)["ok"] is True
    result = verify(client, tenant, [witness])
    assert result["ok"] is False
    assert "removed from its end" in result["reason"]


def test_a_checkpoint_not_signed_by_the_server_is_refused(
    client, tenant, database, settings, stored
):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    checkpoint_and_publish(database, settings)
    real = client.get(
        "/v1/audit/checkpoints/latest", headers=tenant.headers(Role.COMPLIANCE)
    ).json()
    forged = sign(
        Ed25519PrivateKey.generate(),
        project_id=tenant.project_id,
        seq=real["seq"],
        hash=real["hash"],
        signed_at=__import__("datetime").datetime.fromisoformat(real["signed_at"]),
    ).as_json()
    result = verify(client, tenant, [forged])
    assert result["ok"] is False and "not signed by a trusted key" in result["reason"]
    bad = client.post(
        "/v1/audit/verify",
        json={"checkpoints": [{"type": "nope"}]},
        headers=tenant.headers(Role.COMPLIANCE),
    )
    assert bad.status_code == 422


def test_checkpoints_are_written_only_for_chains_that_grew(
    client, tenant, database, settings, stored
):
    first = checkpoint_and_publish(database, settings)
    assert first >= 1
    assert _checkpoints(database, tenant) == 1
    checkpoint_and_publish(database, settings)
    assert _checkpoints(database, tenant) == 1
    client.post("/v1/predictions", json={"records": [record(500)]}, headers=tenant.headers())
    checkpoint_and_publish(database, settings)
    assert _checkpoints(database, tenant) == 2
    key = keys.signing_key(settings)
    assert keys.public_key_base64(key)


def _checkpoints(database: Database, tenant: Tenant) -> int:
    with database.session() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(AuditCheckpoint)
                .where(AuditCheckpoint.project_id == tenant.project_id)
            )
            or 0
        )


def _truncate(database: Database, tenant: Tenant, keep_through: int) -> None:
    with database.transaction() as session:
        doomed = session.scalars(
            select(AuditEvent.id).where(
                AuditEvent.project_id == tenant.project_id, AuditEvent.seq > keep_through
            )
        ).all()
        session.execute(delete(AuditPayload).where(AuditPayload.audit_event_id.in_(doomed)))
        session.execute(delete(AuditEvent).where(AuditEvent.id.in_(doomed)))


# --- the pure parts ----------------------------------------------------------------


def rfc6962_root(leaves: list[bytes]) -> bytes:
    """RFC 6962 §2.1, by its recursive definition."""
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(
        NODE_PREFIX + rfc6962_root(leaves[:k]) + rfc6962_root(leaves[k:])
    ).digest()


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 7, 8, 9, 31, 100, 1000])
def test_merkle_root_is_rfc_6962s(n):
    leaves = [hashlib.sha256(LEAF_PREFIX + str(i).encode()).digest() for i in range(n)]
    assert merkle_root(leaves) == rfc6962_root(leaves).hex()
    assert merkle_root([]) == EMPTY_ROOT


def test_numbers_are_canonical_as_json_b_gives_them_back():
    # PostgreSQL's JSONB keeps decimals: 1e16 comes back as an integer, -0.0 as 0.0.
    assert canonical(1e16) == 10**16 == canonical(10**16)
    assert canonical(-0.0) == 0 == canonical(0.0)
    assert canonical(2.0**60) == int("1152921504606847000")
    assert canonical(1e300) == {"$int": str(10**300)}
    assert canonical(float(10**300)) == canonical(10**300) == {"$int": str(10**300)}
    assert canonical(0.1) == 0.1
    assert canonical({"a": [1.0, "x", None, True]}) == {"a": [1, "x", None, True]}


def test_payloads_of_the_database_round_trip_to_the_same_digest(client, tenant, database):
    """Awkward numbers through both databases give back the digest ingest computed."""
    register_model(client, tenant)
    awkward = [1e16, -0.0, 2.0**60, 1.5e-7, 123456789.125, 7, 2**53 + 1, 0.1 + 0.2]
    records = [
        record(i, features={"f_num_a": value, "f_num_b": -value, "color": "red", "group": "g1"})
        for i, value in enumerate(awkward)
    ]
    answer = client.post("/v1/predictions", json={"records": records}, headers=tenant.headers())
    assert answer.status_code == 200, answer.text
    result = verify(client, tenant)
    assert result["ok"], result
    assert result["predictions_checked"] == len(awkward)
