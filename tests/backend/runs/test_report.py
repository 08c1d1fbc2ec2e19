"""A drift monitor may ask for Evidently's own HTML report on a sample of each run."""

from __future__ import annotations

import hashlib

from fastapi.testclient import TestClient

from backend.api.roles import Role
from tests.factories import Tenant, record, register_model
from tests.support.timeline import at, window


def drift_monitor(client: TestClient, tenant: Tenant, name: str, report_rows: int) -> int:
    created = client.post(
        "/v1/models/churn/versions/v1/monitors",
        json={
            "name": name,
            "kind": "drift",
            "params": {"report_rows": report_rows},
            "window": window(at(0), at(days=1)),
            "schedule": {"every": "1d"},
        },
        headers=tenant.headers(),
    )
    assert created.status_code == 201, created.text
    return int(created.json()["id"])


def test_drift_runs_keep_an_evidently_report_when_asked(client, tenant):
    register_model(client, tenant)
    admin = tenant.headers()
    records = [record(i, features={"f_num_a": float(i % 37), "f_num_b": i * 0.5, "color": "red",
                                    "group": "g1"}) for i in range(120)]  # fmt: skip
    assert (
        client.post("/v1/predictions", json={"records": records}, headers=admin).status_code == 200
    )
    csv = "f_num_a,f_num_b,color,group\n" + "".join(
        f"{i % 11},{i / 3},{['red', 'green'][i % 2]},g1\n" for i in range(200)
    )
    client.post(
        "/v1/models/churn/versions/v1/references?name=training",
        content=csv.encode(),
        headers={**admin, "Content-Type": "text/csv"},
    ).raise_for_status()
    with_report = drift_monitor(client, tenant, "drift-report", 100)
    run = client.post(f"/v1/monitors/{with_report}/run", headers=admin).json()["run"]
    report = run["result"]["report"]
    assert report["rows"] == 100 and report["evidently"].startswith("0.7")
    html = client.get(f"/v1/runs/{run['id']}/report", headers=tenant.headers(Role.VIEWER))
    assert html.status_code == 200
    assert html.headers["content-type"].startswith("text/html")
    assert "attachment" in html.headers["content-disposition"]
    assert hashlib.sha256(html.content).hexdigest() == report["sha256"]
    assert b"f_num_a" in html.content and b"Drift" in html.content
    plain = drift_monitor(client, tenant, "drift-plain", 0)
    plain_run = client.post(f"/v1/monitors/{plain}/run", headers=admin).json()["run"]
    assert "report" not in plain_run["result"]
    assert client.get(f"/v1/runs/{plain_run['id']}/report", headers=admin).status_code == 404
