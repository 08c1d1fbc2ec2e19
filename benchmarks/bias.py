"""Verity's bias detector against fairlearn on the same data.

    python -m benchmarks.bias --rows 1000000

Two sensitive features (2 × 4 groups) and their intersection; labels for every row.
fairlearn computes a MetricFrame of six metrics plus demographic parity and equalized
odds for each grouping; Verity computes the same, plus 200-sample bootstrap intervals.
Prints one JSON line last.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from benchmarks.common import emit, machine
from detectors.base import ColumnKind, ColumnSpec, Window
from detectors.bias.detector import BiasDetector, BiasParams
from tests.support.oracles import fairlearn_metrics

COLUMNS = (
    ColumnSpec("sex", ColumnKind.CATEGORICAL, sensitive=True),
    ColumnSpec("race", ColumnKind.CATEGORICAL, sensitive=True),
)
GROUPINGS = (["sex"], ["race"], ["sex", "race"])


def make_frame(rows: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sex = rng.choice(["F", "M"], rows)
    race = rng.choice(["a", "b", "c", "d"], rows, p=[0.4, 0.3, 0.2, 0.1])
    label = rng.integers(0, 2, rows)
    p_positive = np.where(label == 1, 0.7, 0.3) - np.where(sex == "F", 0.1, 0.0)
    prediction = (rng.random(rows) < p_positive).astype(int)
    return pd.DataFrame({"sex": sex, "race": race, "label": label, "prediction": prediction})


def run_fairlearn(frame: pd.DataFrame) -> dict[str, float]:
    from fairlearn.metrics import (
        MetricFrame,
        demographic_parity_difference,
        demographic_parity_ratio,
        equalized_odds_difference,
        equalized_odds_ratio,
    )

    metrics = fairlearn_metrics()
    y, p = frame["label"], frame["prediction"]
    values: dict[str, float] = {}
    for attrs in GROUPINGS:
        sensitive = frame[attrs] if len(attrs) > 1 else frame[attrs[0]]
        by_group = MetricFrame(
            metrics=metrics, y_true=y, y_pred=p, sensitive_features=sensitive
        ).by_group
        for key, row in by_group.iterrows():
            parts = key if isinstance(key, tuple) else (key,)
            for metric, value in row.items():
                values[f"{'+'.join(attrs)}={'/'.join(map(str, parts))}:{metric}"] = float(value)
        tag = "+".join(attrs)
        values[f"{tag}:dp_diff"] = demographic_parity_difference(y, p, sensitive_features=sensitive)
        values[f"{tag}:dp_ratio"] = demographic_parity_ratio(y, p, sensitive_features=sensitive)
        values[f"{tag}:eo_diff"] = equalized_odds_difference(y, p, sensitive_features=sensitive)
        values[f"{tag}:eo_ratio"] = equalized_odds_ratio(y, p, sensitive_features=sensitive)
    return values


def run_verity(frame: pd.DataFrame) -> dict[str, float]:
    window = Window(frame, COLUMNS, prediction="prediction", label="label")
    result = BiasDetector(BiasParams()).run(window, window)
    values: dict[str, float] = {}
    for disparity in result.disparities:
        tag = "+".join(disparity.attributes)
        for group in disparity.groups:
            name = "/".join(group.group[a] for a in disparity.attributes)
            for metric in ("selection_rate", "accuracy", "tpr", "fpr", "fnr", "precision"):
                values[f"{tag}={name}:{metric}"] = float(getattr(group, metric))
        # fairlearn's figures are over every group: all_groups.
        everyone = disparity.all_groups
        values[f"{tag}:dp_diff"] = everyone.demographic_parity_difference
        values[f"{tag}:dp_ratio"] = everyone.demographic_parity_ratio
        values[f"{tag}:eo_diff"] = float(everyone.equalized_odds_difference or 0.0)
        values[f"{tag}:eo_ratio"] = float(everyone.equalized_odds_ratio or 0.0)
    return values


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    frame = make_frame(args.rows)
    started = time.perf_counter()
    ours = run_verity(frame)
    verity_s = time.perf_counter() - started
    started = time.perf_counter()
    theirs = run_fairlearn(frame)
    fairlearn_s = time.perf_counter() - started
    assert set(ours) == set(theirs), sorted(set(ours) ^ set(theirs))[:5]
    emit(
        {
            "bench": "bias",
            "rows": args.rows,
            "verity_s": round(verity_s, 3),
            "fairlearn_s": round(fairlearn_s, 3),
            "speedup": round(fairlearn_s / verity_s, 1),
            "max_abs_diff": max(abs(ours[k] - theirs[k]) for k in theirs),
            "values_compared": len(theirs),
            **machine(),
        }
    )


if __name__ == "__main__":
    main()
