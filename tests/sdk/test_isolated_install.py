"""The SDK installs alone: a bare virtualenv gets ``sdk/`` and nothing outside its
declared dependencies (no torch, FastAPI, SQLAlchemy or pydantic), and the example's
logging runs from it against a live API, every event stored once. The oldest Python
the SDK supports (3.9) is checked by vermin on its source, as no 3.9 interpreter is on
this machine."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from backend.api.roles import Role
from backend.config import Settings
from backend.db import Database
from backend.models import Label, Prediction
from tests.factories import Tenant
from tests.live import LiveApi

ROOT = Path(__file__).resolve().parents[2]
LOANS = {
    "version": "v1",
    "features": [
        {"name": "age", "dtype": "numeric"},
        {"name": "income", "dtype": "numeric"},
        {"name": "debt", "dtype": "numeric"},
        {"name": "region", "dtype": "categorical", "categories": ["north", "south"]},
    ],
    "class_labels": ["deny", "approve"],
    "positive_class": "approve",
}
# What the bare virtualenv may hold besides the SDK's dependency closure.
TOOLING = {"pip", "setuptools", "wheel"}

REQUIREMENTS = r"""
import json, re
from importlib import metadata
def name(requirement):
    return re.split(r"[ ;<>=!~\[(]", requirement, maxsplit=1)[0].lower().replace("_", "-")
seen, todo = set(), ["verity-sdk"]
while todo:
    dist = todo.pop()
    if dist in seen:
        continue
    seen.add(dist)
    for requirement in metadata.requires(dist) or []:
        if "extra ==" not in requirement:
            try:
                metadata.distribution(name(requirement))
            except metadata.PackageNotFoundError:
                continue  # a marker excluded it on this Python
            todo.append(name(requirement))
installed = {d.metadata["Name"].lower().replace("_", "-") for d in metadata.distributions()}
print(json.dumps({"closure": sorted(seen), "installed": sorted(installed)}))
"""


def bare_venv(path: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True, timeout=300)
    python = path / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", str(ROOT / "sdk")],
        check=True,
        timeout=600,
    )
    return python


@pytest.mark.slow
def test_the_sdk_installs_alone_and_logs_every_event_once(
    tmp_path: Path, client: TestClient, tenant: Tenant, settings: Settings, database: Database
) -> None:
    python = bare_venv(tmp_path / "venv")
    found = json.loads(
        subprocess.run(
            [str(python), "-c", REQUIREMENTS],
            capture_output=True,
            text=True,
            check=True,
            cwd=tmp_path,  # not the checkout, whose egg-info would be listed too
        ).stdout
    )
    assert set(found["installed"]) - TOOLING == set(found["closure"]), found
    assert not {"torch", "fastapi", "sqlalchemy", "pydantic", "starlette"} & set(found["installed"])
    client.post("/v1/models", json={"name": "loans", "task": "binary"}, headers=tenant.headers())
    client.post("/v1/models/loans/versions", json=LOANS, headers=tenant.headers())
    api = LiveApi(settings).start()
    try:
        ran = subprocess.run(
            [
                str(python),
                str(ROOT / "examples" / "sdk_logging.py"),
                "--url",
                api.url,
                "--key",
                tenant.tokens[Role.INGEST],
                "--count",
                "300",
                "--prefix",
                f"iso-{tenant.project_id}",
            ],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=tmp_path,  # not the checkout: verity_sdk comes from the venv alone
        )
    finally:
        api.stop()
    assert ran.returncode == 0, ran.stderr
    stats = json.loads(ran.stdout.strip().splitlines()[-1])
    assert stats["flushed"] is True
    assert stats["delivered"] == 300 + 150  # predictions and labels
    assert all(value == 0 for key, value in stats.items() if key.startswith("dropped_"))
    assert stats["duplicates"] == 0
    with database.transaction(read_only=True) as session:
        predictions = session.scalar(
            select(func.count()).where(Prediction.project_id == tenant.project_id)
        )
        distinct = session.scalar(
            select(func.count(func.distinct(Prediction.event_id))).where(
                Prediction.project_id == tenant.project_id
            )
        )
        labels = session.scalar(select(func.count()).where(Label.project_id == tenant.project_id))
    assert predictions == distinct == 300
    assert labels == 150


def test_the_sdk_source_runs_on_its_oldest_python() -> None:
    """vermin reads every construct and library call the source uses and names the
    oldest Python that has them all."""
    vermin = shutil.which("vermin") or str(Path(sys.executable).with_name("vermin"))
    checked = subprocess.run(
        [vermin, "-t=3.9-", "--no-tips", "--violations", str(ROOT / "sdk" / "verity_sdk")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    metadata = (ROOT / "sdk" / "pyproject.toml").read_text()
    assert 'requires-python = ">=3.9"' in metadata
    assert 'dependencies = ["httpx>=0.24"]' in metadata
