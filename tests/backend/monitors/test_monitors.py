import pytest

from backend.api.roles import Role
from tests.factories import register_model
from tests.support.jobs import backfill
from tests.support.timeline import at, iso, window

BASE = {
    "name": "drift-daily",
    "kind": "drift",
    "window": {"duration": "1d"},
    "schedule": {"every": "1h"},
}
URL = "/v1/models/churn/versions/v1/monitors"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"params": {"drift_share": 2}}, "params.drift_share"),
        ({"params": {"stattest": "nope"}}, "params.stattest"),
        ({"params": {"unknown": 1}}, "params.unknown"),
        ({"kind": "magic"}, "kind"),
        ({"window": {"duration": "1 fortnight"}}, "window.duration"),
        ({"schedule": {"cron": "61 * * * *"}}, "schedule.cron"),
        ({"schedule": {"every": "1h", "cron": "0 * * * *"}}, "schedule"),
    ],
)
def test_bad_monitor_specs_are_422s_naming_the_field(client, tenant, change, field):
    register_model(client, tenant)
    response = client.post(URL, json={**BASE, **change}, headers=tenant.headers())
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    fields = [
        e.get("field") or ".".join(map(str, e.get("loc", []))) for e in response.json()["errors"]
    ]
    assert any(field in f for f in fields), fields


def test_create_update_disable_and_audit(client, tenant):
    register_model(client, tenant)
    created = client.post(URL, json=BASE, headers=tenant.headers())
    assert created.status_code == 201, created.text
    monitor = created.json()
    assert monitor["params"]["drift_share"] == 0.5  # defaults filled in, as stored
    assert monitor["window"]["duration"] == "1d"
    assert client.post(URL, json=BASE, headers=tenant.headers()).status_code == 409
    patched = client.patch(
        f"/v1/monitors/{monitor['id']}",
        json={"enabled": False, "severity": "critical"},
        headers=tenant.headers(),
    ).json()
    assert patched["enabled"] is False
    assert patched["severity"] == "critical"
    actions = [
        e["action"] for e in client.get("/v1/audit", headers=tenant.headers()).json()["items"]
    ]
    assert {"monitor.create", "monitor.update"} <= set(actions)
    viewer = client.patch(
        f"/v1/monitors/{monitor['id']}", json={"enabled": True}, headers=tenant.headers(Role.VIEWER)
    )
    assert viewer.status_code == 403


def test_defaults_follow_the_version_and_are_idempotent(client, tenant):
    register_model(client, tenant)
    first = client.post(URL + ":default", headers=tenant.headers()).json()
    kinds = {m["kind"] for m in first["created"]}
    # No artifact: explain is skipped; no labelled reference: so is performance.
    assert kinds == {"drift", "bias", "cost", "data_quality"}
    assert any(s.startswith("explain:") for s in first["skipped"])
    assert any(s.startswith("performance: the reference dataset") for s in first["skipped"])
    bias = next(m for m in first["created"] if m["kind"] == "bias")
    assert bias["params"]["positive_label"] == 1
    second = client.post(URL + ":default", headers=tenant.headers()).json()
    assert second["created"] == []


def test_manual_run_and_backfill_never_double_count(client, tenant, database, settings):
    from tests.factories import record

    register_model(client, tenant)
    client.post(
        "/v1/predictions",
        json={"records": [record(i) for i in range(300)]},
        headers=tenant.headers(),
    )
    spec = {
        **BASE,
        "kind": "cost",
        "params": {"price_per_1k_predictions": 2.0},
        "window": {"duration": "1h"},
        "schedule": {"every": "1h"},
    }
    monitor = client.post(URL, json=spec, headers=tenant.headers()).json()
    body = window(at(hours=1), at(hours=5))
    done = {"database": database, "settings": settings}
    first = backfill(client, tenant.headers(), monitor["id"], body, **done)
    assert first["state"] == "done"
    assert len(first["windows"]) == first["windows_done"] == 5
    assert first["runs_created"] == 5
    assert first["errors"] == []
    again = backfill(client, tenant.headers(), monitor["id"], body, **done)
    assert again["runs_created"] == 0
    assert again["runs_existing"] == 5
    assert again["run_ids"] == first["run_ids"]
    rows = [
        client.get(f"/v1/runs/{run_id}", headers=tenant.headers()).json()["rows"]
        for run_id in first["run_ids"]
    ]
    assert rows == [60, 60, 60, 60, 60]  # one record a minute
    page = client.get(
        f"/v1/monitors/{monitor['id']}/runs?limit=2", headers=tenant.headers(Role.VIEWER)
    ).json()
    assert len(page["items"]) == 2
    assert page["next_cursor"] is not None
    run = client.get(f"/v1/runs/{page['items'][0]['id']}", headers=tenant.headers()).json()
    assert run["result"]["current"]["total_cost"] == pytest.approx(60 * 2.0 / 1000)
    manual = client.post(
        f"/v1/monitors/{monitor['id']}/run",
        json={"end": iso(at(hours=3))},
        headers=tenant.headers(),
    ).json()
    assert manual["created"] is False  # that window has its run
