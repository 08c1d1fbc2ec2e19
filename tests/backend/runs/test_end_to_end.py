"""The whole loop on SQLite and PostgreSQL: traffic through the API, the scheduler's
tick runs the default monitors, alerts name the drifted feature and the disadvantaged
group, a loopback webhook receives signed notifications, and the audit chain vouches
for every stored run until one is edited."""

from __future__ import annotations

import io
import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from typer.testing import CliRunner

from backend import clock
from backend.cli import app as cli
from backend.config import NotifySettings, get_settings
from backend.main import create_app
from backend.models import CheckRun
from backend.monitors.specs import floor_time
from backend.notifications import signing
from backend.scheduler import CheckScheduler
from tests.factories import tiny_torchscript

FEATURES = ["x1", "x2", "x3", "x4"]
VERSION = {
    "version": "v1",
    "features": [{"name": n, "dtype": "numeric"} for n in FEATURES]
    + [{"name": "group", "dtype": "categorical", "sensitive": True, "model_input": False}],
    "class_labels": [0, 1],
    "positive_class": 1,
    "cost_profile": {"price_per_cpu_second": 0.001},
}


class Receiver:
    """A webhook endpoint on loopback that keeps what it is sent."""

    def __init__(self) -> None:
        received: list[tuple[dict[str, str], bytes]] = []
        self.received = received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


def frame(n: int, rng: np.random.Generator, *, shift: float, unfair: float) -> pd.DataFrame:
    data = pd.DataFrame({n_: rng.normal(size=n) for n_ in FEATURES})
    data["x2"] += shift
    data["group"] = rng.choice(["A", "B"], n)
    p = 1 / (1 + np.exp(-(data["x1"] - 0.5 * data["x3"])))
    p = np.where(data["group"] == "B", p - unfair, p).clip(0, 1)
    data["prediction"] = (rng.random(n) < p).astype(int)
    data["label"] = (rng.random(n) < 1 / (1 + np.exp(-data["x1"]))).astype(int)
    return data


@pytest.fixture
def e2e(settings, tenant):
    receiver = Receiver()
    # Loopback is an internal address: allowed here, as an operator would allow it.
    local = settings.model_copy(update={"notify": NotifySettings(allowed_networks=["127.0.0.0/8"])})
    with TestClient(create_app(local), raise_server_exceptions=False) as client:
        yield client, local, receiver
    receiver.close()


