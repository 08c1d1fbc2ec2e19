"""Human oversight end to end, on both databases: the example model server runs with
the SDK and a fallback; a critical drift alert trips the version, and within a poll
interval the fallback answers, marked so, each prediction stored once; resolving the
alert does not restore it, a compliance key does; the local breaker opens on injected
primary errors and half-opens after its cool-down; all of it is audited and the chain
verifies."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from backend.api.roles import Role
from backend.cli import app as cli
from backend.config import Settings, get_settings
from backend.db import Database
from tests.factories import Tenant, register_model
from tests.live import LiveApi
from tests.sdk.test_faults import VERSION, ModelServer, stored
from tests.support.timeline import at, iso
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow

URL = "/v1/models/loans/versions/v1/serving-state"


def answers(server: ModelServer, n: int, start: int, *, debt: float = 10.0) -> list[dict[str, Any]]:
    made = []
    with httpx.Client(base_url=server.url, timeout=10) as http:
        for i in range(start, start + n):
            answer = http.post("/predict", json={"age": 20 + i % 50, "income": 1000.0 * (i + 1),
                                                 "debt": debt * (i + 1), "region": "n"})  # fmt: skip
            answer.raise_for_status()
            made.append(answer.json())
    return made


def test_kill_switch_fallback_breaker_and_audit(
    client: TestClient, tenant: Tenant, database: Database, settings: Settings, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    admin, compliance = tenant.headers(), tenant.headers(Role.COMPLIANCE)
    register_model(client, tenant, name="loans", version=VERSION)
    rng = np.random.default_rng(0)
    reference = pd.DataFrame({"age": rng.integers(20, 70, 500), "income": rng.normal(5e4, 1e4, 500),
                              "debt": rng.normal(3e3, 5e2, 500), "region": "n"})  # fmt: skip
    buffer = io.StringIO()
    reference.to_csv(buffer, index=False)
    client.post("/v1/models/loans/versions/v1/references?name=training", headers={
        **admin, "Content-Type": "text/csv"}, content=buffer.getvalue().encode()).raise_for_status()  # fmt: skip
    # trip_on needs a critical monitor: refused otherwise.
    warning = client.post("/v1/models/loans/versions/v1/monitors", headers=admin, json={
        "name": "w", "kind": "drift", "window": {"duration": "1d"}, "schedule": {"every": "1h"},
        "severity": "warning", "trip_on": "critical"})  # fmt: skip
    assert warning.status_code == 422
    control_plane = LiveApi(settings).start()
    server = ModelServer(control_plane.url, tenant.tokens[Role.INGEST], tmp_path / "spool")
    server.env.update(VERITY_SERVING_POLL="0.2", VERITY_BREAKER_MIN_CALLS="4",
                      VERITY_BREAKER_COOLDOWN="1.0")  # fmt: skip
    server.start()
    try:
        # 1. Served by the model while the version is active.
        before = answers(server, 20, 0)
        assert {a["served_by"] for a in before} == {"primary"}
        state = client.get(URL, headers=tenant.headers(Role.INGEST))
        assert state.json()["state"] == "active"
        # A conditional poll of an unchanged state is a bodiless 304.
        unchanged = client.get(URL, headers={**tenant.headers(Role.INGEST),
                                             "If-None-Match": state.headers["ETag"]})  # fmt: skip
        assert unchanged.status_code == 304 and unchanged.content == b""

        # 2. A critical drift alert trips the version.
        server.wait_for_stats(lambda s: s["sent_rows"] >= 20 if "sent_rows" in s else True, 30)
        drift = client.post("/v1/models/loans/versions/v1/monitors", headers=admin, json={
            "name": "drift", "kind": "drift", "severity": "critical", "trip_on": "critical",
            "window": {"start": iso(at(days=-30)), "end": iso(at(days=30))}})  # fmt: skip
        assert drift.status_code == 201, drift.text
        wait_until(lambda: stored(database, tenant)[0] >= 20, timeout=30, what="logged rows")
        run = client.post(f"/v1/monitors/{drift.json()['id']}/run", json={"end": iso(at(days=30))},
                          headers=admin).json()["run"]  # fmt: skip
        assert run["status"] == "alert", run["result"]
        tripped = client.get(URL, headers=admin).json()
        assert tripped["state"] == "tripped" and f"run {run['id']}" in tripped["reason"]
        wait_until(lambda: server.stats()["serving"]["state"] == "tripped", timeout=5,
                   what="the model server to see the trip")  # fmt: skip
        during = answers(server, 15, 100)
        assert {a["served_by"] for a in during} == {"fallback"}
        # Resolving the alert does not restore the version.
        for alert in client.get("/v1/alerts?model=loans", headers=admin).json()["items"]:
            client.post(f"/v1/alerts/{alert['id']}/resolve", json={"comment": "seen"},
                        headers=compliance).raise_for_status()  # fmt: skip
        assert client.get(URL, headers=admin).json()["state"] == "tripped"

        # 3. A compliance key restores it.
        viewer = client.post(URL, json={"state": "active", "person": "Vi", "reason": "x"},
                             headers=tenant.headers(Role.VIEWER))  # fmt: skip
        assert viewer.status_code == 403
        restored = client.post(URL, headers=compliance, json={
            "state": "active", "person": "Bo", "reason": "drift explained: new branch opened"})  # fmt: skip
        assert restored.status_code == 200, restored.text
        wait_until(lambda: server.stats()["serving"]["state"] == "active", timeout=5,
                   what="the model server to see the restore")  # fmt: skip
        assert {a["served_by"] for a in answers(server, 5, 200)} == {"primary"}

        # 4. The local breaker opens on injected errors, then half-opens after its
        #    cool-down and closes on a good probe.
        httpx.post(f"{server.url}/faults", json={"model_raises": True}).raise_for_status()
        failing = answers(server, 12, 300)  # 10 of the last 20 calls failed: open
        assert {a["served_by"] for a in failing} == {"fallback"}
        assert server.stats()["serving"]["breaker"] == "open"
        httpx.post(f"{server.url}/faults", json={"model_raises": False}).raise_for_status()
        wait_until(lambda: answers(server, 1, 400)[0]["served_by"] == "primary", timeout=10,
                   interval=0.2, what="a half-open probe to reach the primary")  # fmt: skip
        assert server.stats()["serving"]["breaker"] == "closed"
        made = [a["event_id"] for a in [*before, *during, *failing]]
        server.stop()
    finally:
        if server.process is not None and server.process.poll() is None:
            server.process.kill()
        control_plane.stop()

    # Every prediction stored once, the fallback's marked so.
    rows, ids = stored(database, tenant)
    assert rows == len(ids) and set(made) <= ids
    fallback_rows = client.get("/v1/predictions", params={"model": "loans", "limit": 500},
                               headers=admin).json()["items"]  # fmt: skip
    served = {p["event_id"]: (p.get("tags") or {}).get("served_by") for p in fallback_rows}
    assert all(served[a["event_id"]] == "fallback" for a in during)
    reasons = {(p.get("tags") or {}).get("served_reason") for p in fallback_rows}
    assert "control plane: tripped" in reasons and "local breaker open" in reasons

    # 5. All of it is in the audit chain, which verifies.
    actions = [e["action"] for e in client.get("/v1/audit", params={"limit": 500},
                                               headers=compliance).json()["items"]]  # fmt: skip
    for action in ("serving.trip", "serving.restore", "serving.local_breaker_open",
                   "serving.local_breaker_half_open", "serving.local_breaker_closed"):  # fmt: skip
        assert action in actions, (action, actions)
    monkeypatch.setenv("VERITY_DATABASE_URL", database.url)
    monkeypatch.setenv("VERITY_SECRET_KEY", settings.secret_key)
    get_settings.cache_clear()
    try:
        verified = CliRunner().invoke(cli, ["audit", "verify", "--project", tenant.name])
        assert verified.exit_code == 0, verified.output
    finally:
        get_settings.cache_clear()
