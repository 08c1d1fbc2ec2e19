"""The fault test: the example model server logs through the SDK with a spool while
the control plane is stopped mid-stream and restarted, and the model server itself
is restarted. Every prediction it made is stored exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from backend.api.roles import Role
from backend.config import Settings
from backend.db import Database
from backend.models import Prediction
from tests.factories import Tenant, register_model
from tests.live import LiveApi
from tests.support.ports import free_port

pytestmark = pytest.mark.slow  # minutes, not seconds: -m 'not slow' leaves it out

VERSION = {
    "version": "v1",
    "features": [
        {"name": "age", "dtype": "numeric"},
        {"name": "income", "dtype": "numeric"},
        {"name": "debt", "dtype": "numeric"},
        {"name": "region", "dtype": "categorical", "sensitive": True, "model_input": False},
    ],
    "class_labels": ["deny", "approve"],
    "positive_class": "approve",
}


class ModelServer:
    def __init__(self, control_plane: str, api_key: str, spool: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "VERITY_URL": control_plane,
            "VERITY_API_KEY": api_key,
            "VERITY_SPOOL_DIR": str(spool),
            "VERITY_BACKOFF_CAP": "0.5",
            "VERITY_CLOSE_TIMEOUT": "1",
        }
        self.process: subprocess.Popen[Any] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "examples.model_server:app",
                "--port",
                str(self.port),
                "--log-level",
                "warning",
            ],
            env=self.env,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{self.url}/docs", timeout=1)
                return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError("the model server did not start")

    def stop(self) -> None:
        assert self.process is not None
        # SIGTERM, as an orchestrator restarts a pod: uvicorn shuts down gracefully
        # (running the app's lifespan exit, which closes the client), then re-raises
        # the signal, so the exit status is -SIGTERM.
        self.process.send_signal(signal.SIGTERM)
        assert self.process.wait(timeout=60) in (0, -signal.SIGTERM)

    def stats(self) -> dict[str, Any]:
        answer = httpx.get(f"{self.url}/verity/stats", timeout=5)
        answer.raise_for_status()
        return dict(answer.json())

    def wait_for_stats(self, condition: Callable[[dict[str, Any]], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not condition(stats := self.stats()):
            assert time.monotonic() < deadline, stats
            time.sleep(0.1)

    def predict(self, n: int, start: int) -> list[str]:
        made = []
        with httpx.Client(base_url=self.url, timeout=10) as http:
            for i in range(start, start + n):
                answer = http.post(
                    "/predict",
                    json={
                        "age": 20 + i % 50,
                        "income": 1000.0 * i,
                        "debt": 10.0 * i,
                        "region": "n",
                    },
                )
                answer.raise_for_status()
                made.append(answer.json()["event_id"])
        return made


def stored(database: Database, tenant: Tenant) -> tuple[int, set[str]]:
    with database.session() as session:
        rows = session.scalar(
            select(func.count())
            .select_from(Prediction)
            .where(Prediction.project_id == tenant.project_id)
        )
        ids = set(
            session.scalars(
                select(Prediction.event_id).where(Prediction.project_id == tenant.project_id)
            )
        )
    return int(rows or 0), ids


def test_outage_and_restarts_lose_and_duplicate_nothing(
    client: TestClient,
    tenant: Tenant,
    database: Database,
    settings: Settings,
    tmp_path: Path,
) -> None:
    register_model(client, tenant, name="loans", version=VERSION)
    control_plane = LiveApi(settings).start()
    server = ModelServer(control_plane.url, tenant.tokens[Role.INGEST], tmp_path / "spool")
    server.start()
    try:
        made = server.predict(150, 0)
        control_plane.stop()  # mid-stream: the SDK retries, then spools
        made += server.predict(150, 150)
        # With a spool, a batch is retried for as long as it takes, never dropped: wait
        # until the client has retried past the 8 attempts a spool-less client gets.
        server.wait_for_stats(lambda stats: stats["retries"] > 2 * 8, timeout=120)
        server.stop()  # restarted while the control plane is still down
        assert list((tmp_path / "spool").glob("*.batch.json")), "nothing was spooled"
        server.start()
        made += server.predict(100, 300)
        control_plane.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and stored(database, tenant)[0] < len(made):
            time.sleep(0.5)
        server.stop()
    finally:
        if server.process is not None and server.process.poll() is None:
            server.process.kill()
        control_plane.stop()
    rows, ids = stored(database, tenant)
    assert len(made) == len(set(made)) == 400
    assert rows == len(ids) == 400
    assert ids == set(made)
    assert not list((tmp_path / "spool").glob("*.batch.json"))
