"""Verity's realized-performance detector against Evidently's ClassificationPreset,
on the same binary data with scores; scikit-learn's metrics are the oracle.

    python -m benchmarks.performance --rows 1000000

A reference and a current window of ``--rows`` labelled rows each. Each side runs
``--repeat`` times and its best run counts (a first run pays for cold caches and lazy
imports). Prints one JSON line last: both times, every run's, their ratio, and the
largest difference between Verity's metrics and scikit-learn's.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
from sklearn import metrics as sk

from benchmarks.common import emit, machine
from detectors.base import Window
from detectors.performance.detector import PerformanceDetector, PerformanceParams


def make_window(rows: int, seed: int) -> Window:
    rng = np.random.default_rng(seed)
    label = rng.integers(0, 2, rows)
    score = np.clip(0.3 * label + rng.uniform(0, 0.7, rows), 0, 1).round(4)  # ties, as logged
    frame = pd.DataFrame({"prediction": (score >= 0.5).astype(int), "score": score, "label": label})
    return Window(
        frame=frame,
        columns=(),
        prediction="prediction",
        score="score",
        label="label",
        task="binary",
        classes=("0", "1"),
        positive_class="1",
    )


def sklearn_metrics(window: Window) -> dict[str, float]:
    y = window.frame["label"].to_numpy()
    pred = window.frame["prediction"].to_numpy()
    score = window.frame["score"].to_numpy()
    return {
        "accuracy": sk.accuracy_score(y, pred),
        "balanced_accuracy": sk.balanced_accuracy_score(y, pred),
        "precision": sk.precision_score(y, pred),
        "recall": sk.recall_score(y, pred),
        "f1": sk.f1_score(y, pred),
        "f1_macro": sk.f1_score(y, pred, average="macro"),
        "f1_weighted": sk.f1_score(y, pred, average="weighted"),
        "roc_auc": sk.roc_auc_score(y, score),
        "pr_auc": sk.average_precision_score(y, score),
        "log_loss": sk.log_loss(y, score),
        "brier": sk.brier_score_loss(y, score),
    }


def run_evidently(reference: Window, current: Window) -> None:
    from evidently import BinaryClassification, DataDefinition, Dataset, Report
    from evidently.presets import ClassificationPreset

    definition = DataDefinition(
        classification=[
            BinaryClassification(
                target="label", prediction_labels="prediction", prediction_probas="score"
            )
        ],
        numerical_columns=["score"],
        categorical_columns=["label", "prediction"],
    )
    Report([ClassificationPreset()]).run(
        Dataset.from_pandas(current.frame, data_definition=definition),
        Dataset.from_pandas(reference.frame, data_definition=definition),
    ).dict()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--skip-evidently", action="store_true", help="time Verity alone")
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs of each side; the best one counts"
    )
    args = parser.parse_args()
    reference, current = make_window(args.rows, 1), make_window(args.rows, 2)

    verity_runs = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        result = PerformanceDetector(PerformanceParams()).run(reference, current)
        verity_runs.append(time.perf_counter() - started)
    verity_s = min(verity_runs)

    oracle = sklearn_metrics(current)
    diff = max(abs(float(result.metrics[name] or 0.0) - value) for name, value in oracle.items())
    evidently_s = None
    evidently_runs: list[float] = []
    if not args.skip_evidently:
        for _ in range(args.repeat):
            started = time.perf_counter()
            run_evidently(reference, current)
            evidently_runs.append(time.perf_counter() - started)
        evidently_s = min(evidently_runs)
    emit(
        {
            "bench": "performance",
            "rows": args.rows,
            "verity_s": round(verity_s, 3),
            "evidently_s": round(evidently_s, 3) if evidently_s is not None else None,
            "speedup": round(evidently_s / verity_s, 1) if evidently_s is not None else None,
            "repeat": args.repeat,
            "verity_runs_s": [round(t, 3) for t in verity_runs],
            "evidently_runs_s": [round(t, 3) for t in evidently_runs],
            "sklearn_max_abs_diff": diff,
            "metrics_compared": sorted(oracle),
            **machine(),
        }
    )


if __name__ == "__main__":
    main()
