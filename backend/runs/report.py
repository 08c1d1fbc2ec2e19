"""Evidently's own HTML drift report for a run, on a deterministic sample of both
windows, kept beside the run as an artifact: the peer tool's view, for whoever wants
to see the same data through Evidently's eyes."""

from __future__ import annotations

import hashlib
import importlib.metadata
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from backend.catalog.storage import ArtifactStore
from detectors.base import ColumnKind, Window


def _sample(frame: pd.DataFrame, rows: int, seed: int) -> pd.DataFrame:
    return frame if len(frame) <= rows else frame.sample(n=rows, random_state=seed)


def build_report(
    store: ArtifactStore, reference: Window, current: Window, *, rows: int, seed: int
) -> dict[str, Any]:
    """Build and store the report; what the run's result records of it."""
    try:
        from evidently import DataDefinition, Dataset, Report
        from evidently.presets import DataDriftPreset
    except ImportError:
        return {"error": "Evidently is not installed (pip install 'verity[peers]')"}
    numeric = [c.name for c in current.columns if c.kind == ColumnKind.NUMERIC]
    categorical = [c.name for c in current.columns if c.kind != ColumnKind.NUMERIC]
    definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)
    columns = numeric + categorical
    snapshot = Report([DataDriftPreset()]).run(
        Dataset.from_pandas(
            _sample(current.frame[columns], rows, seed).reset_index(drop=True),
            data_definition=definition,
        ),
        Dataset.from_pandas(
            _sample(reference.frame[columns], rows, seed).reset_index(drop=True),
            data_definition=definition,
        ),
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "report.html"
        snapshot.save_html(str(path))
        html = path.read_bytes()
    digest = hashlib.sha256(html).hexdigest()
    relative = f"reports/{digest}.html"
    store.write(relative, html)
    return {
        "path": relative,
        "sha256": digest,
        "rows": rows,
        "evidently": importlib.metadata.version("evidently"),
    }
