"""docker-compose.yml, its GPU override and the Dockerfile: validated by
`docker compose config` where a Docker client exists, and on every machine by running
each service's own command, with its environment, without Docker."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from backend.cli.readiness import wait_until_ready
from backend.config import Settings
from tests.support.ports import free_port

pytestmark = pytest.mark.slow  # minutes, not seconds: -m 'not slow' leaves it out

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
GPU = yaml.safe_load((ROOT / "docker-compose.gpu.yml").read_text())
SERVICES = COMPOSE["services"]


def test_the_compose_file_wires_the_services():
    assert set(SERVICES) == {"postgres", "migrate", "api", "scheduler", "dashboard"}
    assert SERVICES["postgres"]["healthcheck"]["test"][0] == "CMD-SHELL"
    assert "pgdata:/var/lib/postgresql/data" in SERVICES["postgres"]["volumes"]
    assert SERVICES["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("api", "scheduler"):
        condition = SERVICES[name]["depends_on"]["migrate"]["condition"]
        assert condition == "service_completed_successfully"
    for name in ("migrate", "api", "scheduler", "dashboard"):
        environment = SERVICES[name]["environment"]
        assert environment["VERITY_ENVIRONMENT"] == "production"
        assert "${VERITY_SECRET_KEY:?" in environment["VERITY_SECRET_KEY"]
        assert "@postgres:5432/" in environment["VERITY_DATABASE_URL"]
    assert SERVICES["dashboard"]["environment"]["VERITY_API_URL"] == "http://api:8000"
    assert SERVICES["scheduler"]["environment"]["VERITY_CHECKS__METRICS_PORT"] == "9101"
    devices = GPU["services"]["scheduler"]["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["driver"] == "nvidia" and "gpu" in devices[0]["capabilities"]


def test_the_image_runs_as_an_unprivileged_user_with_cpu_torch():
    dockerfile = (ROOT / "Dockerfile").read_text()
    stages = re.findall(r"^FROM ", dockerfile, re.M)
    assert len(stages) == 2  # build, then run
    users = re.findall(r"^USER (\S+)", dockerfile, re.M)
    assert users and users[-1] not in ("root", "0")
    assert "download.pytorch.org/whl/cpu" in dockerfile
    assert '"torch==2.13.0"' in dockerfile


def compose_available() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0


def test_docker_compose_config_accepts_both_files_where_compose_exists():
    """Here the files are checked by Docker Compose itself when it is installed (this
    development machine has a docker client without the compose plugin); the tests
    above and below check them everywhere."""
    if not compose_available():
        assert yaml.safe_load((ROOT / "docker-compose.gpu.yml").read_text())["services"]
        return
    env = {**os.environ, "VERITY_SECRET_KEY": "x" * 40}
    for extra in ([], ["-f", "docker-compose.gpu.yml"]):
        checked = subprocess.run(
            ["docker", "compose", "-f", "docker-compose.yml", *extra, "config", "-q"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
        )
        assert checked.returncode == 0, checked.stderr


def service_env(name: str, settings: Settings, **extra: str) -> dict[str, str]:
    """The service's environment as compose would set it, pointed at the test database."""
    environment: dict[str, Any] = dict(SERVICES[name]["environment"])
    environment.update(
        VERITY_DATABASE_URL=settings.resolved_database_url,
        VERITY_SECRET_KEY=settings.secret_key,
        VERITY_DATA_DIR=str(settings.data_dir),
        VERITY_ARTIFACT_DIR=str(settings.resolved_artifact_dir),
        **extra,
    )
    return {**os.environ, **{k: str(v) for k, v in environment.items()}}


def command(name: str, **replace: str) -> list[str]:
    """The service's command, with its listening address swapped for a free local port."""
    out = []
    for part in SERVICES[name]["command"]:
        for old, new in replace.items():
            part = part.replace(old, new)
        out.append(part)
    return [str(Path(sys.executable).parent / out[0]), *out[1:]]


def test_each_service_command_runs_without_docker(settings: Settings) -> None:
    migrate = subprocess.run(
        command("migrate"), env=service_env("migrate", settings), cwd=ROOT, timeout=120
    )
    assert migrate.returncode == 0
    port = str(free_port())
    api = subprocess.Popen(
        command("api", **{"0.0.0.0": "127.0.0.1", "8000": port}),
        env=service_env("api", settings),
        cwd=ROOT,
    )
    processes = [api]
    try:
        wait_until_ready(f"http://127.0.0.1:{port}", api)
        metrics_port = str(free_port())
        scheduler = subprocess.Popen(
            command("scheduler"),
            env=service_env("scheduler", settings, VERITY_CHECKS__METRICS_PORT=metrics_port),
            cwd=ROOT,
        )
        processes.append(scheduler)
        dashboard_port = str(free_port())
        dashboard = subprocess.Popen(
            command("dashboard", **{"0.0.0.0": "127.0.0.1", "8501": dashboard_port}),
            env=service_env("dashboard", settings, VERITY_API_URL=f"http://127.0.0.1:{port}"),
            cwd=ROOT,
        )
        processes.append(dashboard)
        deadline = time.monotonic() + 60
        healthy = False
        while time.monotonic() < deadline and not healthy:
            try:
                url = f"http://127.0.0.1:{dashboard_port}/_stcore/health"
                healthy = httpx.get(url, timeout=2).status_code == 200
            except httpx.HTTPError:
                time.sleep(0.5)
        assert healthy, "the dashboard did not come up"
        time.sleep(2)
        assert scheduler.poll() is None, "the scheduler exited"
        # The scheduler's compose healthcheck, against its metrics port.
        probe = [
            part.replace("9101", metrics_port)
            for part in SERVICES["scheduler"]["healthcheck"]["test"][1:]
        ]
        probe[0] = sys.executable
        # Its imports (torch, the detectors) take a while on a cold start; compose
        # retries the probe the same way.
        deadline = time.monotonic() + 90
        while subprocess.run(probe, timeout=30, capture_output=True).returncode != 0:
            assert time.monotonic() < deadline, "the scheduler's healthcheck never passed"
            assert scheduler.poll() is None, "the scheduler exited"
            time.sleep(1)
        scraped = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics").text
        assert "verity_check_runs_total" in scraped
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
