"""The audit search API: newest first by default, oldest first with order=asc, paged
by cursor; the deprecated seq parameters still page as they did, and say so."""

from __future__ import annotations

from fastapi.testclient import TestClient

from backend.api.roles import Role
from tests.factories import Tenant


def _seqs(page: dict) -> list[int]:
    return [e["seq"] for e in page["items"]]


def test_audit_events_page_both_ways(client: TestClient, tenant: Tenant) -> None:
    headers = tenant.headers()
    for i in range(5):
        created = client.post(
            "/v1/models", json={"name": f"m{i}", "task": "binary"}, headers=headers
        )
        assert created.status_code == 201
    everything = client.get("/v1/audit?order=asc&limit=1000", headers=headers).json()
    seqs = _seqs(everything)
    assert seqs == sorted(seqs)
    assert everything["next_cursor"] is None
    newest = client.get("/v1/audit?limit=3", headers=headers).json()
    assert _seqs(newest) == seqs[::-1][:3]
    older = client.get(f"/v1/audit?limit=3&cursor={newest['next_cursor']}", headers=headers)
    assert "Deprecation" not in older.headers
    assert _seqs(older.json()) == seqs[::-1][3:6]
    oldest = client.get("/v1/audit?order=asc&limit=2", headers=headers).json()
    assert _seqs(oldest) == seqs[:2]
    then = client.get(f"/v1/audit?limit=2&cursor={oldest['next_cursor']}", headers=headers)
    assert _seqs(then.json()) == seqs[2:4]
    bad = client.get("/v1/audit?order=sideways", headers=tenant.headers(Role.COMPLIANCE))
    assert bad.status_code == 422


def test_the_deprecated_seq_parameters_page_as_before(client: TestClient, tenant: Tenant) -> None:
    headers = tenant.headers()
    for i in range(4):
        client.post("/v1/models", json={"name": f"m{i}", "task": "binary"}, headers=headers)
    seqs = _seqs(client.get("/v1/audit?order=asc&limit=1000", headers=headers).json())
    after = client.get(f"/v1/audit?after_seq={seqs[1]}&limit=2", headers=headers)
    assert after.headers["Deprecation"].startswith("@")
    assert _seqs(after.json()) == seqs[2:4]
    assert after.json()["next_after_seq"] == seqs[3]
    before = client.get(f"/v1/audit?before_seq={seqs[-1]}&limit=2", headers=headers)
    assert before.headers["Deprecation"].startswith("@")
    assert _seqs(before.json()) == seqs[::-1][1:3]
    assert before.json()["next_before_seq"] == seqs[-3]


def test_a_cursor_pages_only_its_own_order(client: TestClient, tenant: Tenant) -> None:
    headers = tenant.headers()
    for i in range(3):
        client.post("/v1/models", json={"name": f"m{i}", "task": "binary"}, headers=headers)
    newest = client.get("/v1/audit?limit=1", headers=headers).json()
    flipped = client.get(f"/v1/audit?order=asc&cursor={newest['next_cursor']}", headers=headers)
    assert flipped.status_code == 422
    both = client.get(f"/v1/audit?after_seq=1&cursor={newest['next_cursor']}", headers=headers)
    assert both.status_code == 422
