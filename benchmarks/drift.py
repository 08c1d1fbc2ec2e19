"""Verity's drift detector against Evidently's DataDriftPreset, on the same data.

    python -m benchmarks.drift --rows 1000000 --features 25

Reference and current windows of ``--rows`` rows each; a fifth of the features are
categorical, and a few columns drift. Prints one JSON line last: both times, their
ratio, and the largest difference between the per-column scores.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from benchmarks.common import emit, machine
from detectors.base import ColumnKind, ColumnSpec, Window
from detectors.drift.detector import DriftDetector, DriftParams


def make_windows(rows: int, features: int, seed: int = 0) -> tuple[Window, Window]:
    rng = np.random.default_rng(seed)
    n_categorical = max(1, features // 5)
    specs: list[ColumnSpec] = []
    reference: dict[str, np.ndarray] = {}
    current: dict[str, np.ndarray] = {}
    for i in range(features):
        if i < n_categorical:
            name = f"cat_{i:02d}"
            cats = np.array([f"v{k}" for k in range(3 + i % 5)])
            specs.append(ColumnSpec(name, ColumnKind.CATEGORICAL))
            reference[name] = rng.choice(cats, rows)
            p = (
                np.full(len(cats), 1 / len(cats))
                if i % 2
                else np.linspace(1, 2, len(cats)) / np.linspace(1, 2, len(cats)).sum()
            )
            current[name] = rng.choice(cats, rows, p=p)
        else:
            name = f"num_{i:02d}"
            specs.append(ColumnSpec(name, ColumnKind.NUMERIC))
            reference[name] = rng.normal(0, 1, rows)
            shift = 0.3 if i % 4 == 0 else 0.0
            current[name] = rng.normal(shift, 1, rows)
    columns = tuple(specs)
    return Window(pd.DataFrame(reference), columns), Window(pd.DataFrame(current), columns)


def run_evidently(reference: Window, current: Window) -> dict[str, float]:
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    definition = DataDefinition(
        numerical_columns=[c.name for c in reference.columns if c.kind == ColumnKind.NUMERIC],
        categorical_columns=[c.name for c in reference.columns if c.kind == ColumnKind.CATEGORICAL],
    )
    snapshot = Report([DataDriftPreset()]).run(
        Dataset.from_pandas(current.frame, data_definition=definition),
        Dataset.from_pandas(reference.frame, data_definition=definition),
    )
    scores = {}
    for metric in snapshot.dict()["metrics"]:
        config = metric.get("config", {})
        if config.get("type", "").endswith("ValueDrift"):
            scores[config["column"]] = float(metric["value"])
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--features", type=int, default=25)
    parser.add_argument("--skip-evidently", action="store_true", help="time Verity alone")
    args = parser.parse_args()

    reference, current = make_windows(args.rows, args.features)
    started = time.perf_counter()
    result = DriftDetector(DriftParams(include_prediction=False)).run(reference, current)
    verity_s = time.perf_counter() - started
    ours = {c.column: c.score for c in result.columns}

    evidently_s = None
    max_abs_diff = None
    if not args.skip_evidently:
        started = time.perf_counter()
        theirs = run_evidently(reference, current)
        evidently_s = time.perf_counter() - started
        assert set(theirs) == set(ours), (sorted(theirs), sorted(ours))
        max_abs_diff = max(abs(float(ours[c] or 0.0) - theirs[c]) for c in theirs)
    emit(
        {
            "bench": "drift",
            "rows": args.rows,
            "features": args.features,
            "verity_s": round(verity_s, 3),
            "evidently_s": round(evidently_s, 3) if evidently_s is not None else None,
            "speedup": round(evidently_s / verity_s, 1) if evidently_s is not None else None,
            "max_abs_diff": max_abs_diff,
            "drifted_columns": result.drifted_columns,
            **machine(),
        }
    )


if __name__ == "__main__":
    main()
