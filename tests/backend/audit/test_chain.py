"""Tampering with the stored chain is caught, naming the first bad sequence number."""

from datetime import timedelta

import pytest
from sqlalchemy import delete, select, update
from typer.testing import CliRunner

from backend.api.roles import Role
from backend.audit.chain import GENESIS_HASH, ChainLink, link_hash, sha256_hex, verify_chain
from backend.cli import app as cli
from backend.config import RetentionSettings, get_settings
from backend.models import AuditEvent, AuditPayload
from backend.retention.service import run_retention
from tests.factories import record, register_model


def _cli_verify(database, tenant, monkeypatch):
    monkeypatch.setenv("VERITY_DATABASE_URL", database.url)
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(cli, ["audit", "verify", "--project", tenant.name])
    finally:
        get_settings.cache_clear()


def _verify(client, tenant):
    response = client.get("/v1/audit/verify", headers=tenant.headers(Role.COMPLIANCE))
    assert response.status_code == 200
    return response.json()


@pytest.fixture
def chain(client, tenant):
    register_model(client, tenant)
    client.post(
        "/v1/predictions", json={"records": [record(1)]}, headers=tenant.headers(Role.INGEST)
    )
    result = _verify(client, tenant)
    assert result["ok"] and result["events"] >= 8
    return result


def _event(session, tenant, seq):
    return session.scalars(
        select(AuditEvent).where(AuditEvent.project_id == tenant.project_id, AuditEvent.seq == seq)
    ).one()


def edit_payload(session, tenant):
    event = _event(session, tenant, 3)
    session.execute(
        update(AuditPayload)
        .where(AuditPayload.audit_event_id == event.id)
        .values(body='{"role":"admin"}')
    )
    return 3, "payload"


def edit_header(session, tenant):
    session.execute(
        update(AuditEvent)
        .where(AuditEvent.project_id == tenant.project_id, AuditEvent.seq == 4)
        .values(actor="mallory")
    )
    return 4, "hash does not match"


def delete_row(session, tenant):
    event = _event(session, tenant, 3)
    session.execute(delete(AuditPayload).where(AuditPayload.audit_event_id == event.id))
    session.execute(delete(AuditEvent).where(AuditEvent.id == event.id))
    return 3, "missing"


def swap_rows(session, tenant):
    a, b = _event(session, tenant, 3), _event(session, tenant, 5)
    a_id, b_id = a.id, b.id
    session.execute(update(AuditEvent).where(AuditEvent.id == a_id).values(seq=-1))
    session.execute(update(AuditEvent).where(AuditEvent.id == b_id).values(seq=3))
    session.execute(update(AuditEvent).where(AuditEvent.id == a_id).values(seq=5))
    return 3, None


def insert_forged_row(session, tenant):
    """A forger who knows the hash recipe inserts a well-linked row at seq 4 and
    renumbers the rest: the original row 4, now 5, no longer verifies."""
    rows = session.scalars(
        select(AuditEvent).where(AuditEvent.project_id == tenant.project_id, AuditEvent.seq >= 4)
    ).all()
    for row in rows:
        session.execute(
            update(AuditEvent).where(AuditEvent.id == row.id).values(seq=row.seq + 100_000)
        )
    for row in rows:
        session.execute(
            update(AuditEvent).where(AuditEvent.id == row.id).values(seq=row.seq - 100_000 + 1)
        )
    previous = _event(session, tenant, 3)
    body = '{"name":"backdoor","role":"admin"}'
    link = ChainLink(
        project_id=tenant.project_id,
        seq=4,
        actor="cli:root",
        action="api_key.create",
        subject="api_key:forged",
        occurred_at=previous.occurred_at,
        payload_sha256=sha256_hex(body),
        prev_hash=previous.hash,
        hash="",
    )
    forged = AuditEvent(
        project_id=tenant.project_id,
        seq=4,
        actor=link.actor,
        action=link.action,
        subject=link.subject,
        occurred_at=link.occurred_at,
        payload_sha256=link.payload_sha256,
        prev_hash=link.prev_hash,
        hash=link_hash(link.prev_hash, link.header()),
    )
    session.add(forged)
    session.flush()
    session.add(AuditPayload(audit_event_id=forged.id, body=body))
    return 5, "prev_hash"


