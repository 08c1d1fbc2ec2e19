"""The review queue, on both databases: of 10,000 predictions exactly the 5 % below
the confidence bound are queued, once each, under concurrent ingest and idempotent
replays; reviewers claim with a lease and decide; decisions become labels (audited)
and the next performance run counts them; a reviewer key does nothing else."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import numpy as np
from fastapi.testclient import TestClient

from backend.api.roles import Role
from backend.clock import ManualClock
from backend.config import Settings
from tests.factories import SCHEMA, Tenant, register_model
from tests.live import LiveApi
from tests.support.timeline import at, iso, window

ROWS = 10_000


def records() -> list[dict[str, Any]]:
    rng = np.random.default_rng(7)
    unsure = set(rng.choice(ROWS, ROWS // 20, replace=False).tolist())
    out = []
    for i in range(ROWS):
        score = float(rng.uniform(0.46, 0.54) if i in unsure else rng.choice([0.05, 0.95]) +
                      rng.uniform(-0.04, 0.04))  # fmt: skip
        out.append({
            "event_id": f"q-{i}", "model": "churn", "version": "v1",
            "occurred_at": iso(at(hours=1, seconds=i)),
            "features": {"f_num_a": float(i), "f_num_b": 1.0, "color": "red", "group": "g1"},
            "prediction": int(score >= 0.5), "score": score,
        })  # fmt: skip
    return out


def test_queue_selects_once_under_concurrency_and_decisions_become_labels(
    client: TestClient, tenant: Tenant, settings: Settings, manual_clock: ManualClock
) -> None:
    manual_clock.set(at(days=1))
    register_model(client, tenant, version=SCHEMA)
    policy = client.put("/v1/models/churn/versions/v1/review-policy", headers=tenant.headers(),
                        json={"max_confidence": 0.55, "sla_hours": 4,
                              "max_override_rate": 0.3})  # fmt: skip
    assert policy.status_code == 200, policy.text
    bad = client.put("/v1/models/churn/versions/v1/review-policy", headers=tenant.headers(),
                     json={"segment": {"no_such_feature": "x"}})  # fmt: skip
    assert bad.status_code == 422
    rows = records()
    batches = [rows[i : i + 500] for i in range(0, ROWS, 500)]
    api = LiveApi(settings).start()
    ingest = tenant.headers(Role.INGEST)
    try:

        def post(batch: list[dict[str, Any]], key: str | None) -> int:
            headers = {**ingest, **({"Idempotency-Key": key} if key else {})}
            return httpx.post(f"{api.url}/v1/predictions", json={"records": batch},
                              headers=headers, timeout=60).status_code  # fmt: skip

        # Each batch twice at once (one with an idempotency key, replayed), and once more.
        jobs = [(b, f"k-{n}") for n, b in enumerate(batches)] * 2 + [(b, None) for b in batches]
        with ThreadPoolExecutor(max_workers=4) as pool:
            statuses = list(pool.map(lambda job: post(*job), jobs))
        assert set(statuses) <= {200, 409}, statuses
    finally:
        api.stop()
    unsure = {r["event_id"] for r in rows if max(r["score"], 1 - r["score"]) < 0.55}
    assert len(unsure) == ROWS // 20
    reviewer = tenant.headers(Role.REVIEWER)
    health = client.get("/v1/models/churn/versions/v1/review-queue", headers=reviewer).json()
    assert (health["pending"], health["claimed"], health["decided"]) == (len(unsure), 0, 0)

    # A reviewer key reviews, and reads nothing else.
    assert client.get("/v1/predictions", headers=reviewer).status_code == 403
    assert client.get("/v1/models", headers=reviewer).status_code == 403
    decided = []
    for decision in ("agree", "override", "agree"):
        item = client.post("/v1/review/claim", json={"model": "churn", "version": "v1"},
                           headers=reviewer).json()  # fmt: skip
        assert item["event_id"] in unsure and item["reasons"][0].startswith("confidence ")
        assert item["features"]["f_num_b"] == 1.0 and item["score"] is not None
        other = client.post(f"/v1/review/items/{item['id']}/decision", headers=tenant.headers(),
                            json={"decision": "agree", "reason": "x"})  # fmt: skip
        assert other.status_code == 409  # leased to the reviewer
        label = 1 - item["prediction"] if decision == "override" else None
        answer = client.post(f"/v1/review/items/{item['id']}/decision", headers=reviewer,
                             json={"decision": decision, "label": label, "reason": "checked"})  # fmt: skip
        assert answer.status_code == 200, answer.text
        decided.append(answer.json())
    again = client.post(f"/v1/review/items/{decided[0]['id']}/decision", headers=reviewer,
                        json={"decision": "agree", "reason": "twice"})  # fmt: skip
    assert again.status_code == 409
    assert decided[1]["label"] == 1 - decided[1]["prediction"]
    # The model server reads a decision by its event id.
    read = client.get(f"/v1/review/decisions/{decided[1]['event_id']}", headers=ingest).json()
    assert read["decision"] == "override"

    # Overrides past the bound warn every channel, once, audited.
    for n in range(17):
        item = client.post("/v1/review/claim", json={"model": "churn", "version": "v1"},
                           headers=reviewer).json()  # fmt: skip
        override = n >= 11
        client.post(f"/v1/review/items/{item['id']}/decision", headers=reviewer, json={
            "decision": "override" if override else "agree", "reason": "checked",
            "label": 1 - item["prediction"] if override else None}).raise_for_status()  # fmt: skip
    warnings = client.get("/v1/audit", params={"action": "review.override_rate"},
                          headers=tenant.headers()).json()["items"]  # fmt: skip
    assert len(warnings) == 1 and warnings[0]["payload"]["rate"] == 7 / 20
    # A review monitor alerts on it like any check, and names the rate.
    reviews = client.post("/v1/models/churn/versions/v1/monitors", headers=tenant.headers(), json={
        "name": "overrides", "kind": "review", "params": {"max_override_rate": 0.3},
        "severity": "critical", "window": window(at(0), at(days=2))})  # fmt: skip
    assert reviews.status_code == 201, reviews.text
    manual_clock.set(at(days=2, hours=1))
    checked = client.post(f"/v1/monitors/{reviews.json()['id']}/run",
                          headers=tenant.headers()).json()["run"]  # fmt: skip
    assert checked["status"] == "alert"
    assert checked["result"]["override_rate"] == 7 / 20
    causes = {a["cause"] for a in client.get("/v1/models/churn/status",
                                             headers=tenant.headers()).json()["open_alerts"]}  # fmt: skip
    assert "review:override_rate" in causes

    # Decisions are labels: the next performance run counts them.
    monitor = client.post("/v1/models/churn/versions/v1/monitors", headers=tenant.headers(), json={
        "name": "perf", "kind": "performance", "params": {"min_labeled_rows": 1},
        "reference": {"kind": "window", "start": iso(at(0)), "end": iso(at(hours=1))},
        "window": window(at(hours=1), at(hours=5))})  # fmt: skip
    run = client.post(f"/v1/monitors/{monitor.json()['id']}/run", headers=tenant.headers()).json()
    assert run["run"]["labeled_rows"] == 20
    health = client.get("/v1/models/churn/versions/v1/review-queue", headers=reviewer).json()
    assert health["decided"] == 20 and health["override_rate"] == 7 / 20
    actions = [e["action"] for e in client.get("/v1/audit", params={"limit": 500},
                                               headers=tenant.headers()).json()["items"]]  # fmt: skip
    assert actions.count("review.decide") == 20 and "review_policy.set" in actions
