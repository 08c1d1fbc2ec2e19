"""`verity api` as a real process on loopback: bootstrap key, readiness, ingest."""

import os
import re
import signal
import socket
import subprocess
import sys
import time

import httpx

from tests.factories import SCHEMA, record


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_verity_api_serves_on_loopback(tmp_path):
    port = _free_port()
    env = {**os.environ, "VERITY_DATA_DIR": str(tmp_path)}
    env.pop("VERITY_DATABASE_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "backend.cli", "api", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        token = None
        deadline = time.monotonic() + 60
        while token is None and time.monotonic() < deadline:
            assert process.stdout is not None
            line = process.stdout.readline()
            if match := re.search(r"vt_[0-9a-f]{12}_[A-Za-z0-9_-]{43}", line):
                token = match.group(0)
        assert token, "no bootstrap key printed"
        base = f"http://127.0.0.1:{port}"
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/readyz").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=base, headers=headers) as client:
            assert (
                client.post("/v1/models", json={"name": "churn", "task": "binary"}).status_code
                == 201
            )
            assert client.post("/v1/models/churn/versions", json=SCHEMA).status_code == 201
            response = client.post(
                "/v1/predictions", json={"records": [record(i) for i in range(100)]}
            )
            assert response.json()["stored"] == 100
            # The 2xx came after commit: a new connection sees every row at once.
            page = client.get("/v1/predictions", params={"limit": 1000}).json()
            assert len(page["items"]) == 100
            assert client.get("/v1/audit/verify").json()["ok"]
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