def test_scheduled_checks_alert_notify_and_are_audited(e2e, tenant, database, monkeypatch):
    client, settings, receiver = e2e
    admin = tenant.headers()
    rng = np.random.default_rng(5)
    assert (
        client.post(
            "/v1/models", json={"name": "loans", "task": "binary"}, headers=admin
        ).status_code
        == 201
    )
    assert client.post("/v1/models/loans/versions", json=VERSION, headers=admin).status_code == 201
    put = client.put(
        "/v1/models/loans/versions/v1/artifact",
        content=tiny_torchscript(4),
        headers={**admin, "Content-Type": "application/octet-stream"},
    )
    assert put.status_code in (200, 201), put.text
    reference = frame(3000, rng, shift=0.0, unfair=0.0)
    buffer = io.StringIO()
    reference.to_csv(buffer, index=False)
    uploaded = client.post(
        "/v1/models/loans/versions/v1/references?name=training",
        content=buffer.getvalue().encode(),
        headers={**admin, "Content-Type": "text/csv"},
    )
    assert uploaded.status_code in (200, 201), uploaded.text

    # Traffic over the six hours before the last complete hour: x2 shifted, group B
    # selected far less often.
    traffic = frame(3000, rng, shift=1.0, unfair=0.35)
    end = floor_time(clock.now(), 3600)
    records = [
        {
            "event_id": f"e2e-{i}",
            "model": "loans",
            "version": "v1",
            "occurred_at": (end - timedelta(hours=6) + timedelta(seconds=7 * i)).isoformat(),
            "features": {**{n: float(row[n]) for n in FEATURES}, "group": row["group"]},
            "prediction": int(row["prediction"]),
            "latency_ms": 4.0,
            "compute_seconds": 0.002,
        }
        for i, row in enumerate(traffic.to_dict("records"))
    ]
    for start in range(0, len(records), 1000):
        posted = client.post(
            "/v1/predictions", json={"records": records[start : start + 1000]}, headers=admin
        )
        assert posted.json()["stored"] == 1000
    labels = [{"event_id": f"e2e-{i}", "label": int(v)} for i, v in traffic["label"].items()]
    assert client.post("/v1/labels", json={"labels": labels}, headers=admin).status_code == 200

    channel = client.post(
        "/v1/channels", json={"name": "hook", "kind": "webhook", "url": receiver.url}, headers=admin
    )
    assert channel.status_code == 201, channel.text
    secret = channel.json()["signing_secret"]
    created = client.post("/v1/models/loans/versions/v1/monitors:default", headers=admin).json()
    names = {m["name"]: m["id"] for m in created["created"]}
    # The reference holds labels but no scores: performance, and no estimate.
    assert set(names) == {"drift", "bias", "explain", "cost", "data_quality", "performance"}
    # The default explain check runs daily; hourly here, so this hour's tick runs it.
    patched = client.patch(
        f"/v1/monitors/{names['explain']}", json={"schedule": {"every": "1h"}}, headers=admin
    )
    assert patched.status_code == 200

    # Other tests' monitors in this database may be due as well.
    runs, _ = CheckScheduler(settings).run_once()
    assert runs >= 4
    CheckScheduler(settings).run_once()  # a second tick: nothing of ours is due again
    for monitor_id in names.values():
        page = client.get(f"/v1/monitors/{monitor_id}/runs", headers=admin).json()
        assert len(page["items"]) == 1

    status = client.get("/v1/models/loans/status", headers=tenant.headers()).json()
    latest = {m["name"]: m["latest_run"] for m in status["monitors"]}
    assert all(run is not None and run["error"] is None for run in latest.values()), latest
    causes = {a["cause"]: a for a in status["open_alerts"]}
    assert "drift:x2" in causes, causes.keys()
    assert not any(c.startswith("drift:x1") or c == "drift:x3" for c in causes)
    bias = causes["bias:1:group"]
    assert bias["details"]["worst_group"] == {"group": "B"}
    assert "group=B" in bias["message"]

    explain = client.get(f"/v1/runs/{latest['explain']['id']}", headers=admin).json()
    importance = explain["result"]["importance"]
    assert set(importance) == set(FEATURES)
    assert explain["device"] == "cpu"
    assert explain["compute_seconds"] > 0
    assert explain["artifact_sha256"] is not None
    assert explain["library_versions"]["torch"]
    assert len(explain["window_sha256"]) == 64

    assert len(receiver.received) >= 2
    for headers, body in receiver.received:
        assert signing.verify(secret, headers, body)
        assert json.loads(body)["type"] == "alert.opened"
    opened = {json.loads(body)["data"]["cause"] for _, body in receiver.received}
    assert {"drift:x2", "bias:1:group"} <= opened

    monkeypatch.setenv("VERITY_DATABASE_URL", database.url)
    monkeypatch.setenv("VERITY_SECRET_KEY", settings.secret_key)
    get_settings.cache_clear()
    try:
        verified = CliRunner().invoke(cli, ["audit", "verify", "--project", tenant.name])
        assert verified.exit_code == 0, verified.output
        with database.transaction() as session:
            run_id = session.scalar(
                select(CheckRun.id).where(CheckRun.monitor_id == names["drift"])
            )
            session.execute(
                update(CheckRun).where(CheckRun.id == run_id).values(result={"status": "ok"})
            )
        broken = CliRunner().invoke(cli, ["audit", "verify", "--project", tenant.name])
        assert broken.exit_code == 1
        assert f"check run {run_id} no longer matches" in broken.output
    finally:
        get_settings.cache_clear()
