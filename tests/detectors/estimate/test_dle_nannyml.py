"""DLE against NannyML 0.13 on its car-price example. Sampling errors, bands and
realized values follow NannyML's formulas exactly; the estimates come from a
different gradient-boosting library (scikit-learn's, not LightGBM), so they agree
within a tolerance, and both must track the realized error."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from detectors.estimate.dle import DLE_METRICS, fit_dle
from detectors.performance.thresholds import chunk_bounds

FIXTURES = Path(__file__).parents[2] / "fixtures" / "nannyml"


def test_dle_agrees_with_nannyml() -> None:
    data = pd.read_parquet(FIXTURES / "regression.parquet")
    expected = json.loads((FIXTURES / "regression.json").read_text())
    reference = data[data.period == "reference"].reset_index(drop=True)
    analysis = data[data.period == "analysis"].reset_index(drop=True)
    fitted = fit_dle(
        reference,
        reference.y_pred.to_numpy(),
        reference.y_true.to_numpy(),
        numeric=["car_age", "km_driven", "price_new", "accident_count", "door_count"],
        categorical=["fuel", "transmission"],
        chunks=10,
    )
    chunks = [c for c in expected["chunks"] if c["period"] == "analysis"]
    bounds = chunk_bounds(len(analysis), 10)
    for (start, end), chunk in zip(bounds, chunks, strict=True):
        part = analysis.iloc[start:end]
        estimates = fitted.estimate(part, part.y_pred.to_numpy())
        for metric in DLE_METRICS:
            want, got = chunk[metric], estimates[metric]
            assert got.sampling_error == pytest.approx(want["sampling_error"], rel=1e-9)
            lower, upper = fitted.band(metric, 3.0)
            assert upper == pytest.approx(want["upper_threshold"], rel=1e-9)
            assert lower == pytest.approx(want["lower_threshold"], rel=1e-9, abs=1e-9)
            assert got.value == pytest.approx(want["value"], rel=0.01), (metric, start)
            realized = want["realized"]
            assert abs(got.value - realized) <= 3 * max(got.sampling_error, 1e-12) * 2, metric
