"""Monitors run per segment, on both databases: results per segment, an alert that
names its segment, the series of one segment, and a clear 422 past the bound."""

from __future__ import annotations

from typing import Any

import numpy as np
from fastapi.testclient import TestClient

from backend.clock import ManualClock
from tests.factories import Tenant
from tests.support.timeline import at, iso, window

VERSION = {
    "version": "v1",
    "features": [
        {"name": "x1", "dtype": "numeric"},
        {"name": "region", "dtype": "categorical", "categories": ["eu", "us", "apac"]},
    ],
    "class_labels": [0, 1],
}
URL = "/v1/models/loans/versions/v1/monitors"


def traffic(day: int, narrow: set[str], seed: int) -> tuple[list[dict], list[dict]]:
    """Rows of three regions; in the ``narrow`` ones x1 sits near the boundary, where
    the calibrated model is often wrong."""
    rng = np.random.default_rng(seed)
    records, labels = [], []
    for i, region in enumerate(["eu", "us", "apac"] * 600):
        spread = 0.2 if region in narrow else 2.0
        x1 = float(rng.normal(0, spread))
        score = 1 / (1 + np.exp(-3 * x1))
        event = f"d{day}-{i}"
        records.append(
            {
                "event_id": event,
                "model": "loans",
                "version": "v1",
                "occurred_at": iso(at(days=day, seconds=i * 40)),
                "features": {"x1": x1, "region": region},
                "prediction": int(score >= 0.5),
                "score": float(score),
            }
        )
        labels.append({"event_id": event, "label": int(rng.uniform() < score)})
    return records, labels


def post(client: TestClient, tenant: Tenant, path: str, key: str, items: list[dict]) -> None:
    for start in range(0, len(items), 1000):
        answer = client.post(
            path, json={key: items[start : start + 1000]}, headers=tenant.headers()
        )
        assert answer.status_code == 200, answer.text


def create(client: TestClient, tenant: Tenant, **extra: Any) -> Any:
    return client.post(
        URL,
        json={
            "name": extra.pop("name", "performance"),
            "kind": "performance",
            "params": {"metrics": ["accuracy"], "band_k": None},
            "reference": {"kind": "window", "start": iso(at(0)), "end": iso(at(days=1))},
            "window": window(at(days=1), at(days=2)),
            **extra,
        },
        headers=tenant.headers(),
    )


def test_segments_alert_by_name_and_have_their_own_series(
    client: TestClient, tenant: Tenant, manual_clock: ManualClock
) -> None:
    client.post("/v1/models", json={"name": "loans", "task": "binary"}, headers=tenant.headers())
    assert client.post("/v1/models/loans/versions", json=VERSION,
                       headers=tenant.headers()).status_code == 201  # fmt: skip
    manual_clock.set(at(days=3))
    for day, narrow in ((0, set()), (1, {"eu"})):
        records, labels = traffic(day, narrow, seed=day)
        post(client, tenant, "/v1/predictions", "records", records)
        post(client, tenant, "/v1/labels", "labels", labels)

    created = create(client, tenant, segments={"by": ["region"], "top_k": 2})
    assert created.status_code == 201, created.text
    assert created.json()["segments"] == {"by": ["region"], "top_k": 2}
    answer = client.post(f"/v1/monitors/{created.json()['id']}/run", json={},
                         headers=tenant.headers())  # fmt: skip
    run = answer.json()["run"]
    segments = {s["segment"]: s for s in run["result"]["segments"]}
    # Top 2 by volume (ties broken by name: apac, eu), the rest as "other".
    assert set(segments) == {"region=apac", "region=eu", "(other)"}
    assert segments["region=eu"]["status"] == "alert"
    assert segments["region=apac"]["status"] == "ok"
    assert segments["region=eu"]["rows"] == segments["(other)"]["rows"] == 600
    assert run["status"] == "alert"
    status = client.get("/v1/models/loans/status", headers=tenant.headers()).json()
    found = {a["cause"]: a for a in status["open_alerts"]}
    cause = found["segment[region=eu]:performance:accuracy"]
    assert cause["message"].startswith("[region=eu] accuracy")
    assert cause["details"]["segment"] == "region=eu"
    assert not any(key.startswith("segment[region=apac]") for key in found)

    series = client.get(
        f"/v1/monitors/{created.json()['id']}/series",
        params={"segment": "region=eu"},
        headers=tenant.headers(),
    ).json()
    assert series["segments"] == ["(other)", "region=apac", "region=eu"]
    (point,) = series["points"]
    assert point["metrics"]["accuracy"] == segments["region=eu"]["result"]["metrics"]["accuracy"]


def test_segment_bounds_and_kinds_are_clear_422s(client: TestClient, tenant: Tenant) -> None:
    client.post("/v1/models", json={"name": "loans", "task": "binary"}, headers=tenant.headers())
    client.post("/v1/models/loans/versions", json=VERSION, headers=tenant.headers())
    too_many = create(client, tenant, segments={"by": ["region"], "top_k": 21})
    assert too_many.status_code == 422
    assert "less than or equal to 20" in too_many.text
    numeric = create(client, tenant, segments={"by": ["x1"]})
    assert numeric.status_code == 422
    assert numeric.json()["errors"] == [
        {"field": "segments.by", "message": "not categorical features: ['x1']"}
    ]
