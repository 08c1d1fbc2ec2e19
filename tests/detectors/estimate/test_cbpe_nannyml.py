"""CBPE against NannyML 0.13 on its own example datasets. The oracle values were
written by NannyML itself (``benchmarks/nannyml/make_oracle.py``, in its own
virtualenv) and are committed as fixtures."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from detectors.estimate.cbpe import CBPE_METRICS, FittedCBPE, fit_cbpe
from detectors.performance.thresholds import chunk_bounds

FIXTURES = Path(__file__).parents[2] / "fixtures" / "nannyml"
TOL = 1e-6


def _compare(
    fitted: FittedCBPE, y_pred: np.ndarray, proba: np.ndarray, expected: list[dict]
) -> float:
    worst = 0.0
    analysis = [c for c in expected if c["period"] == "analysis"]
    bounds = chunk_bounds(len(y_pred), 10)
    assert [(c["start_index"], c["end_index"] + 1) for c in analysis] == bounds
    for (start, end), chunk in zip(bounds, analysis, strict=True):
        estimates = fitted.estimate(y_pred[start:end], proba[start:end])
        for metric in CBPE_METRICS:
            want = chunk[metric]
            got = estimates[metric]
            lower, upper = fitted.band(metric, 3.0)
            pairs = [
                (got.value, want["value"]),
                (got.sampling_error, want["sampling_error"]),
                (got.lower_confidence, want["lower_confidence_boundary"]),
                (got.upper_confidence, want["upper_confidence_boundary"]),
                (lower, want["lower_threshold"]),
                (upper, want["upper_threshold"]),
            ]
            for ours, theirs in pairs:
                assert ours == pytest.approx(theirs, abs=TOL), (metric, start)
                worst = max(worst, abs(ours - theirs))
    return worst


def test_binary_cbpe_equals_nannyml() -> None:
    data = pd.read_parquet(FIXTURES / "binary.parquet")
    expected = json.loads((FIXTURES / "binary.json").read_text())
    reference = data[data.period == "reference"]
    analysis = data[data.period == "analysis"]
    proba = np.column_stack([1 - reference.y_pred_proba, reference.y_pred_proba])
    fitted = fit_cbpe(
        reference.repaid.to_numpy(dtype=np.int64),
        reference.y_pred.to_numpy(dtype=np.int64),
        proba,
        positive=1,
        chunks=10,
    )
    assert fitted.calibrated == [expected["needs_calibration"]]
    score = analysis.y_pred_proba.to_numpy()
    _compare(
        fitted,
        analysis.y_pred.to_numpy(dtype=np.int64),
        np.column_stack([1 - score, score]),
        expected["chunks"],
    )


def test_multiclass_cbpe_equals_nannyml() -> None:
    data = pd.read_parquet(FIXTURES / "multiclass.parquet")
    expected = json.loads((FIXTURES / "multiclass.json").read_text())
    classes = expected["classes"]
    columns = [f"y_pred_proba_{c}" for c in classes]
    reference = data[data.period == "reference"]
    analysis = data[data.period == "analysis"]

    def index(values: pd.Series) -> np.ndarray:
        return values.map({c: i for i, c in enumerate(classes)}).to_numpy(dtype=np.int64)

    fitted = fit_cbpe(
        index(reference.y_true),
        index(reference.y_pred),
        reference[columns].to_numpy(),
        positive=None,
        chunks=10,
    )
    assert fitted.calibrated == [expected["calibrated"][c] for c in classes]
    _compare(fitted, index(analysis.y_pred), analysis[columns].to_numpy(), expected["chunks"])
