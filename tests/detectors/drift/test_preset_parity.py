"""The whole detector against Evidently's DataDriftPreset: the same test per column,
the same score, the same decision, on small and large reference windows."""

import pytest

from detectors.drift.detector import DriftDetector, DriftParams
from tests.support.oracles import make_windows, run_evidently


@pytest.mark.parametrize("rows", [600, 3000])
def test_scores_equal_data_drift_preset(rows):
    reference, current = make_windows(rows, 10, seed=rows)
    ours = DriftDetector(DriftParams(include_prediction=False)).run(reference, current)
    theirs = run_evidently(reference, current)
    assert {c.column for c in ours.columns} == set(theirs)
    for column in ours.columns:
        assert column.score == pytest.approx(theirs[column.column], rel=1e-9, abs=1e-12), (
            column.column
        )
    assert ours.drifted_columns > 0
