"""The audit search API: oldest first with after_seq, newest first with before_seq."""

from __future__ import annotations

from fastapi.testclient import TestClient

from backend.auth.roles import Role
from tests.factories import Tenant


def test_audit_events_page_both_ways(client: TestClient, tenant: Tenant) -> None:
    headers = tenant.headers()
    for i in range(5):
        created = client.post(
            "/v1/models", json={"name": f"m{i}", "task": "binary"}, headers=headers
        )
        assert created.status_code == 201
    everything = client.get("/v1/audit?limit=1000", headers=headers).json()["items"]
    seqs = [e["seq"] for e in everything]
    assert seqs == sorted(seqs)
    newest = client.get("/v1/audit?order=desc&limit=3", headers=headers).json()
    assert [e["seq"] for e in newest["items"]] == seqs[::-1][:3]
    assert newest["next_before_seq"] == seqs[-3]
    older = client.get(
        f"/v1/audit?order=desc&limit=3&before_seq={newest['next_before_seq']}", headers=headers
    ).json()
    assert [e["seq"] for e in older["items"]] == seqs[::-1][3:6]
    oldest = client.get("/v1/audit?limit=2", headers=headers).json()
    assert [e["seq"] for e in oldest["items"]] == seqs[:2]
    assert oldest["next_after_seq"] == seqs[1]
    bad = client.get("/v1/audit?order=sideways", headers=tenant.headers(Role.COMPLIANCE))
    assert bad.status_code == 422
