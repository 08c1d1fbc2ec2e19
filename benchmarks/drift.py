"""Verity's drift detector against Evidently's DataDriftPreset, on the same data.

    python -m benchmarks.drift --rows 1000000 --features 25

Reference and current windows of ``--rows`` rows each; a fifth of the features are
categorical, and a few columns drift. Prints one JSON line last: both times, their
ratio, and the largest difference between the per-column scores.
"""

from __future__ import annotations

import argparse
import time

from benchmarks.common import emit, machine
from detectors.drift.detector import DriftDetector, DriftParams
from tests.support.oracles import make_windows, run_evidently


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
