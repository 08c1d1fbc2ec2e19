"""A live API on the test database, holding a model whose scheduled checks have run
(drift on one feature, bias against one group, explanations, cost) and an
acknowledged alert: what every dashboard page is tested against."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from backend import clock
from backend.api.roles import Role
from backend.config import Settings
from backend.db import Database
from backend.monitors.specs import floor_time
from backend.scheduler import CheckScheduler
from tests.backend.runs.test_end_to_end import FEATURES, VERSION, frame
from tests.factories import Tenant, make_tenant, tiny_torchscript
from tests.live import LiveApi


@dataclass(frozen=True)
class Loaded:
    url: str
    tenant: Tenant
    monitors: dict[str, int]
    event_id: str
    run_id: int


@pytest.fixture(scope="module")
def loaded(client: TestClient, database: Database, settings: Settings) -> Iterator[Loaded]:
    tenant = make_tenant(database, settings)
    admin = tenant.headers()
    rng = np.random.default_rng(11)
    assert client.post("/v1/models", json={"name": "loans", "task": "binary"}, headers=admin)
    # The version declares its accuracy (Art. 15); the Performance page draws it.
    declared = {**VERSION, "declared_metrics": {"accuracy": 0.6}}
    assert client.post("/v1/models/loans/versions", json=declared, headers=admin).status_code == 201
    client.put(
        "/v1/models/loans/versions/v1/artifact",
        content=tiny_torchscript(4),
        headers={**admin, "Content-Type": "application/octet-stream"},
    ).raise_for_status()
    buffer = io.StringIO()
    reference = frame(2000, rng, shift=0.0, unfair=0.0)
    # Scores: the probability of the positive label, so CBPE has something to estimate.
    reference["score"] = 1 / (1 + np.exp(-reference["x1"]))
    reference.to_csv(buffer, index=False)
    client.post(
        "/v1/models/loans/versions/v1/references?name=training",
        content=buffer.getvalue().encode(),
        headers={**admin, "Content-Type": "text/csv"},
    ).raise_for_status()
    traffic = frame(2000, rng, shift=1.0, unfair=0.35)
    end = floor_time(clock.now(), 3600)
    records = [
        {
            "event_id": f"dash-{i}",
            "model": "loans",
            "version": "v1",
            "occurred_at": (end - timedelta(hours=6) + timedelta(seconds=10 * i)).isoformat(),
            "features": {**{n: float(row[n]) for n in FEATURES}, "group": row["group"]},
            "prediction": int(row["prediction"]),
            "score": float(1 / (1 + np.exp(-row["x1"]))),
            "latency_ms": 4.0 + i % 5,
            "compute_seconds": 0.002,
        }
        for i, row in enumerate(traffic.to_dict("records"))
    ]
    client.post("/v1/predictions", json={"records": records}, headers=admin).raise_for_status()
    labels = [{"event_id": f"dash-{i}", "label": int(v)} for i, v in traffic["label"].items()]
    client.post("/v1/labels", json={"labels": labels}, headers=admin).raise_for_status()
    created = client.post("/v1/models/loans/versions/v1/monitors:default", headers=admin).json()
    monitors = {m["name"]: m["id"] for m in created["created"]}
    client.patch(
        f"/v1/monitors/{monitors['explain']}", json={"schedule": {"every": "1h"}}, headers=admin
    ).raise_for_status()
    # Realized performance runs after the estimates of the same windows (below).
    performance = monitors.pop("performance")
    client.patch(
        f"/v1/monitors/{performance}", json={"enabled": False}, headers=admin
    ).raise_for_status()
    drift = client.get(f"/v1/monitors/{monitors['drift']}", headers=admin).json()
    client.patch(
        f"/v1/monitors/{monitors['drift']}",
        json={"params": {**drift["params"], "report_rows": 500}},
        headers=admin,
    ).raise_for_status()
    CheckScheduler(settings).run_once()
    # Earlier windows too, so that the pages have something to chart over time.
    for monitor_id in monitors.values():
        client.post(
            f"/v1/monitors/{monitor_id}/backfill",
            json={
                "start": (end - timedelta(hours=3)).isoformat(),
                "end": (end - timedelta(hours=1)).isoformat(),
            },
            headers=admin,
        ).raise_for_status()
    CheckScheduler(settings).run_once()  # the backfills are queued work
    # The labels are here already: no lag, on the estimate's hourly windows.
    client.patch(
        f"/v1/monitors/{performance}",
        json={"window": {"duration": "1d"}, "schedule": {"every": "1h"}, "enabled": True},
        headers=admin,
    ).raise_for_status()
    client.post(
        f"/v1/monitors/{performance}/backfill",
        json={
            "start": (end - timedelta(hours=3)).isoformat(),
            "end": end.isoformat(),
        },
        headers=admin,
    ).raise_for_status()
    CheckScheduler(settings).run_once()
    monitors["performance"] = performance
    alerts = client.get("/v1/alerts?model=loans", headers=admin).json()["items"]
    client.post(
        f"/v1/alerts/{alerts[0]['id']}/acknowledge",
        json={"comment": "investigating the shift"},
        headers=tenant.headers(Role.COMPLIANCE),
    ).raise_for_status()
    # Governance: a gate policy, v1 proposed, its gate evaluated (and failing on bias).
    policy = {
        "conditions": [
            {"monitor": "bias", "metric": "demographic_parity_ratio", "op": ">=", "threshold": 0.8},
            {"kind": "no_open_alerts", "severity": "critical"},
        ]
    }
    client.put("/v1/models/loans/gate-policy", json=policy, headers=admin).raise_for_status()
    client.post(
        "/v1/models/loans/versions/v1/transitions",
        json={"to": "candidate", "person": "Ana", "reason": "quarterly retrain"},
        headers=admin,
    ).raise_for_status()
    client.post("/v1/models/loans/versions/v1/gate", headers=admin).raise_for_status()
    _canary(client, admin, rng, end)
    _oversight(client, tenant, end)
    drift_runs = client.get(f"/v1/monitors/{monitors['drift']}/runs", headers=admin).json()
    api = LiveApi(settings).start()
    yield Loaded(api.url, tenant, monitors, "dash-7", drift_runs["items"][0]["id"])
    api.stop()


def _canary(client: TestClient, admin: dict[str, str], rng: np.random.Generator, end: Any) -> None:
    """A second model (named after "loans", which the pages open first) whose v2 predicted v1's requests in shadow, compared by a
    comparison monitor: what the Governance page shows champion against challenger."""
    client.post("/v1/models", json={"name": "scoring", "task": "binary"}, headers=admin)
    for version in ("v1", "v2"):
        client.post(
            "/v1/models/scoring/versions", json={**VERSION, "version": version}, headers=admin
        ).raise_for_status()
    data = frame(600, rng, shift=0.0, unfair=0.0)
    start = end - timedelta(hours=2)
    for version in ("v1", "v2"):
        records = [
            {
                "event_id": f"can-{i}" if version == "v1" else f"can-{i}~shadow~v2",
                "model": "scoring",
                "version": version,
                "occurred_at": (start + timedelta(seconds=10 * i)).isoformat(),
                "features": {**{n: float(row[n]) for n in FEATURES}, "group": row["group"]},
                "prediction": int(row["prediction"]) if version == "v1" or i % 8
                else 1 - int(row["prediction"]),
                "latency_ms": 4.0 if version == "v1" else 6.0,
            }
            for i, row in enumerate(data.to_dict("records"))
        ]  # fmt: skip
        client.post("/v1/predictions", json={"records": records}, headers=admin).raise_for_status()
    labels = [{"event_id": f"can-{i}", "label": int(v)} for i, v in data["label"].items()]
    client.post("/v1/labels", json={"labels": labels}, headers=admin).raise_for_status()
    monitor = client.post(
        "/v1/models/scoring/versions/v2/monitors",
        json={"name": "vs-v1", "kind": "comparison", "params": {"champion": "v1"},
              "window": {"start": start.isoformat(), "end": end.isoformat()}},
        headers=admin,
    )  # fmt: skip
    monitor.raise_for_status()
    client.post(f"/v1/monitors/{monitor.json()['id']}/run", headers=admin).raise_for_status()


def _oversight(client: TestClient, tenant: Tenant, end: Any) -> None:
    """Predictions queued for review, and an incident opened from an alert."""
    admin = tenant.headers()
    client.put("/v1/models/loans/versions/v1/review-policy", json={"max_confidence": 0.6},
               headers=admin).raise_for_status()  # fmt: skip
    records = [
        {"event_id": f"rev-{i}", "model": "loans", "version": "v1",
         "occurred_at": (end - timedelta(minutes=30) + timedelta(seconds=i)).isoformat(),
         "features": {"x1": 0.1 * i, "x2": 0.0, "x3": 0.0, "x4": 0.0, "group": "A"},
         "prediction": 1, "score": 0.52}
        for i in range(5)
    ]  # fmt: skip
    client.post("/v1/predictions", json={"records": records}, headers=admin).raise_for_status()
    alert = client.get("/v1/alerts?model=loans", headers=admin).json()["items"][0]
    client.post("/v1/incidents", headers=tenant.headers(Role.COMPLIANCE), json={
        "model": "loans", "version": "v1", "title": "group B refused more often",
        "classification": "serious_incident", "alert_ids": [alert["id"]]}).raise_for_status()  # fmt: skip
