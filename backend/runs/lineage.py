"""What a check run records so that it can be reproduced and its record verified."""

from __future__ import annotations

from functools import lru_cache
from importlib import metadata
from typing import Any

from backend.audit.chain import canonical_json, sha256_hex
from backend.models import CheckRun

LIBRARIES = ("verity", "evidently", "fairlearn", "shap", "torch", "numpy", "scipy", "pandas")


@lru_cache(maxsize=1)
def library_versions() -> dict[str, str]:
    versions = {}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def record_fields(run: CheckRun) -> dict[str, Any]:
    """Every stored field of a run that its audit record vouches for."""
    return {
        "id": run.id,
        "monitor_id": run.monitor_id,
        "model_version_id": run.model_version_id,
        "trigger": run.trigger,
        "window_start": run.window_start.isoformat(),
        "window_end": run.window_end.isoformat(),
        "status": run.status,
        "rows": run.rows,
        "rows_in_window": run.rows_in_window,
        "labeled_rows": run.labeled_rows,
        "reference_rows": run.reference_rows,
        "window_sha256": run.window_sha256,
        "reference_sha256": run.reference_sha256,
        "reference_source": run.reference_source,
        "sampling": run.sampling,
        "detector_kind": run.detector_kind,
        "detector_version": run.detector_version,
        "params": run.params,
        "library_versions": run.library_versions,
        "artifact_sha256": run.artifact_sha256,
        "device": run.device,
        "compute_seconds": run.compute_seconds,
        "compute_cost": run.compute_cost,
        "result": run.result,
        "error": run.error,
    }


def record_sha256(run: CheckRun) -> str:
    return sha256_hex(canonical_json(record_fields(run)))
