"""Oracle values for the estimated-performance tests, from NannyML 0.13 itself.

Run in NannyML's own throw-away virtualenv (``benchmarks/nannyml/venv.sh``):

    NML_DISABLE_USAGE_LOGGING=1 $(bash benchmarks/nannyml/venv.sh) \
        benchmarks/nannyml/make_oracle.py tests/fixtures/nannyml

For NannyML's example datasets (shipped in its wheel, Apache-2.0) it writes the rows
used (a prefix of the reference and of the analysis set, targets joined) as Parquet,
and NannyML's per-chunk results as JSON: CBPE for the binary and multiclass sets, DLE
for the regression set, 10 chunks each.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("NML_DISABLE_USAGE_LOGGING", "1")

import nannyml as nml  # type: ignore[import-not-found]
import numpy as np
import pandas as pd

ROWS = {"binary": 20_000, "multiclass": 20_000, "regression": 10_000}
CHUNKS = 10


def _records(result: nml.base.Result, metrics: list[str]) -> list[dict]:
    frame = result.to_df()
    out = []
    for i in range(len(frame)):
        row = {
            "period": str(frame[("chunk", "period")].iloc[i]),
            "start_index": int(frame[("chunk", "start_index")].iloc[i]),
            "end_index": int(frame[("chunk", "end_index")].iloc[i]),
        }
        for metric in metrics:
            row[metric] = {
                field: (
                    None
                    if frame[(metric, field)].iloc[i] is None
                    or (
                        isinstance(frame[(metric, field)].iloc[i], float)
                        and np.isnan(frame[(metric, field)].iloc[i])
                    )
                    else float(frame[(metric, field)].iloc[i])
                )
                for field in (
                    "value",
                    "sampling_error",
                    "realized",
                    "upper_confidence_boundary",
                    "lower_confidence_boundary",
                    "upper_threshold",
                    "lower_threshold",
                    "alert",
                )
            }
        out.append(row)
    return out


def _take(loaded: tuple, target: str, rows: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    reference, analysis, targets = loaded
    analysis = analysis.merge(targets, on="id")
    return reference.head(rows).reset_index(drop=True), analysis.head(rows).reset_index(drop=True)


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    cbpe_metrics = ["roc_auc", "f1", "precision", "recall", "specificity", "accuracy"]

    reference, analysis = _take(nml.load_synthetic_car_loan_dataset(), "repaid", ROWS["binary"])
    columns = ["y_pred_proba", "y_pred", "repaid"]
    estimator = nml.CBPE(
        y_pred_proba="y_pred_proba",
        y_pred="y_pred",
        y_true="repaid",
        metrics=cbpe_metrics,
        chunk_number=CHUNKS,
        problem_type="classification_binary",
    ).fit(reference)
    result = estimator.estimate(analysis)
    pd.concat(
        [reference[columns].assign(period="reference"), analysis[columns].assign(period="analysis")]
    ).to_parquet(out / "binary.parquet", index=False)
    (out / "binary.json").write_text(
        json.dumps(
            {
                "needs_calibration": bool(estimator.needs_calibration),
                "chunks": _records(result, cbpe_metrics),
            },
            indent=1,
        )
    )

    reference, analysis = _take(
        nml.load_synthetic_multiclass_classification_dataset(), "y_true", ROWS["multiclass"]
    )
    classes = ["highstreet_card", "prepaid_card", "upmarket_card"]
    proba = {c: f"y_pred_proba_{c}" for c in classes}
    estimator = nml.CBPE(
        y_pred_proba=proba,
        y_pred="y_pred",
        y_true="y_true",
        metrics=cbpe_metrics,
        chunk_number=CHUNKS,
        problem_type="classification_multiclass",
    ).fit(reference)
    result = estimator.estimate(analysis)
    columns = [*proba.values(), "y_pred", "y_true"]
    pd.concat(
        [reference[columns].assign(period="reference"), analysis[columns].assign(period="analysis")]
    ).to_parquet(out / "multiclass.parquet", index=False)
    calibrated = {
        c: type(cal).__name__ != "NoopCalibrator" for c, cal in estimator._calibrators.items()
    }
    (out / "multiclass.json").write_text(
        json.dumps(
            {
                "classes": classes,
                "calibrated": calibrated,
                "chunks": _records(result, cbpe_metrics),
            },
            indent=1,
        )
    )

    reference, analysis = _take(
        nml.load_synthetic_car_price_dataset(), "y_true", ROWS["regression"]
    )
    features = [
        "car_age",
        "km_driven",
        "price_new",
        "accident_count",
        "door_count",
        "fuel",
        "transmission",
    ]
    for frame in (reference, analysis):
        for name in ("fuel", "transmission"):
            frame[name] = frame[name].astype("category")
    dle_metrics = ["mae", "mape", "mse", "rmse"]
    estimator = nml.DLE(
        feature_column_names=features,
        y_pred="y_pred",
        y_true="y_true",
        metrics=dle_metrics,
        chunk_number=CHUNKS,
    ).fit(reference)
    result = estimator.estimate(analysis)
    columns = [*features, "y_pred", "y_true"]
    both = pd.concat(
        [reference[columns].assign(period="reference"), analysis[columns].assign(period="analysis")]
    )
    for name in ("fuel", "transmission"):
        both[name] = both[name].astype(str)
    both.to_parquet(out / "regression.parquet", index=False)
    (out / "regression.json").write_text(
        json.dumps({"features": features, "chunks": _records(result, dle_metrics)}, indent=1)
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]))
