"""Verity's CBPE against NannyML 0.13's CBPE, on the same binary data in 10 chunks.

    python -m benchmarks.estimate --rows 1000000

NannyML is never one of Verity's dependencies: it runs in its own throw-away
virtualenv (``benchmarks/nannyml/venv.sh``, created on first use; set
``NANNYML_VENV`` to reuse one), in a subprocess that times its own fit and estimate.
Verity's time is its fit on the reference and its estimate of each chunk. Each side
runs ``--repeat`` times in its own process and its best run counts (the first run of
either pays for cold caches and lazy imports). Prints one JSON line last: both times,
every run's, their ratio, and the largest difference over every estimated value,
sampling error, confidence bound and threshold.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.common import emit, machine
from detectors.estimate.cbpe import CBPE_METRICS, Estimate, FittedCBPE, fit_cbpe
from detectors.performance.thresholds import chunk_bounds

HERE = Path(__file__).parent
FIELDS = {
    "value": "value",
    "sampling_error": "sampling_error",
    "lower_confidence": "lower_confidence_boundary",
    "upper_confidence": "upper_confidence_boundary",
}


def make_data(rows: int, reference_rows: int, seed: int = 0) -> pd.DataFrame:
    """Scores that are not quite calibrated (CBPE calibrates them), and a covariate
    shift halfway through the analysis rows."""
    rng = np.random.default_rng(seed)
    total = rows + reference_rows
    x = rng.normal(0, 1.5, total)
    x[reference_rows + rows // 2 :] *= 0.4
    truth = rng.uniform(size=total) < 1 / (1 + np.exp(-2.5 * x))
    score = (1 / (1 + np.exp(-1.5 * x))).round(6)
    return pd.DataFrame(
        {
            "score": score,
            "prediction": (score >= 0.5).astype(np.int64),
            "label": truth.astype(np.int64),
            "period": ["reference"] * reference_rows + ["analysis"] * rows,
        }
    )


def run_verity(
    reference: pd.DataFrame, analysis: pd.DataFrame, chunks: int
) -> tuple[list[dict[str, Estimate]], dict[str, tuple[float | None, float | None]], FittedCBPE]:
    """Fit on the reference, estimate every chunk and the thresholds: what NannyML's
    ``fit`` and ``estimate`` do."""
    score = reference.score.to_numpy()
    fitted = fit_cbpe(
        reference.label.to_numpy(),
        reference.prediction.to_numpy(),
        np.column_stack([1 - score, score]),
        positive=1,
        chunks=chunks,
    )
    scores = analysis.score.to_numpy()
    proba = np.column_stack([1 - scores, scores])
    predicted = analysis.prediction.to_numpy()
    ours = [
        fitted.estimate(predicted[start:end], proba[start:end])
        for start, end in chunk_bounds(len(analysis), chunks)
    ]
    bands = {m: fitted.band(m, 3.0) for m in CBPE_METRICS}
    return ours, bands, fitted


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--reference-rows", type=int, default=100_000)
    parser.add_argument("--chunks", type=int, default=10)
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs of each side; the best one counts"
    )
    args = parser.parse_args()
    data = make_data(args.rows, args.reference_rows)
    reference = data[data.period == "reference"]
    analysis = data[data.period == "analysis"]

    times = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        ours, bands, fitted = run_verity(reference, analysis, args.chunks)
        times.append(time.perf_counter() - started)
    verity_s = min(times)

    python = subprocess.run(
        ["bash", str(HERE / "nannyml" / "venv.sh")], check=True, capture_output=True, text=True
    ).stdout.strip()
    with tempfile.TemporaryDirectory() as folder:
        source, target = Path(folder) / "data.parquet", Path(folder) / "out.json"
        data.to_parquet(source, index=False)
        subprocess.run(
            [python, str(HERE / "nannyml" / "run_cbpe.py"), str(source), str(target),
             str(args.chunks), str(args.repeat)],
            check=True,
            capture_output=True,
        )  # fmt: skip
        theirs = json.loads(target.read_text())
    assert len(theirs["chunks"]) == len(ours)
    diff = 0.0
    for mine, chunk in zip(ours, theirs["chunks"], strict=True):
        for metric in CBPE_METRICS:
            for field, their_field in FIELDS.items():
                diff = max(diff, abs(getattr(mine[metric], field) - chunk[metric][their_field]))
            lower, upper = bands[metric]
            diff = max(diff, abs((lower or 0.0) - chunk[metric]["lower_threshold"]))
            diff = max(diff, abs((upper or 0.0) - chunk[metric]["upper_threshold"]))
    emit(
        {
            "bench": "estimate",
            "rows": args.rows,
            "reference_rows": args.reference_rows,
            "chunks": args.chunks,
            "calibrated": fitted.calibrated[0],
            "repeat": args.repeat,
            "verity_s": round(verity_s, 3),
            "nannyml_s": round(theirs["seconds"], 3),
            "verity_runs_s": [round(t, 3) for t in times],
            "nannyml_runs_s": [round(t, 3) for t in theirs["all_seconds"]],
            "speedup": round(theirs["seconds"] / verity_s, 1),
            "max_abs_diff": diff,
            "metrics_compared": list(CBPE_METRICS),
            **machine(),
        }
    )


if __name__ == "__main__":
    main()
