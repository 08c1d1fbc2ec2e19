"""Every route × every role, own project and another project's."""

import uuid
from datetime import timedelta
from typing import Any

import pytest

from backend import clock
from backend.api.roles import ROLE_PERMISSIONS, Permission, Role
from backend.main import create_app
from backend.models import ApiKey
from tests.factories import (
    HOURLY_COST_MONITOR,
    OVER_BUDGET_MONITOR,
    SCHEMA,
    counts,
    record,
    register_model,
    tiny_torchscript,
)
from tests.support.timeline import at, window

P = Permission
CARD = {
    "intended_use": "churn triage",
    "risk_tier": "limited",
    "risk_rationale": "no decision without a human",
    "owners": ["ml-team"],
}
ENDPOINTS = [
    ("GET", "/v1/models", P.CATALOG_READ),
    ("POST", "/v1/models", P.CATALOG_WRITE),
    ("GET", "/v1/models/{model}", P.CATALOG_READ),
    ("POST", "/v1/models/{model}/versions", P.CATALOG_WRITE),
    ("GET", "/v1/models/{model}/versions", P.CATALOG_READ),
    ("GET", "/v1/models/{model}/versions/{version}", P.CATALOG_READ),
    ("GET", "/v1/models/{model}/versions/{version}/references", P.CATALOG_READ),
    ("PUT", "/v1/models/{model}/versions/{version}/artifact", P.CATALOG_WRITE),
    ("POST", "/v1/models/{model}/versions/{version}/references", P.CATALOG_WRITE),
    ("POST", "/v1/predictions", P.INGEST_WRITE),
    ("POST", "/v1/labels", P.INGEST_WRITE),
    ("POST", "/v1/ingest/oip/{model}/versions/{version}", P.INGEST_WRITE),
    ("POST", "/v1/ingest/cloudevents/{model}/versions/{version}", P.INGEST_WRITE),
    ("GET", "/v1/ingest/cloudevents/unpaired", P.MONITORS_READ),
    ("GET", "/v1/predictions", P.PREDICTIONS_READ),
    ("GET", "/v1/predictions/{event_id}", P.PREDICTIONS_READ),
    ("GET", "/v1/audit", P.AUDIT_READ),
    ("GET", "/v1/audit/verify", P.AUDIT_READ),
    ("POST", "/v1/audit/verify", P.AUDIT_READ),
    ("GET", "/v1/audit/checkpoints/latest", P.AUDIT_READ),
    ("POST", "/v1/keys", P.KEYS_MANAGE),
    ("GET", "/v1/keys", P.KEYS_MANAGE),
    ("POST", "/v1/keys/{key_id}/revoke", P.KEYS_MANAGE),
    ("GET", "/v1/detectors", P.MONITORS_READ),
    ("POST", "/v1/models/{model}/versions/{version}/monitors", P.MONITORS_WRITE),
    ("GET", "/v1/models/{model}/versions/{version}/monitors", P.MONITORS_READ),
    ("POST", "/v1/models/{model}/versions/{version}/monitors:default", P.MONITORS_WRITE),
    ("GET", "/v1/monitors/{monitor_id}", P.MONITORS_READ),
    ("PATCH", "/v1/monitors/{monitor_id}", P.MONITORS_WRITE),
    ("POST", "/v1/monitors/{monitor_id}/run", P.MONITORS_WRITE),
    ("POST", "/v1/monitors/{monitor_id}/backfill", P.MONITORS_WRITE),
    ("GET", "/v1/jobs/{job_id}", P.MONITORS_READ),
    ("GET", "/v1/monitors/{monitor_id}/runs", P.MONITORS_READ),
    ("GET", "/v1/monitors/{monitor_id}/series", P.MONITORS_READ),
    ("GET", "/v1/runs/{run_id}/report", P.MONITORS_READ),
    ("GET", "/v1/runs/{run_id}", P.MONITORS_READ),
    ("GET", "/v1/models/{model}/status", P.MONITORS_READ),
    ("GET", "/v1/models/{model}/volume", P.MONITORS_READ),
    ("GET", "/v1/predictions/{event_id}/explanation", P.PREDICTIONS_READ),
    ("GET", "/v1/evidence/public-key", P.AUDIT_READ),
    ("POST", "/v1/models/{model}/versions/{version}/evidence", P.AUDIT_READ),
    ("GET", "/v1/alerts", P.MONITORS_READ),
    ("GET", "/v1/alerts/{alert_id}", P.MONITORS_READ),
    ("POST", "/v1/alerts/{alert_id}/acknowledge", P.ALERTS_MANAGE),
    ("POST", "/v1/alerts/{alert_id}/resolve", P.ALERTS_MANAGE),
    ("POST", "/v1/channels", P.CHANNELS_MANAGE),
    ("GET", "/v1/channels", P.CHANNELS_MANAGE),
    ("DELETE", "/v1/channels/{channel_id}", P.CHANNELS_MANAGE),
    ("GET", "/v1/models/{model}/lifecycle", P.GOVERNANCE_READ),
    ("PUT", "/v1/models/{model}/gate-policy", P.GOVERNANCE_PROPOSE),
    ("GET", "/v1/models/{model}/gate-policy", P.GOVERNANCE_READ),
    ("POST", "/v1/models/{model}/versions/{version}/gate", P.GOVERNANCE_READ),
    ("GET", "/v1/models/{model}/versions/{version}/gate", P.GOVERNANCE_READ),
    # Proposing (the move asked here); approving is governance:approve (test_release.py).
    ("POST", "/v1/models/{model}/versions/{version}/transitions", P.GOVERNANCE_PROPOSE),
    ("POST", "/v1/models/{model}:rollback", P.GOVERNANCE_PROPOSE),
    ("PUT", "/v1/models/{model}/versions/{version}/card", P.GOVERNANCE_PROPOSE),
    ("GET", "/v1/models/{model}/versions/{version}/card", P.GOVERNANCE_READ),
    ("GET", "/v1/models/{model}/versions/{version}/card.md", P.GOVERNANCE_READ),
    ("GET", "/v1/models/{model}/versions/{version}/serving-state", P.SERVING_READ),
    ("POST", "/v1/models/{model}/versions/{version}/serving-state", P.SERVING_CONTROL),
    ("POST", "/v1/models/{model}/versions/{version}/serving-state:report", P.INGEST_WRITE),
    ("PUT", "/v1/models/{model}/versions/{version}/review-policy", P.MONITORS_WRITE),
    ("GET", "/v1/models/{model}/versions/{version}/review-policy", P.MONITORS_READ),
    ("POST", "/v1/review/claim", P.REVIEW),
    ("GET", "/v1/review/items/{item_id}", P.REVIEW),
    ("GET", "/v1/review/items/{item_id}/explanation", P.REVIEW),
    ("POST", "/v1/review/items/{item_id}/decision", P.REVIEW),
    ("GET", "/v1/review/decisions/{event_id}", P.SERVING_READ),
    ("GET", "/v1/models/{model}/versions/{version}/review-queue", P.REVIEW),
    ("POST", "/v1/incidents", P.INCIDENTS_MANAGE),
    ("GET", "/v1/incidents", P.INCIDENTS_READ),
    ("GET", "/v1/incidents/{incident_id}", P.INCIDENTS_READ),
    ("POST", "/v1/incidents/{incident_id}/classification", P.INCIDENTS_MANAGE),
    ("POST", "/v1/incidents/{incident_id}/status", P.INCIDENTS_MANAGE),
    ("POST", "/v1/incidents/{incident_id}/notes", P.INCIDENTS_MANAGE),
    ("GET", "/v1/incidents/{incident_id}/report.pdf", P.INCIDENTS_READ),
    # Approve before submit: an admin key may not approve what it submitted itself.
    ("POST", "/v1/models/{model}/versions/{version}/card:approve", P.GOVERNANCE_APPROVE),
    ("POST", "/v1/models/{model}/versions/{version}/card:submit", P.GOVERNANCE_PROPOSE),
]


