"""The vectorized shortcuts in ``metrics.py`` against the plain computations they
replace (scikit-learn's own definitions are checked in ``test_performance.py``)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.calibration import calibration_curve
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

from detectors.performance import metrics as m


@pytest.mark.parametrize("bins", [2, 3, 7, 10, 13, 100])
def test_uniform_bins_are_searchsorted_on_the_same_edges(bins: int) -> None:
    edges = np.linspace(0.0, 1.0, bins + 1)
    rng = np.random.default_rng(bins)
    values = np.r_[
        edges,  # every edge exactly: searchsorted puts it in the lower bin
        np.nextafter(edges, 2.0),
        np.nextafter(edges, -1.0),
        rng.uniform(size=10_000),
        np.arange(1, 1000) / 1000,
        [-0.5, 1.5],
    ]
    np.testing.assert_array_equal(
        m.uniform_bins(values, bins), np.searchsorted(edges[1:-1], values)
    )


def test_reliability_bins_are_calibration_curves() -> None:
    rng = np.random.default_rng(1)
    score = (rng.uniform(size=5000)).round(1)  # many values on the bin edges
    hit = rng.uniform(size=5000) < score
    ece, rows = m.reliability(hit, score, 10)
    observed, predicted = calibration_curve(hit, score, n_bins=10, strategy="uniform")
    np.testing.assert_allclose([r["fraction_positive"] for r in rows], observed, atol=1e-12)
    np.testing.assert_allclose([r["mean_predicted"] for r in rows], predicted, atol=1e-12)
    assert ece >= 0


@pytest.mark.parametrize("classes", [2, 3])
def test_row_losses_average_to_scikit_learns(classes: int) -> None:
    rng = np.random.default_rng(classes)
    raw = rng.uniform(size=(4000, classes))
    raw[:5, 0] = 0.0  # clipped rows
    proba = raw / raw.sum(axis=1, keepdims=True)
    truth = rng.integers(0, classes, 4000)
    labels = list(range(classes))
    if classes == 2:
        assert m.brier(truth, proba) == pytest.approx(
            brier_score_loss(truth, proba[:, 1]), abs=1e-12
        )
    else:
        assert m.brier(truth, proba) == pytest.approx(
            brier_score_loss(truth, proba, labels=labels), abs=1e-12
        )
    assert m.log_loss(truth, proba) == pytest.approx(
        log_loss(truth, proba, labels=labels), abs=1e-12
    )


def test_score_curve_auc_with_ties_and_empty_classes() -> None:
    rng = np.random.default_rng(3)
    score = rng.integers(0, 20, 3000) / 20
    hit = rng.uniform(size=3000) < score
    assert m.roc_auc(hit, score) == pytest.approx(roc_auc_score(hit, score), abs=1e-12)
    assert m.roc_auc(np.zeros(10, dtype=bool), score[:10]) is None
    assert m.roc_auc(np.zeros(0, dtype=bool), np.zeros(0)) is None
