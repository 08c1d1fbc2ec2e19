"""What real data showed (issue 15): baselines are pinned and changed only by an
audited update; fixed windows run once without a schedule; cost can compare against a
reference that carries compute figures, and says why when it cannot; scores drift
too; budget figures explain themselves; explanations name their reference."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from backend.api.roles import Role
from backend.clock import ManualClock
from backend.config import Settings
from backend.db import Database
from backend.models import CheckRun
from backend.scheduler import CheckScheduler
from tests.factories import Tenant, record, register_model, tiny_torchscript
from tests.support.timeline import at, iso, window

URL = "/v1/models/churn/versions/v1/monitors"


def upload_reference(client: TestClient, tenant: Tenant, name: str, rows: str) -> dict[str, Any]:
    answer = client.post(
        f"/v1/models/churn/versions/v1/references?name={name}",
        content=rows.encode(),
        headers={**tenant.headers(), "Content-Type": "text/csv"},
    )
    assert answer.status_code in (200, 201), answer.text
    return dict(answer.json())


def csv(n: int, shift: float = 0.0, extra: str = "") -> str:
    header = "f_num_a,f_num_b,color,group" + ("," + extra if extra else "")
    lines = [header]
    for i in range(n):
        row = f"{i + shift},{i / 2},{['red', 'green', 'blue'][i % 3]},g{i % 2}"
        if extra:
            row += ",4.0,0.004"
        lines.append(row)
    return "\n".join(lines) + "\n"


def post(client: TestClient, tenant: Tenant, records: list[dict[str, Any]]) -> None:
    answer = client.post("/v1/predictions", json={"records": records}, headers=tenant.headers())
    assert answer.status_code == 200, answer.text


def run(client: TestClient, tenant: Tenant, monitor_id: int, **body: Any) -> dict[str, Any]:
    answer = client.post(f"/v1/monitors/{monitor_id}/run", json=body, headers=tenant.headers())
    assert answer.status_code == 200, answer.text
    return dict(answer.json()["run"])


def test_a_fixed_window_runs_once_without_a_schedule(
    client: TestClient, tenant: Tenant, database: Database, settings: Settings
) -> None:
    register_model(client, tenant)
    post(client, tenant, [record(i) for i in range(60)])
    created = client.post(
        URL,
        json={
            "name": "once",
            "kind": "cost",
            "params": {"price_per_1k_predictions": 1.0},
            "window": window(at(0), at(hours=1)),
        },
        headers=tenant.headers(),
    )
    assert created.status_code == 201, created.text
    monitor = created.json()
    assert monitor["schedule"] is None
    assert monitor["next_run_at"] in (iso(at(hours=1)), at(hours=1).isoformat())
    scheduler = CheckScheduler(settings, database)
    try:
        scheduler.tick()
    finally:
        scheduler.client.close()
    with database.transaction(read_only=True) as session:
        runs = session.scalars(select(CheckRun).where(CheckRun.monitor_id == monitor["id"])).all()
    assert [(r.rows, r.status) for r in runs] == [(60, "ok")]
    after = client.get(f"/v1/monitors/{monitor['id']}", headers=tenant.headers()).json()
    assert after["next_run_at"] is None
    # A trailing window still needs one.
    trailing = client.post(
        URL,
        json={"name": "t", "kind": "cost", "params": {"price_per_1k_predictions": 1.0},
              "window": {"duration": "1d"}},
        headers=tenant.headers(),
    )  # fmt: skip
    assert trailing.status_code == 422
    assert "needs a schedule" in trailing.text


def test_a_baseline_is_pinned_and_changed_only_by_an_audited_update(
    client: TestClient, tenant: Tenant
) -> None:
    register_model(client, tenant)
    post(client, tenant, [record(i) for i in range(120)])
    first = upload_reference(client, tenant, "training", csv(60))
    created = client.post(
        URL,
        json={"name": "drift", "kind": "drift", "window": window(at(0), at(days=1))},
        headers=tenant.headers(),
    ).json()
    assert created["reference"]["sha256"] == first["content_sha256"]
    # A newer upload does not move the baseline.
    second = upload_reference(client, tenant, "recent", csv(60, shift=100))
    pinned = run(client, tenant, created["id"])
    assert pinned["reference_sha256"] == first["content_sha256"]
    # Re-pointing it is explicit, and audited with both ends.
    patched = client.patch(
        f"/v1/monitors/{created['id']}",
        json={"reference": {"kind": "dataset", "dataset": "recent"}},
        headers=tenant.headers(),
    ).json()
    assert patched["reference"]["sha256"] == second["content_sha256"]
    events = client.get(
        "/v1/audit", params={"action": "monitor.reference_change"}, headers=tenant.headers()
    ).json()["items"]
    (change,) = events
    assert change["payload"]["from"]["sha256"] == first["content_sha256"]
    assert change["payload"]["to"]["sha256"] == second["content_sha256"]
    # Asking for "the dataset" where there is none to pin is refused.
    register_model(client, tenant, name="bare")
    bare = client.post(
        "/v1/models/bare/versions/v1/monitors",
        json={"name": "d", "kind": "drift", "window": window(at(0), at(days=1)),
              "reference": {"kind": "dataset"}},
        headers=tenant.headers(),
    )  # fmt: skip
    assert bare.status_code == 422
    assert "no reference dataset to pin" in bare.json()["detail"]


def test_defaults_pin_their_baselines_and_cost_compares_with_the_first_week(
    client: TestClient,
    tenant: Tenant,
    database: Database,
    settings: Settings,
    manual_clock: ManualClock,
) -> None:
    register_model(client, tenant)
    upload_reference(client, tenant, "training", csv(60))
    manual_clock.set(at(days=3, hours=12))
    post(client, tenant, [record(i, occurred_at=iso(at(hours=i))) for i in range(10 * 24)])
    created = client.post(URL + ":default", headers=tenant.headers()).json()
    by_name = {m["name"]: m for m in created["created"]}
    assert by_name["drift"]["reference"]["dataset"] == "training"
    assert by_name["cost"]["reference"]["kind"] == "first_week"
    cost_id = by_name["cost"]["id"]
    early = run(client, tenant, cost_id, end=iso(at(days=3)))
    assert early["reference_source"].startswith("first_week: the first week of traffic ends")
    assert early["result"]["shift_detail"] == "the reference has no rows to compare with"
    manual_clock.set(at(days=8, hours=1))
    later = run(client, tenant, cost_id, end=iso(at(days=8)))
    assert later["reference_source"] == f"window:{at(0).isoformat()}/{at(days=7).isoformat()}"
    assert abs(later["result"]["per_prediction_shift"]) < 1e-12  # the same cost per row
    pinned = client.get(f"/v1/monitors/{cost_id}", headers=tenant.headers()).json()
    assert pinned["reference"] == {
        "kind": "window",
        "dataset": None,
        "start": pinned["reference"]["start"],
        "end": pinned["reference"]["end"],
        "sha256": None,
    }
    actions = [
        e["actor"]
        for e in client.get(
            "/v1/audit", params={"action": "monitor.reference_change"}, headers=tenant.headers()
        ).json()["items"]
    ]
    assert actions == ["verity:scheduler"]


def test_cost_compares_with_a_reference_carrying_compute_figures_and_says_why_not(
    client: TestClient, tenant: Tenant
) -> None:
    register_model(client, tenant)
    post(client, tenant, [record(i) for i in range(100)])  # 0.002 s each
    with_compute = upload_reference(
        client, tenant, "ops", csv(50, extra="latency_ms,compute_seconds")
    )
    assert {"latency_ms", "compute_seconds"} <= set(with_compute["columns"])
    upload_reference(client, tenant, "plain", csv(50))
    results = {}
    for name in ("ops", "plain"):
        created = client.post(
            URL,
            json={
                "name": f"cost-{name}",
                "kind": "cost",
                "params": {"price_per_compute_second": 1.0, "budget": 1.0,
                           "budget_period": "day"},
                "window": window(at(0), at(hours=2)),
                "reference": {"kind": "dataset", "dataset": name},
            },
            headers=tenant.headers(),
        )  # fmt: skip
        assert created.status_code == 201, created.text
        results[name] = run(client, tenant, created.json()["id"])["result"]
    ops, plain = results["ops"], results["plain"]
    assert abs(ops["per_prediction_shift"] + 0.5) < 1e-12  # 0.002 s now, 0.004 s then
    assert ops["reference"]["status"] == "ok"
    assert plain["per_prediction_shift"] is None
    assert plain["reference"]["status"] == "insufficient_data"
    assert (
        plain["reference"]["detail"]
        == "no compute_seconds figures: the cost of this window is unknown"
    )
    assert "the reference: no compute_seconds" in plain["shift_detail"]
    # The budget figures say what they are.
    assert (ops["budget_period"], ops["budget_period_days"], ops["window_days"]) == (
        "day",
        1.0,
        2 / 24,
    )
    assert "per day" in ops["forecast_explanation"]
    assert "a 1-day day costs" in ops["forecast_explanation"]


def test_scores_drift_too_unless_switched_off(client: TestClient, tenant: Tenant) -> None:
    register_model(client, tenant)
    scored = [record(i, score=0.1 + 0.8 * (i % 10) / 10) for i in range(200)]
    post(client, tenant, scored)
    reference_rows = "f_num_a,f_num_b,color,group,prediction,score\n" + "".join(
        f"{i},{i / 2},red,g1,{i % 2},{0.05 * (i % 3)}\n" for i in range(100)
    )
    upload_reference(client, tenant, "scored", reference_rows)
    columns = {}
    for include in (True, False):
        created = client.post(
            URL,
            json={"name": f"drift-{include}", "kind": "drift",
                  "params": {"include_score": include},
                  "window": window(at(0), at(days=1)),
                  "reference": {"kind": "dataset", "dataset": "scored"}},
            headers=tenant.headers(),
        ).json()  # fmt: skip
        result = run(client, tenant, created["id"])["result"]
        columns[include] = {c["column"] for c in result["columns"]}
    assert "score" in columns[True] and "score" not in columns[False]


def test_an_explanation_names_its_reference_and_several_need_a_choice(
    client: TestClient, tenant: Tenant
) -> None:
    register_model(client, tenant)
    post(client, tenant, [record(i) for i in range(20)])
    put = client.put(
        "/v1/models/churn/versions/v1/artifact",
        content=tiny_torchscript(3),
        headers={**tenant.headers(), "Content-Type": "application/octet-stream"},
    )
    assert put.status_code in (200, 201), put.text
    first = upload_reference(client, tenant, "training", csv(40))
    url = "/v1/predictions/evt-5/explanation"
    only = client.get(url, headers=tenant.headers(Role.VIEWER)).json()
    assert only["reference_sha256"] == first["content_sha256"]
    upload_reference(client, tenant, "recent", csv(40, shift=50))
    ambiguous = client.get(url, headers=tenant.headers(Role.VIEWER))
    assert ambiguous.status_code == 422
    assert "training" in ambiguous.json()["detail"] and "recent" in ambiguous.json()["detail"]
    chosen = client.get(url, params={"reference": "recent"}, headers=tenant.headers(Role.VIEWER))
    assert chosen.status_code == 200, chosen.text
    assert chosen.json()["reference"].startswith("dataset:recent@")