def monitored(client, tenant):
    """A monitor, one run, one alert and one queued backfill in the tenant's project;
    their ids."""
    created = client.post(
        "/v1/models/churn/versions/v1/monitors", json=OVER_BUDGET_MONITOR, headers=tenant.headers()
    )
    assert created.status_code == 201, created.text
    monitor_id = created.json()["id"]
    run = client.post(f"/v1/monitors/{monitor_id}/run", headers=tenant.headers()).json()
    alerts = client.get("/v1/alerts", headers=tenant.headers()).json()["items"]
    channel = client.post(
        "/v1/channels",
        json={"name": "ops", "kind": "webhook", "url": "http://127.0.0.1:9/hook"},
        headers=tenant.headers(),
    )
    hourly = client.post(
        "/v1/models/churn/versions/v1/monitors", json=HOURLY_COST_MONITOR, headers=tenant.headers()
    ).json()
    job = client.post(
        f"/v1/monitors/{hourly['id']}/backfill",
        json=window(at(0), at(hours=2)),
        headers=tenant.headers(),
    )
    assert job.status_code == 202, job.text
    client.put(
        "/v1/models/churn/versions/v1/review-policy",
        json={"sample_rate": 1.0},
        headers=tenant.headers(),
    ).raise_for_status()
    client.post(
        "/v1/predictions",
        json={"records": [record(500, event_id="evt-review")]},
        headers=tenant.headers(),
    ).raise_for_status()
    item = client.post(
        "/v1/review/claim", json={"model": "churn", "version": "v1"}, headers=tenant.headers()
    )
    assert item.status_code == 200, item.text
    incident = client.post(
        "/v1/incidents",
        json={"model": "churn", "version": "v1", "title": "drill"},
        headers=tenant.headers(),
    )
    assert incident.status_code == 201, incident.text
    return {
        "incident_id": incident.json()["id"],
        "item_id": item.json()["id"],
        "job_id": job.json()["id"],
        "monitor_id": monitor_id,
        "run_id": run["run"]["id"],
        "alert_id": alerts[0]["id"],
        "channel_id": channel.json().get("id", 1),
    }


