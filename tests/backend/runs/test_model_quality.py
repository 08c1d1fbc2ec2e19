"""Model quality end to end, on both databases: a covariate shift degrades a model;
the estimated-performance alert fires before any label arrives; the labels then come
late; the realized-performance run confirms the drop, and holds the earlier estimate
beside the realized value."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import timedelta
from typing import Any

import numpy as np
from fastapi.testclient import TestClient

from backend.api.roles import Role
from backend.clock import ManualClock
from tests.factories import Tenant
from tests.support.timeline import at, iso, window

VERSION = {
    "version": "v1",
    "features": [{"name": "x1", "dtype": "numeric"}, {"name": "x2", "dtype": "numeric"}],
    "class_labels": [0, 1],
    "declared_metrics": {"accuracy": 0.8},
}
URL = "/v1/models/loans/versions/v1/monitors"


def traffic(rows: int, day: int, spread: float, seed: int) -> tuple[list[dict], list[dict]]:
    """A calibrated model: P(y=1 | x) is its score. A narrow spread of x1 puts the rows
    near the decision boundary, where the model is unsure and often wrong."""
    rng = np.random.default_rng(seed)
    x1 = rng.normal(0, spread, rows)
    x2 = rng.normal(0, 1, rows)
    score = 1 / (1 + np.exp(-3 * x1))
    label = (rng.uniform(size=rows) < score).astype(int)
    records, labels = [], []
    for i in range(rows):
        event = f"d{day}-{i}"
        records.append(
            {
                "event_id": event,
                "model": "loans",
                "version": "v1",
                "occurred_at": iso(at(days=day, seconds=i * 40)),
                "features": {"x1": float(x1[i]), "x2": float(x2[i])},
                "prediction": int(score[i] >= 0.5),
                "score": float(score[i]),
            }
        )
        labels.append({"event_id": event, "label": int(label[i])})
    return records, labels


def post(client: TestClient, tenant: Tenant, path: str, key: str, items: list[dict]) -> None:
    for start in range(0, len(items), 1000):
        answer = client.post(
            path, json={key: items[start : start + 1000]}, headers=tenant.headers()
        )
        assert answer.status_code == 200, answer.text


def monitor(client: TestClient, tenant: Tenant, name: str, kind: str) -> dict[str, Any]:
    created = client.post(
        URL,
        json={
            "name": name,
            "kind": kind,
            "reference": {"kind": "window", "start": iso(at(0)), "end": iso(at(days=1))},
            "window": window(at(days=1), at(days=2)),
            "severity": "critical",
        },
        headers=tenant.headers(),
    )
    assert created.status_code == 201, created.text
    return dict(created.json())


def run(client: TestClient, tenant: Tenant, monitor_id: int) -> dict[str, Any]:
    answer = client.post(f"/v1/monitors/{monitor_id}/run", json={}, headers=tenant.headers())
    assert answer.status_code == 200, answer.text
    return dict(answer.json()["run"])


def test_estimate_alerts_before_labels_and_realized_confirms_it(
    client: TestClient, tenant: Tenant, manual_clock: ManualClock
) -> None:
    assert client.post("/v1/models", json={"name": "loans", "task": "binary"},
                       headers=tenant.headers()).status_code == 201  # fmt: skip
    assert client.post("/v1/models/loans/versions", json=VERSION,
                       headers=tenant.headers()).status_code == 201  # fmt: skip
    reference, reference_labels = traffic(2000, 0, spread=1.5, seed=1)
    shifted, shifted_labels = traffic(2000, 1, spread=0.25, seed=2)
    manual_clock.set(at(days=1))
    post(client, tenant, "/v1/predictions", "records", reference)
    post(client, tenant, "/v1/labels", "labels", reference_labels)
    manual_clock.set(at(days=2, hours=1))
    post(client, tenant, "/v1/predictions", "records", shifted)

    # Before any label of the shifted day: the estimate alerts.
    estimated = monitor(client, tenant, "estimate", "estimated_performance")
    early = run(client, tenant, estimated["id"])
    assert early["status"] == "alert", early["result"]
    assert early["labeled_rows"] == 0
    accuracy = early["result"]["estimates"]["accuracy"]
    assert accuracy["value"] < 0.7 < early["result"]["reference_metrics"]["accuracy"]
    reasons = " ".join(early["result"]["alert_reasons"])
    assert "worse than the declared 0.8" in reasons
    status = client.get("/v1/models/loans/status", headers=tenant.headers()).json()
    causes = {a["cause"] for a in status["open_alerts"]}
    assert "estimated_performance:accuracy" in causes

    # The labels arrive a week late; realized performance confirms the drop.
    manual_clock.set(at(days=9))
    post(client, tenant, "/v1/labels", "labels", shifted_labels)
    realized = monitor(client, tenant, "performance", "performance")
    late = run(client, tenant, realized["id"])
    assert late["status"] == "alert", late["result"]
    result = late["result"]
    assert result["coverage"]["share"] == 1.0
    delay = result["coverage"]["delay_seconds"]
    assert timedelta(days=6) < timedelta(seconds=delay["p50"]) < timedelta(days=8)
    truth = np.array([item["label"] for item in shifted_labels])
    said = np.array([r["prediction"] for r in shifted])
    assert result["metrics"]["accuracy"] == float(np.mean(truth == said))
    assert result["metrics"]["accuracy"] < 0.8
    side = result["estimated"]
    assert side["check_run_id"] == early["id"]
    beside = side["metrics"]["accuracy"]
    assert beside["estimated"] == accuracy["value"]
    assert beside["realized"] == result["metrics"]["accuracy"]
    assert beside["error"] == beside["estimated"] - beside["realized"]
    # CBPE on a calibrated model: the realized value lies in the estimate's band.
    assert beside["lower_confidence"] <= beside["realized"] <= beside["upper_confidence"]
    causes = {a["cause"] for a in client.get("/v1/models/loans/status",
                                             headers=tenant.headers()).json()["open_alerts"]}  # fmt: skip
    assert "performance:accuracy" in causes

    # The evidence pack reports the declared level against what was observed.
    exported = client.post(
        "/v1/models/loans/versions/v1/evidence",
        json={"start": iso(at(0)), "end": iso(at(days=3))},
        headers=tenant.headers(Role.COMPLIANCE),
    )
    assert exported.status_code == 200, exported.text
    archive = zipfile.ZipFile(io.BytesIO(exported.content))
    rows = list(csv.DictReader(io.StringIO(archive.read("declared_performance.csv").decode())))
    assert [(r["metric"], r["declared"], r["source"], r["met"]) for r in rows] == [
        ("accuracy", "0.8", "estimated", "no"),
        ("accuracy", "0.8", "realized", "no"),
    ]
    assert float(rows[0]["value"]) == accuracy["value"]
    assert float(rows[1]["value"]) == result["metrics"]["accuracy"]
