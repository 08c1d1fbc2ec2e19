"""Shared benchmark plumbing: a throwaway database, the API in a subprocess, JSON output."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backend.cli.readiness import wait_until_ready
from tests.support import pgtemp
from tests.support.ports import free_port

BENCH_SECRET = "benchmark-secret-key-0123456789abcdef"


@dataclass
class BenchDatabase:
    backend: str
    url: str
    data_dir: Path


@contextlib.contextmanager
def bench_database(backend: str) -> Iterator[BenchDatabase]:
    with tempfile.TemporaryDirectory(prefix="verity-bench-") as tmp:
        if backend == "sqlite":
            url = f"sqlite:///{tmp}/verity.db"
        elif backend == "postgresql":
            url = pgtemp.create_database("verity_bench")
        else:
            raise SystemExit(f"--db must be sqlite or postgresql, not {backend!r}")
        try:
            yield BenchDatabase(backend=backend, url=url, data_dir=Path(tmp))
        finally:
            # VERITY_BENCH_KEEP=1 leaves a PostgreSQL benchmark database for a closer look.
            if backend == "postgresql" and os.environ.get("VERITY_BENCH_KEEP") != "1":
                pgtemp.drop_database(url)


def bootstrap(database: BenchDatabase) -> str:
    """Migrate and return an admin key for the bootstrap project."""
    from backend.auth.bootstrap import ensure_bootstrap_key
    from backend.config import Settings
    from backend.db import Database
    from backend.migrate import upgrade

    upgrade(database.url)
    settings = Settings(
        database_url=database.url, secret_key=BENCH_SECRET, data_dir=database.data_dir
    )
    db = Database(database.url)
    try:
        token = ensure_bootstrap_key(db, settings)
    finally:
        db.dispose()
    if token is None:
        raise RuntimeError("the benchmark database already had keys")
    return token


@contextlib.contextmanager
def api_server(database: BenchDatabase, *, workers: int = 1) -> Iterator[str]:
    port = free_port()
    env = {
        **os.environ,
        "VERITY_DATABASE_URL": database.url,
        "VERITY_DATA_DIR": str(database.data_dir),
        "VERITY_SECRET_KEY": BENCH_SECRET,
    }
    from backend.cli import api_command

    command = api_command("127.0.0.1", port, workers, quiet=True)
    process = subprocess.Popen(command, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(base, process)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def machine() -> dict[str, Any]:
    return {
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }


def emit(result: dict[str, Any]) -> None:
    """The one JSON line a benchmark prints last."""
    print(json.dumps(result), flush=True)