OIP_PAIR = {
    "request": {
        "id": "oip-auth",
        "inputs": [
            {"name": "f_num_a", "shape": [1], "datatype": "FP64", "data": [1.0]},
            {"name": "f_num_b", "shape": [1], "datatype": "FP64", "data": [2.0]},
            {"name": "color", "shape": [1], "datatype": "BYTES", "data": ["red"]},
        ],
    },
    "response": {"outputs": [{"name": "y", "shape": [1], "datatype": "INT64", "data": [1]}]},
}

PUBLIC = {("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics")}
# Any valid key, whatever its role (checked in tests/backend/runs/test_insights.py).
ANY_KEY = {("GET", "/v1/whoami")}


def test_the_matrix_covers_every_route(settings):
    paths = create_app(settings).openapi()["paths"]
    routes = {(method.upper(), path) for path, item in paths.items() for method in item}
    assert routes == {(m, p) for m, p, _ in ENDPOINTS} | PUBLIC | ANY_KEY


def _call(client, method, path, headers, *, key_id=1, ids=None):
    url = (
        path.replace("{model}", "churn")
        .replace("{version}", "v1")
        .replace("{event_id}", "evt-1")
        .replace("{key_id}", str(key_id))
    )
    for name, value in (ids or {}).items():
        url = url.replace("{" + name + "}", str(value))
    kwargs = {}
    if path.endswith("/artifact"):
        kwargs = {
            "content": tiny_torchscript(3),
            "headers": {**headers, "Content-Type": "application/octet-stream"},
        }
    elif path.startswith("/v1/ingest/cloudevents/") and method == "POST":
        kwargs = {
            "json": {"instances": [[1.0, 2.0, "red"]]},
            "headers": {
                **headers,
                "ce-id": uuid.uuid4().hex,
                "ce-type": "org.kubeflow.serving.inference.request",
                "ce-source": "test",
                "ce-specversion": "1.0",
            },
        }
    elif path.endswith("/references") and method == "POST":
        csv = "f_num_a,f_num_b,color,group\n1,2,red,g\n"
        kwargs = {"content": csv.encode(), "headers": {**headers, "Content-Type": "text/csv"}}
    elif method == "POST":
        body: Any = {
            "/v1/models": {"name": "other", "task": "binary"},
            "/v1/models/{model}/versions": {**SCHEMA, "version": "v2"},
            "/v1/predictions": {"records": [record(100)]},
            "/v1/labels": {"labels": [{"event_id": "evt-1", "label": 1}]},
            "/v1/ingest/oip/{model}/versions/{version}": OIP_PAIR,
            "/v1/models/{model}/versions/{version}/evidence": window(at(0), at(days=1)),
            "/v1/keys": {"name": "k", "role": "viewer"},
            "/v1/audit/verify": {"checkpoints": []},
            "/v1/keys/{key_id}/revoke": None,
            "/v1/models/{model}/versions/{version}/monitors": {
                **OVER_BUDGET_MONITOR,
                "name": f"m-{uuid.uuid4().hex[:8]}",
            },
            "/v1/models/{model}/versions/{version}/monitors:default": None,
            "/v1/monitors/{monitor_id}/run": None,
            "/v1/monitors/{monitor_id}/backfill": window(at(0), at(hours=2)),
            "/v1/alerts/{alert_id}/acknowledge": {"comment": "looking"},
            "/v1/alerts/{alert_id}/resolve": {"comment": "fixed"},
            "/v1/models/{model}/versions/{version}/gate": None,
            "/v1/models/{model}/versions/{version}/transitions": {
                "to": "candidate",
                "person": "Ana",
                "reason": "ready",
            },
            "/v1/models/{model}:rollback": {"person": "Ana", "reason": "regression"},
            "/v1/models/{model}/versions/{version}/card:submit": {"person": "Ana"},
            "/v1/incidents": {"model": "churn", "version": "v1", "title": "drill"},
            "/v1/review/claim": {"model": "churn", "version": "v1"},
            "/v1/review/items/{item_id}/decision": {"decision": "agree", "reason": "ok"},
            "/v1/incidents/{incident_id}/classification": {
                "classification": "not_reportable",
                "reason": "a drill",
            },
            "/v1/incidents/{incident_id}/status": {"status": "investigating", "note": "x"},
            "/v1/incidents/{incident_id}/notes": {"text": "looking"},
            "/v1/models/{model}/versions/{version}/serving-state": {
                "state": "stopped",
                "person": "Bo",
                "reason": "drill",
            },
            "/v1/models/{model}/versions/{version}/serving-state:report": {"event": "breaker_open"},
            "/v1/models/{model}/versions/{version}/card:approve": {"person": "Bo"},
            "/v1/channels": {
                "name": f"c-{uuid.uuid4().hex[:8]}",
                "kind": "webhook",
                "url": "https://93.184.215.14/hook",
            },
        }[path]
        kwargs = {"json": body, "headers": headers} if body is not None else {"headers": headers}
    elif method == "PATCH":
        kwargs = {"json": {"severity": "critical"}, "headers": headers}
    elif method == "PUT" and path.endswith("/gate-policy"):
        policy = {"conditions": [{"kind": "no_open_alerts"}]}
        kwargs = {"json": policy, "headers": headers}
    elif method == "PUT" and path.endswith("/review-policy"):
        kwargs = {"json": {"max_confidence": 0.6}, "headers": headers}
    elif method == "PUT" and path.endswith("/card"):
        kwargs = {"json": CARD, "headers": headers}
    else:
        kwargs = {"headers": headers}
    return client.request(method, url, **kwargs)


