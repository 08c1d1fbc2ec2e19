"""NannyML's binary CBPE on a Parquet file, timed; run in NannyML's own virtualenv
by ``benchmarks.estimate``. Writes the per-chunk results and the seconds fit and
estimate took as JSON: the best of ``repeat`` runs, and each."""

from __future__ import annotations

import json
import os
import sys
import time

os.environ.setdefault("NML_DISABLE_USAGE_LOGGING", "1")

import nannyml as nml  # type: ignore[import-not-found]
import pandas as pd

METRICS = ["roc_auc", "f1", "precision", "recall", "specificity", "accuracy"]
FIELDS = ("value", "sampling_error", "upper_confidence_boundary", "lower_confidence_boundary",
          "upper_threshold", "lower_threshold")  # fmt: skip


def main(source: str, target: str, chunks: int, repeat: int) -> None:
    data = pd.read_parquet(source)
    reference = data[data.period == "reference"].reset_index(drop=True)
    analysis = data[data.period == "analysis"].drop(columns=["label"]).reset_index(drop=True)
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        estimator = nml.CBPE(
            y_pred_proba="score",
            y_pred="prediction",
            y_true="label",
            metrics=METRICS,
            chunk_number=chunks,
            problem_type="classification_binary",
        ).fit(reference)
        result = estimator.estimate(analysis).filter(period="analysis").to_df()
        times.append(time.perf_counter() - started)
    out = [
        {m: {f: float(result[(m, f)].iloc[i]) for f in FIELDS} for m in METRICS}
        for i in range(len(result))
    ]
    with open(target, "w") as handle:
        json.dump({"seconds": min(times), "all_seconds": times, "chunks": out}, handle)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