def append_garbage_row(session, tenant):
    last = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.project_id == tenant.project_id)
        .order_by(AuditEvent.seq.desc())
    ).first()
    session.add(
        AuditEvent(
            project_id=tenant.project_id,
            seq=last.seq + 1,
            actor="x",
            action="alert.ack",
            subject="s",
            occurred_at=last.occurred_at,
            payload_sha256="0" * 64,
            prev_hash=last.hash,
            hash="f" * 64,
        )
    )
    return last.seq + 1, "hash does not match"


@pytest.mark.parametrize(
    "tamper",
    [edit_payload, edit_header, delete_row, swap_rows, insert_forged_row, append_garbage_row],
)
def test_tampering_is_caught_naming_the_first_bad_seq(
    client, database, tenant, chain, tamper, monkeypatch
):
    with database.transaction() as session:
        bad_seq, reason = tamper(session, tenant)
    result = _verify(client, tenant)
    assert result["ok"] is False
    assert result["first_bad_seq"] == bad_seq
    if reason:
        assert reason in result["reason"]

    outcome = _cli_verify(database, tenant, monkeypatch)
    assert outcome.exit_code == 1, outcome.output
    assert f"first bad seq {bad_seq}" in outcome.output


def test_an_intact_chain_verifies_from_the_cli(database, tenant, chain, monkeypatch):
    outcome = _cli_verify(database, tenant, monkeypatch)
    assert outcome.exit_code == 0, outcome.output
    assert outcome.output.startswith("ok")


def test_a_payload_deleted_by_hand_fails_one_removed_by_retention_does_not(
    client, database, tenant, chain, manual_clock
):
    manual_clock.advance(timedelta(days=3))
    run_retention(database, RetentionSettings(audit_payload_days=1), projects=[tenant.project_id])
    result = _verify(client, tenant)
    assert result["ok"] is True, result
    # project.create, an api_key.create per role, model.create, model_version.create:
    # the ingest event's payload anchors stored rows and is kept.
    assert result["payloads_missing"] == 3 + len(Role)

    with database.transaction() as session:
        ingest_seq = 4 + len(Role)  # predictions.ingest, kept by retention
        event = _event(session, tenant, ingest_seq)
        session.execute(delete(AuditPayload).where(AuditPayload.audit_event_id == event.id))
    result = _verify(client, tenant)
    assert result["ok"] is False
    assert result["first_bad_seq"] == ingest_seq
    assert "no retention purge removed it" in result["reason"]


def test_every_mutation_is_audited_in_order(client, tenant, chain):
    events = client.get(
        "/v1/audit", params={"limit": 1000, "order": "asc"}, headers=tenant.headers(Role.COMPLIANCE)
    ).json()["items"]
    actions = [e["action"] for e in events]
    assert actions[0] == "project.create"
    keys = len(Role)  # the tenant has a key of each role
    assert actions[1 : 1 + keys] == ["api_key.create"] * keys
    assert actions[1 + keys :] == ["model.create", "model_version.create", "predictions.ingest"]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    page = client.get(
        "/v1/audit", params={"limit": 3, "order": "asc"}, headers=tenant.headers(Role.COMPLIANCE)
    ).json()
    assert [e["seq"] for e in page["items"]] == [1, 2, 3]
    nxt = client.get(
        "/v1/audit",
        params={"cursor": page["next_cursor"], "limit": 3},
        headers=tenant.headers(Role.COMPLIANCE),
    ).json()
    assert [e["seq"] for e in nxt["items"]] == [4, 5, 6]


def test_a_rejected_request_writes_no_audit_event(client, tenant, chain):
    before = _verify(client, tenant)["events"]
    bad = client.post(
        "/v1/predictions",
        json={"records": [record(2, score=9.0)]},
        headers=tenant.headers(Role.INGEST),
    )
    assert bad.status_code == 422
    assert _verify(client, tenant)["events"] == before


def test_verify_chain_is_pure_and_checks_the_genesis_link():
    body = "{}"
    link = ChainLink(
        1,
        1,
        "a",
        "x",
        "s",
        __import__("datetime").datetime(2026, 1, 1),
        sha256_hex(body),
        GENESIS_HASH,
        "",
    )
    good = ChainLink(**{**link.__dict__, "hash": link_hash(GENESIS_HASH, link.header())})
    assert verify_chain([(good, body)]).ok
    wrong_genesis = ChainLink(**{**good.__dict__, "prev_hash": "1" * 64})
    assert verify_chain([(wrong_genesis, body)]).first_bad_seq == 1
    assert verify_chain([]).ok