@pytest.mark.parametrize("role", list(Role))
def test_each_role_gets_exactly_its_permissions(client, tenant, role):
    register_model(client, tenant)
    client.post(
        "/v1/predictions", json={"records": [record(1)]}, headers=tenant.headers(Role.INGEST)
    )
    keys = client.get("/v1/keys", headers=tenant.headers()).json()
    spare = next(k for k in keys if k["role"] == "viewer")
    ids = monitored(client, tenant)
    for method, path, permission in ENDPOINTS:
        response = _call(client, method, path, tenant.headers(role), key_id=spare["id"], ids=ids)
        if permission in ROLE_PERMISSIONS[role]:
            assert response.status_code not in (401, 403), (role, method, path, response.text)
            assert response.status_code < 500, (role, method, path, response.text)
        else:
            assert response.status_code == 403, (role, method, path, response.status_code)
            assert response.headers["content-type"] == "application/problem+json"


def test_another_projects_key_never_sees_or_changes_rows(client, database, tenant, other_tenant):
    register_model(client, tenant)
    client.post(
        "/v1/predictions",
        json={"records": [record(1), record(2)]},
        headers=tenant.headers(Role.INGEST),
    )
    client.post(
        "/v1/labels",
        json={"labels": [{"event_id": "evt-1", "label": 1}]},
        headers=tenant.headers(Role.INGEST),
    )
    own_keys = client.get("/v1/keys", headers=tenant.headers()).json()
    ids = monitored(client, tenant)
    before = counts(database, tenant.project_id)
    versions_before = client.get("/v1/models/churn/versions", headers=tenant.headers()).json()

    for method, path, _ in ENDPOINTS:
        response = _call(
            client,
            method,
            path,
            other_tenant.headers(Role.ADMIN),
            key_id=own_keys[0]["id"],
            ids=ids,
        )
        assert response.status_code < 500, (method, path, response.text)
        if "{" in path:
            assert response.status_code == 404, (method, path, response.status_code)
        if method == "GET" and response.status_code == 200:
            text = response.text
            assert "evt-1" not in text and "churn" not in text, (path, text[:300])
            assert not any(k["prefix"] in text for k in own_keys)
        if path == "/v1/predictions" and method == "POST":
            assert response.status_code == 422  # churn/v1 does not exist in that project

    assert counts(database, tenant.project_id) == before
    assert (
        client.get("/v1/models/churn/versions", headers=tenant.headers()).json() == versions_before
    )
    assert all(
        k["revoked_at"] is None for k in client.get("/v1/keys", headers=tenant.headers()).json()
    )
    own = client.get("/v1/predictions/evt-1", headers=tenant.headers(Role.VIEWER)).json()
    assert own["label"] == 1


