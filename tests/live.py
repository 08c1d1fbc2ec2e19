"""The API as a real process on loopback, for tests that need a network peer: the
SDK's clients, and faults such as the control plane stopping mid-stream."""

from __future__ import annotations

import os
import socket
import subprocess
from typing import Any

import httpx

from backend.cli import api_command
from backend.cli.readiness import wait_until_ready
from backend.config import Settings
from tests.support.ports import free_port
from tests.support.waiting import wait_until


class LiveApi:
    def __init__(
        self, settings: Settings, port: int | None = None, env: dict[str, str] | None = None
    ) -> None:
        self.settings = settings
        self.extra_env = env or {}
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[Any] | None = None

    def start(self) -> LiveApi:
        env = {
            **os.environ,
            "VERITY_DATABASE_URL": self.settings.resolved_database_url,
            "VERITY_DATA_DIR": str(self.settings.data_dir),
            "VERITY_ARTIFACT_DIR": str(self.settings.resolved_artifact_dir),
            "VERITY_SECRET_KEY": self.settings.secret_key,
            **self.extra_env,
        }
        self.process = subprocess.Popen(api_command("127.0.0.1", self.port, 1, quiet=True), env=env)
        wait_until_ready(self.url, self.process)
        return self

    def metric(self, name: str) -> float:
        """A sample without labels from this process's /metrics."""
        for line in httpx.get(f"{self.url}/metrics", timeout=10).text.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        raise AssertionError(f"no {name} in /metrics")

    def wait_in_flight(self, requests: int, timeout: float = 30) -> None:
        """Until the API counts ``requests`` requests in flight (admitted, answer not
        yet sent): the request a test holds open has reached the application."""
        wait_until(
            lambda: self.metric("verity_http_in_flight_requests") >= requests,
            timeout=timeout,
            what=f"{requests} request(s) in flight",
        )

    def refuses_connections(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return False
        except OSError:
            return True

    def kill(self) -> None:
        """SIGKILL: no graceful shutdown, no lifespan exit, requests cut mid-way."""
        assert self.process is not None
        self.process.kill()
        self.process.wait()
        self.process = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
