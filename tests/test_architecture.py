"""The dependency order of docs/architecture.md, enforced by import-linter's contracts
in pyproject.toml: they hold for the code, and they fail when someone breaks them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

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


def test_a_lower_domain_importing_a_higher_one_breaks_the_layers(tmp_path: Path) -> None:
    root = copy_of_project(tmp_path)
    with (root / "backend" / "audit" / "chain.py").open("a") as module:
        module.write("\nfrom backend.alerts import service as _alerts  # noqa: E402\n")
    result = lint_imports(root)
    assert result.returncode != 0
    assert "Domains import only the domains below them BROKEN" in result.stdout
    assert "backend.audit.chain -> backend.alerts.service" in result.stdout


def test_a_cycle_between_modules_breaks_the_acyclic_contract(tmp_path: Path) -> None:
    root = copy_of_project(tmp_path)
    # execute imports lineage; lineage importing execute closes a loop.
    with (root / "backend" / "runs" / "lineage.py").open("a") as module:
        module.write("\nfrom backend.runs import execute as _execute  # noqa: E402\n")
    result = lint_imports(root)
    assert result.returncode != 0
    assert "under backend BROKEN" in result.stdout


def test_shared_modules_importing_a_domain_break_their_contract(tmp_path: Path) -> None:
    root = copy_of_project(tmp_path)
    with (root / "backend" / "api" / "params.py").open("a") as module:
        module.write("\nfrom backend.ingest import schemas as _schemas  # noqa: E402\n")
    result = lint_imports(root)
    assert result.returncode != 0
    assert "What every domain shares imports no domain BROKEN" in result.stdout