def test_same_event_id_in_two_projects_is_two_predictions(client, database, tenant, other_tenant):
    register_model(client, tenant)
    register_model(client, other_tenant)
    for t in (tenant, other_tenant):
        response = client.post(
            "/v1/predictions", json={"records": [record(1)]}, headers=t.headers(Role.INGEST)
        )
        assert response.json()["stored"] == 1


@pytest.mark.parametrize(
    ("headers", "detail"),
    [
        ({}, "send an API key"),
        ({"Authorization": "Bearer nonsense"}, "malformed"),
        ({"X-API-Key": "vt_000000000000_" + "a" * 43}, "unknown API key"),
    ],
)
def test_missing_or_bad_keys_are_401(client, headers, detail):
    response = client.get("/v1/models", headers=headers)
    assert response.status_code == 401
    assert detail in response.json()["detail"]


def test_wrong_secret_with_a_real_prefix_is_401(client, tenant):
    token = tenant.tokens[Role.ADMIN]
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert (
        client.get("/v1/models", headers={"Authorization": f"Bearer {forged}"}).status_code == 401
    )


def test_expired_and_revoked_keys_are_401(client, tenant, manual_clock):
    created = client.post(
        "/v1/keys",
        json={"name": "temp", "role": "viewer", "expires_in_days": 1},
        headers=tenant.headers(),
    )
    assert created.status_code == 201
    token = created.json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/v1/models", headers=headers).status_code == 200
    manual_clock.advance(timedelta(days=1) - timedelta(seconds=1))
    assert client.get("/v1/models", headers=headers).status_code == 200
    manual_clock.advance(timedelta(seconds=1))
    response = client.get("/v1/models", headers=headers)
    assert response.status_code == 401 and "expired" in response.json()["detail"]

    second = client.post(
        "/v1/keys", json={"name": "t2", "role": "viewer"}, headers=tenant.headers()
    ).json()
    headers = {"X-API-Key": second["token"]}
    assert client.get("/v1/models", headers=headers).status_code == 200
    revoked = client.post(f"/v1/keys/{second['id']}/revoke", headers=tenant.headers())
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    response = client.get("/v1/models", headers=headers)
    assert response.status_code == 401 and "revoked" in response.json()["detail"]
    assert (
        client.post(f"/v1/keys/{second['id']}/revoke", headers=tenant.headers()).status_code == 409
    )


def test_keys_are_stored_as_hmac_only(client, database, tenant):
    created = client.post(
        "/v1/keys", json={"name": "x", "role": "ingest"}, headers=tenant.headers()
    ).json()
    secret = created["token"].split("_", 2)[2]
    with database.transaction(read_only=True) as session:
        key = session.get(ApiKey, created["id"])
        assert secret not in key.secret_hmac and len(key.secret_hmac) == 64
    listed = client.get("/v1/keys", headers=tenant.headers()).text
    assert secret not in listed and "token" not in listed
    events = client.get(
        "/v1/audit", params={"action": "api_key.create"}, headers=tenant.headers()
    ).text
    assert secret not in events


def test_key_creation_validation(client, tenant):
    past = (clock.now() - timedelta(days=1)).isoformat()
    assert (
        client.post(
            "/v1/keys",
            json={"name": "x", "role": "viewer", "expires_at": past},
            headers=tenant.headers(),
        ).status_code
        == 422
    )
    assert (
        client.post(
            "/v1/keys", json={"name": "x", "role": "root"}, headers=tenant.headers()
        ).status_code
        == 422
    )
    assert (
        client.post(
            "/v1/keys",
            json={"name": "x", "role": "viewer", "project_id": 1},
            headers=tenant.headers(),
        ).status_code
        == 422
    )
