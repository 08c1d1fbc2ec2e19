"""The dependency order of docs/architecture.md, enforced by import-linter's contracts
in pyproject.toml: they hold for the code, and they fail when someone breaks them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    # The packages are found from ``root`` first (before the editable install's).
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(root / "pyproject.toml")],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def copy_of_project(tmp_path: Path) -> Path:
    for name in ("backend", "detectors", "dashboard"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_import_contracts_hold() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "BROKEN" not in result.stdout


@pytest.mark.parametrize(
    ("module", "bad_import", "broken", "named"),
    [
        # A lower domain importing a higher one: the report names the import.
        (
            "backend/audit/chain.py",
            "from backend.alerts import service as _alerts",
            "Domains import only the domains below them BROKEN",
            "backend.audit.chain -> backend.alerts.service",
        ),
        # execute imports lineage; lineage importing execute closes a loop.
        (
            "backend/runs/lineage.py",
            "from backend.runs import execute as _execute",
            "No import cycle between sibling packages or modules under backend BROKEN",
            "",
        ),
        # The shared layer importing a domain.
        (
            "backend/api/params.py",
            "from backend.ingest import schemas as _schemas",
            "What every domain shares imports no domain BROKEN",
            "",
        ),
    ],
)
def test_a_bad_import_breaks_its_contract(
    tmp_path: Path, module: str, bad_import: str, broken: str, named: str
) -> None:
    root = copy_of_project(tmp_path)
    with (root / module).open("a") as source:
        source.write(f"\n{bad_import}  # noqa: E402\n")
    result = lint_imports(root)
    assert result.returncode != 0
    assert broken in result.stdout
    assert named in result.stdout
