"""Release governance end to end, on both databases, through the HTTP API and the
CLI: a candidate's gate fails on bias and names its run; traffic changes and it
passes; the proposer cannot approve, a compliance key does; a canary promotion;
rollback restores v1. Every step is audited, the chain verifies, and the evidence
pack holds the transitions and evaluations and verifies offline."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner
from verity_sdk import VerityClient

from backend.api.roles import Role
from backend.cli import app as cli
from backend.clock import ManualClock
from backend.config import Settings, get_settings
from backend.db import Database
from tests.backend.runs.test_end_to_end import FEATURES, VERSION, frame
from tests.factories import Tenant
from tests.live import LiveApi
from tests.support.timeline import at, iso

POLICY: dict[str, Any] = {
    "conditions": [
        {"monitor": "bias", "metric": "demographic_parity_ratio", "op": ">=", "threshold": 0.8},
        {"kind": "no_open_alerts", "severity": "critical"},
    ],
    "approval_max_age_hours": 24,
}


def post(client: TestClient, headers: dict[str, str], path: str, body: Any) -> Any:
    answer = client.post(path, json=body, headers=headers)
    assert answer.status_code in (200, 201), answer.text
    return answer.json()


def traffic(
    client: TestClient, headers: dict[str, str], version: str, day: int, unfair: float
) -> Any:
    rng = np.random.default_rng(day * 10 + int(version[1:]))
    data = frame(1500, rng, shift=0.0, unfair=unfair)
    records = [
        {
            "event_id": f"{version}-{day}-{i}",
            "model": "loans",
            "version": version,
            "occurred_at": iso(at(days=day, seconds=50 * i)),
            "features": {**{n: float(row[n]) for n in FEATURES}, "group": row["group"]},
            "prediction": int(row["prediction"]),
        }
        for i, row in enumerate(data.to_dict("records"))
    ]
    post(client, headers, "/v1/predictions", {"records": records})
    labels = [{"event_id": f"{version}-{day}-{i}", "label": int(v)}
              for i, v in enumerate(data["label"])]  # fmt: skip
    post(client, headers, "/v1/labels", {"labels": labels})
    return data


def register(client: TestClient, headers: dict[str, str], version: str) -> int:
    post(client, headers, "/v1/models/loans/versions", {**VERSION, "version": version})
    buffer = io.StringIO()
    frame(2000, np.random.default_rng(1), shift=0.0, unfair=0.0).to_csv(buffer, index=False)
    client.post(
        f"/v1/models/loans/versions/{version}/references?name=training",
        content=buffer.getvalue().encode(),
        headers={**headers, "Content-Type": "text/csv"},
    ).raise_for_status()
    monitor = post(
        client,
        headers,
        f"/v1/models/loans/versions/{version}/monitors",
        {"name": "bias", "kind": "bias", "window": {"duration": "1d"}, "schedule": {"every": "1d"},
         "params": {"intersections": False}},
    )  # fmt: skip
    return int(monitor["id"])


def move(client: TestClient, headers: dict[str, str], version: str, to: str, person: str,
         **extra: Any) -> Any:  # fmt: skip
    return client.post(
        f"/v1/models/loans/versions/{version}/transitions",
        json={"to": to, "person": person, "reason": f"{to} by {person}", **extra},
        headers=headers,
    )


@pytest.fixture
def live(settings: Settings, client: TestClient) -> Iterator[str]:
    api = LiveApi(settings).start()
    yield api.url
    api.stop()


def test_release_with_gates_two_persons_canary_and_rollback(
    client: TestClient,
    tenant: Tenant,
    settings: Settings,
    database: Database,
    manual_clock: ManualClock,
    live: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    admin, compliance = tenant.headers(), tenant.headers(Role.COMPLIANCE)
    manual_clock.set(at(days=1, hours=1))
    post(client, admin, "/v1/models", {"name": "loans", "task": "binary"})
    bias_v1 = register(client, admin, "v1")
    bias_v2 = register(client, admin, "v2")
    # Bad policies are clear 422s.
    bad = client.put("/v1/models/loans/gate-policy", headers=admin, json={
        "conditions": [{"monitor": "bias", "metric": "astrology", "op": ">=", "threshold": 1}]})  # fmt: skip
    assert bad.status_code == 422
    assert "a bias monitor reports no 'astrology'" in bad.text
    elsewhere = client.put("/v1/models/loans/gate-policy", headers=admin, json={
        "conditions": [{"monitor": "drift", "metric": "share_drifted", "op": "<", "threshold": 0.3}]})  # fmt: skip
    assert elsewhere.status_code == 422
    assert "no version of 'loans' has a monitor named 'drift'" in elsewhere.text
    policy = client.put("/v1/models/loans/gate-policy", json=POLICY, headers=admin)
    assert policy.status_code == 200, policy.text
    assert policy.json()["revision"] == 1

    # v1 goes through: fair traffic, a passing gate, two people, production.
    v1_traffic = traffic(client, admin, "v1", 0, unfair=0.0)
    post(client, admin, f"/v1/monitors/{bias_v1}/run", {"end": iso(at(days=1))})
    assert move(client, admin, "v1", "candidate", "Ana").status_code == 201
    assert post(client, admin, "/v1/models/loans/versions/v1/gate", None)["passed"]
    assert move(client, compliance, "v1", "approved", "Bo").status_code == 201
    assert move(client, admin, "v1", "production", "Ana").status_code == 201

    # 1. v2 is a candidate; its gate fails on bias and names the run.
    traffic(client, admin, "v2", 0, unfair=0.4)
    unfair_run = post(client, admin, f"/v1/monitors/{bias_v2}/run", {"end": iso(at(days=1))})
    not_candidate = move(client, compliance, "v2", "approved", "Bo")
    assert not_candidate.status_code == 409
    assert "v2 is registered; it cannot become approved" in not_candidate.json()["detail"]
    assert move(client, admin, "v2", "candidate", "Ana").status_code == 201
    failing = post(client, admin, "/v1/models/loans/versions/v2/gate", None)
    assert failing["passed"] is False
    bias_condition = failing["conditions"][0]
    assert bias_condition["passed"] is False
    assert bias_condition["run_id"] == unfair_run["run"]["id"]
    assert f"run {unfair_run['run']['id']}: demographic_parity_ratio" in bias_condition["why"]
    refused = move(client, compliance, "v2", "approved", "Bo")
    assert refused.status_code == 409 and "failed" in refused.json()["detail"]
    # `verity gate` fails the pipeline.
    runner = CliRunner()
    args = ["gate", "--model", "loans", "--version", "v2", "--api-url", live,
            "--api-key", tenant.tokens[Role.VIEWER]]  # fmt: skip
    failed = runner.invoke(cli, args)
    assert failed.exit_code == 1, failed.output
    assert "gate FAILED" in failed.output and "NO" in failed.output

    # 2. Traffic changes: the next day is fair, and the gate passes.
    manual_clock.set(at(days=2, hours=1))
    traffic(client, admin, "v2", 1, unfair=0.0)
    post(client, admin, f"/v1/monitors/{bias_v2}/run", {"end": iso(at(days=2))})
    passed = runner.invoke(cli, args)
    assert passed.exit_code == 0, passed.output
    assert "gate PASSED" in passed.output
    latest = client.get("/v1/models/loans/versions/v2/gate", headers=admin).json()
    assert latest["passed"] is True

    # 3. The proposer may not approve: not with its key, nor as the same person.
    own_key = move(client, admin, "v2", "approved", "Bo")
    assert own_key.status_code == 403 and "two-person rule" in own_key.json()["detail"]
    same_person = move(client, compliance, "v2", "approved", "ana")
    assert same_person.status_code == 403
    viewer = move(client, tenant.headers(Role.VIEWER), "v2", "approved", "Cy")
    assert viewer.status_code == 403

    # Its model card: a draft, submitted by one person, approved by another.
    card = {"intended_use": "pre-screening of car loans", "intended_users": "credit analysts",
            "out_of_scope_uses": "final decisions without review", "risk_tier": "high",
            "risk_rationale": "creditworthiness (Annex III 5(b))", "owners": ["risk-ml"],
            "known_limitations": "trained on one country's applicants"}  # fmt: skip
    written = client.put("/v1/models/loans/versions/v2/card", json=card, headers=admin)
    assert written.status_code == 201, written.text
    assert written.json()["state"] == "draft" and written.json()["revision"] == 1
    assert client.post("/v1/models/loans/versions/v2/card:submit", json={"person": "Ana"},
                       headers=admin).status_code == 200  # fmt: skip
    own = client.post("/v1/models/loans/versions/v2/card:approve", json={"person": "Ana"},
                      headers=compliance)  # fmt: skip
    assert own.status_code == 403 and "two-person rule" in own.text
    card_ok = client.post("/v1/models/loans/versions/v2/card:approve", json={"person": "Bo"},
                          headers=compliance)  # fmt: skip
    assert card_ok.status_code == 200, card_ok.text
    plan = card_ok.json()["monitoring_plan"]
    assert [m["name"] for m in plan["monitors"]] == ["bias"]
    assert plan["gate_conditions"] == ["bias.demographic_parity_ratio >= 0.8",
                                       "no open critical+ alerts"]  # fmt: skip
    text = client.get("/v1/models/loans/versions/v2/card.md", headers=admin).text
    assert "## Monitoring plan (Art. 72)" in text and "Tier: **high**" in text
    # Editing makes a new draft revision; the approved one stays as it was.
    revised = client.put("/v1/models/loans/versions/v2/card", json=card, headers=admin).json()
    assert (revised["revision"], revised["state"]) == (2, "draft")
    first = client.get("/v1/models/loans/versions/v2/card", params={"revision": 1},
                       headers=admin).json()  # fmt: skip
    assert (first["state"], first["approved_person"]) == ("approved", "Bo")

    # 4. A compliance key approves, citing the passing evaluation.
    approved = move(client, compliance, "v2", "approved", "Bo")
    assert approved.status_code == 201, approved.text
    assert approved.json()["gate_evaluation_id"] == latest["id"]

    # 5. A canary: v2 takes 10 % of the traffic, v1 stays champion.
    canary = move(client, admin, "v2", "production", "Ana",
                  rollout={"mode": "canary", "traffic_share": 0.1})  # fmt: skip
    assert canary.status_code == 201, canary.text
    states = {v["version"]: v for v in client.get("/v1/models/loans/lifecycle",
                                                  headers=admin).json()["versions"]}  # fmt: skip
    assert (states["v1"]["role"], states["v1"]["traffic_share"]) == ("champion", 0.9)
    assert (states["v2"]["role"], states["v2"]["traffic_share"]) == ("challenger", 0.1)

    # The challenger predicts v1's requests in shadow, through the SDK; a comparison
    # monitor pairs them, and a gate condition reads its delta.
    with VerityClient(live, tenant.tokens[Role.INGEST], "loans", "v2") as shadow:
        for i, row in enumerate(v1_traffic.to_dict("records")):
            shadow.log(
                {**{n: float(row[n]) for n in FEATURES}, "group": row["group"]},
                int(row["prediction"]) if i % 10 else 1 - int(row["prediction"]),
                occurred_at=at(days=0, seconds=50 * i),
                shadow_of=f"v1-0-{i}",
            )
        assert shadow.flush(60)
    compared = post(client, admin, "/v1/models/loans/versions/v2/monitors", {
        "name": "vs-v1", "kind": "comparison", "params": {"champion": "v1", "mode": "shadow"},
        "window": {"start": iso(at(0)), "end": iso(at(days=1))}})  # fmt: skip
    comparison = post(client, admin, f"/v1/monitors/{compared['id']}/run", None)["run"]
    assert comparison["status"] in ("ok", "alert"), comparison
    assert comparison["reference_source"].startswith("champion:v1@")
    result = comparison["result"]
    assert result["paired_rows"] == 1500
    assert result["agreement_rate"] == pytest.approx(0.9, abs=0.001)
    client.put("/v1/models/loans/gate-policy", headers=admin, json={"conditions": [
        *POLICY["conditions"],
        {"monitor": "vs-v1", "metric": "accuracy_delta:low", "op": ">=", "threshold": -0.2}]})  # fmt: skip
    gated = post(client, admin, "/v1/models/loans/versions/v2/gate", None)
    condition = gated["conditions"][-1]
    assert condition["run_id"] == comparison["id"]
    assert condition["observed"] == result["delta_interval"]["low"]

    # 6. Rollback restores v1, in one call.
    rolled = client.post("/v1/models/loans:rollback", headers=admin,
                         json={"person": "Ana", "reason": "canary latency"})  # fmt: skip
    assert rolled.status_code == 200, rolled.text
    lifecycle = client.get("/v1/models/loans/lifecycle", headers=admin).json()
    states = {v["version"]: v for v in lifecycle["versions"]}
    assert (states["v1"]["stage"], states["v1"]["traffic_share"]) == ("production", 1.0)
    assert states["v2"]["stage"] == "rejected"
    assert [t["to_stage"] for t in lifecycle["transitions"] if t["version"] == "v2"] == [
        "candidate", "approved", "production", "rejected"]  # fmt: skip

    status = client.get("/v1/models/loans/status", headers=admin).json()
    assert {(v["version"], v["stage"], v["traffic_share"]) for v in status["versions"]} == {
        ("v1", "production", 1.0), ("v2", "rejected", None)}  # fmt: skip

    # Every step is audited, and the chain verifies.
    actions = [e["action"] for e in client.get(
        "/v1/audit", params={"limit": 500}, headers=compliance).json()["items"]]  # fmt: skip
    assert actions.count("model_version.transition") == 6
    assert actions.count("model_version.rollback") == 2
    assert "gate_policy.set" in actions and actions.count("gate.evaluate") >= 4
    monkeypatch.setenv("VERITY_DATABASE_URL", database.url)
    monkeypatch.setenv("VERITY_SECRET_KEY", settings.secret_key)
    get_settings.cache_clear()
    try:
        verified = runner.invoke(cli, ["audit", "verify", "--project", tenant.name])
        assert verified.exit_code == 0, verified.output
    finally:
        get_settings.cache_clear()

    # The evidence pack of the period holds transitions and evaluations, and verifies.
    exported = client.post("/v1/models/loans/versions/v2/evidence", headers=compliance,
                           json={"start": iso(at(0)), "end": iso(at(days=3))})  # fmt: skip
    assert exported.status_code == 200, exported.text
    archive = zipfile.ZipFile(io.BytesIO(exported.content))
    transitions = list(csv.DictReader(io.StringIO(archive.read("transitions.csv").decode())))
    assert [(t["to"], t["person"]) for t in transitions] == [
        ("candidate", "Ana"), ("approved", "Bo"), ("production", "Ana"), ("rejected", "Ana")]  # fmt: skip
    evaluations = list(csv.DictReader(io.StringIO(archive.read("gate_evaluations.csv").decode())))
    assert "Revision 1 · **approved** · approved by Bo" in archive.read("model_card.md").decode()
    assert {e["passed"] for e in evaluations} == {"yes", "no"}
    key = client.get("/v1/evidence/public-key", headers=compliance).json()["public_key"]
    file = tmp_path / "pack.zip"
    file.write_bytes(exported.content)
    checked = runner.invoke(cli, ["audit", "verify-pack", str(file), "--public-key", key])
    assert checked.exit_code == 0, checked.output
