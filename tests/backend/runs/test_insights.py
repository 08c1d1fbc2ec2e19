"""What the dashboard reads beyond runs and alerts: who am I, ingest volume per
bucket (aggregated in SQL), and one prediction's SHAP explanation on demand."""

from __future__ import annotations

from fastapi.testclient import TestClient

from backend.api.roles import Role
from tests.factories import Tenant, record, register_model, tiny_torchscript
from tests.support.timeline import at, iso, window


def setup_model(client: TestClient, tenant: Tenant) -> None:
    register_model(client, tenant)
    admin = tenant.headers()
    records = [record(i) for i in range(150)]  # one a minute from DAY0 00:00
    assert (
        client.post("/v1/predictions", json={"records": records}, headers=admin).status_code == 200
    )
    labels = [{"event_id": f"evt-{i}", "label": 1} for i in range(0, 150, 3)]
    assert client.post("/v1/labels", json={"labels": labels}, headers=admin).status_code == 200


def test_whoami_names_role_and_permissions(client, tenant):
    me = client.get("/v1/whoami", headers=tenant.headers(Role.COMPLIANCE)).json()
    assert me["project_id"] == tenant.project_id and me["role"] == "compliance"
    assert "alerts:manage" in me["permissions"] and "keys:manage" not in me["permissions"]
    assert client.get("/v1/whoami").status_code == 401


def test_volume_is_counted_per_bucket(client, tenant):
    setup_model(client, tenant)
    hourly = client.get(
        "/v1/models/churn/volume",
        params=window(at(0), at(days=1)),
        headers=tenant.headers(Role.VIEWER),
    )
    assert hourly.status_code == 200, hourly.text
    points = hourly.json()["points"]
    assert [(p["bucket_start"][:16], p["predictions"]) for p in points] == [
        (iso(at(0))[:16], 60),
        (iso(at(hours=1))[:16], 60),
        (iso(at(hours=2))[:16], 30),
    ]
    assert [p["labeled"] for p in points] == [20, 20, 10]
    assert points[0]["mean_latency_ms"] == 3.5
    daily = client.get(
        "/v1/models/churn/volume",
        params={**window(at(days=-31), at(days=30)), "bucket": "day"},
        headers=tenant.headers(Role.VIEWER),
    ).json()["points"]
    assert [(p["bucket_start"][:10], p["predictions"]) for p in daily] == [(iso(at(0))[:10], 150)]
    backwards = client.get(
        "/v1/models/churn/volume",
        params=window(at(days=1), at(0)),
        headers=tenant.headers(Role.VIEWER),
    )
    assert backwards.status_code == 422


def test_one_prediction_is_explained_on_demand(client, tenant):
    setup_model(client, tenant)
    admin = tenant.headers()
    no_artifact = client.get("/v1/predictions/evt-7/explanation", headers=admin)
    assert no_artifact.status_code == 409
    put = client.put(
        "/v1/models/churn/versions/v1/artifact",
        content=tiny_torchscript(3),
        headers={**admin, "Content-Type": "application/octet-stream"},
    )
    assert put.status_code in (200, 201), put.text
    csv = "f_num_a,f_num_b,color,group\n" + "".join(
        f"{i},{i / 2},{['red', 'green', 'blue'][i % 3]},g{i % 2}\n" for i in range(60)
    )
    uploaded = client.post(
        "/v1/models/churn/versions/v1/references?name=training",
        content=csv.encode(),
        headers={**admin, "Content-Type": "text/csv"},
    )
    assert uploaded.status_code in (200, 201), uploaded.text
    answer = client.get("/v1/predictions/evt-7/explanation", headers=tenant.headers(Role.VIEWER))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["features"]["f_num_a"] == 7.0
    assert set(body["attributions"]) == {"f_num_a", "f_num_b", "color"}
    assert body["method"] == "exact"
    # Additivity: the attributions sum to the model's output less the base value.
    total = sum(body["attributions"].values())
    assert abs(total - (body["model_output"] - body["base_value"])) < 1e-4
    missing = client.get("/v1/predictions/nope/explanation", headers=admin)
    assert missing.status_code == 404
