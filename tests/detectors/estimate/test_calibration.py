"""The fast calibration step against the scikit-learn calls NannyML makes: the same
splits, the same isotonic curves and the same decision."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.isotonic import IsotonicRegression
from sklearn.model_selection import StratifiedShuffleSplit

from detectors.estimate.calibration import (
    _bin_edges,
    _ece,
    _split_calibrators,
    fit_calibrator,
    fit_isotonic,
    stratified_test_splits,
)


def _scores(n: int, seed: int, decimals: int | None = 3, skew: float = 1.0) -> tuple:
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1.5, n)
    truth = (rng.uniform(size=n) < 1 / (1 + np.exp(-2.5 * x))).astype(np.int64)
    score = 1 / (1 + np.exp(-skew * x))
    return truth, score if decimals is None else score.round(decimals)


def _sklearn_fit(x: np.ndarray, y: np.ndarray) -> IsotonicRegression:
    return IsotonicRegression(out_of_bounds="clip", increasing=True).fit(x, y.astype(float))


@pytest.mark.parametrize("labels", [[0, 1], [0, 1, 2], [3, 7, 9, 11]])
def test_test_splits_are_scikit_learns(labels: list[int]) -> None:
    rng = np.random.default_rng(len(labels))
    # Uneven classes, so the splitter's rounding (and its tie-breaking draws) matter.
    weights = np.linspace(1, 2, len(labels))
    y = rng.choice(labels, size=1237, p=weights / weights.sum())
    splitter = StratifiedShuffleSplit(n_splits=10, test_size=0.1, random_state=42)
    theirs = [test for _, test in splitter.split(np.zeros(len(y)), y)]
    ours = list(stratified_test_splits(y))
    assert len(ours) == len(theirs) == 10
    for mine, test in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(mine, test)


def test_tied_class_shares_are_broken_by_scikit_learns_draws() -> None:
    # 903 rows in three equal classes: 91 test rows, 30.33 per class, so which class
    # gets the 31st row is a draw, in every split.
    y = np.random.default_rng(0).permutation(np.repeat([0, 1, 2], 301))
    splitter = StratifiedShuffleSplit(n_splits=10, test_size=0.1, random_state=42)
    theirs = [test for _, test in splitter.split(np.zeros(len(y)), y)]
    assert len({tuple(np.bincount(y[t])) for t in theirs}) > 1
    for mine, test in zip(stratified_test_splits(y), theirs, strict=True):
        np.testing.assert_array_equal(mine, test)


def test_a_class_of_one_row_is_refused_as_scikit_learn_refuses_it() -> None:
    y = np.array([0] * 50 + [1])
    with pytest.raises(ValueError, match="fewer than 2"):
        list(stratified_test_splits(y))


@pytest.mark.parametrize("decimals", [2, 4, None])
def test_isotonic_fit_is_scikit_learns(decimals: int | None) -> None:
    y, x = _scores(5000, seed=3, decimals=decimals)
    order = np.argsort(x)
    ours = fit_isotonic(x[order], y[order])
    theirs = _sklearn_fit(x, y)
    np.testing.assert_array_equal(ours.x, theirs.X_thresholds_)
    np.testing.assert_array_equal(ours.y, theirs.y_thresholds_)
    probe = np.r_[np.linspace(-0.1, 1.1, 301), x[:500]]
    np.testing.assert_array_equal(ours.predict(probe), theirs.predict(probe))


def test_scores_closer_than_float_resolution_merge_as_scikit_learn_merges_them() -> None:
    base = np.repeat(np.linspace(0.1, 0.9, 40), 5)
    x = np.sort(base + np.tile([0.0, 3e-16, 6e-16, 9e-16, 1.2e-15], 40))
    y = (np.arange(len(x)) % 3 == 0).astype(np.int64)
    ours = fit_isotonic(x, y)
    theirs = _sklearn_fit(x, y)
    np.testing.assert_array_equal(ours.x, theirs.X_thresholds_)
    np.testing.assert_array_equal(ours.y, theirs.y_thresholds_)


@pytest.mark.parametrize("near_ties", [False, True])
def test_each_split_fits_its_training_rows(near_ties: bool) -> None:
    y, x = _scores(3000, seed=5, decimals=3)
    if near_ties:
        x = x + (np.arange(len(x)) % 2) * 4e-16
    tests = list(stratified_test_splits(y))
    splitter = StratifiedShuffleSplit(n_splits=10, test_size=0.1, random_state=42)
    ours = _split_calibrators(x, y, np.argsort(x), tests)
    for mine, (train, test) in zip(ours, splitter.split(x, y), strict=True):
        theirs = _sklearn_fit(x[train], y[train])
        np.testing.assert_array_equal(mine.predict(x[test]), theirs.predict(x[test]))


def _nannyml_decision(y: np.ndarray, x: np.ndarray) -> bool:
    """NannyML 0.13's ``needs_calibration`` as it is written, on scikit-learn."""
    splitter = StratifiedShuffleSplit(n_splits=10, test_size=0.1, random_state=42)
    truths, raw, calibrated = [], [], []
    for train, test in splitter.split(x, y):
        fitted = _sklearn_fit(x[train], y[train])
        truths.append(y[test])
        raw.append(x[test])
        calibrated.append(fitted.predict(x[test]))
    truth = np.concatenate(truths)
    edges = _bin_edges(len(truth), 10)
    return _ece(truth, np.concatenate(raw), edges) > _ece(truth, np.concatenate(calibrated), edges)


@pytest.mark.parametrize(
    ("skew", "decimals", "seed"),
    [(2.5, None, 7), (2.5, 2, 10), (2.5, None, 1), (1.0, 3, 3), (4.0, 3, 4), (2.5, 1, 5)],
)
def test_the_decision_and_the_calibrator_are_nannymls(
    skew: float, decimals: int | None, seed: int
) -> None:
    """Well calibrated scores (skew 2.5) and badly calibrated ones: both decisions
    occur (the next test holds that)."""
    y, x = _scores(4000, seed=seed, decimals=decimals, skew=skew)
    ours = fit_calibrator(y, x)
    assert (ours is not None) == _nannyml_decision(y, x)
    if ours is not None:
        np.testing.assert_array_equal(ours.predict(x), _sklearn_fit(x, y).predict(x))


def test_both_decisions_occur_in_the_cases_above() -> None:
    decisions = {
        fit_calibrator(*_scores(4000, seed=s, decimals=d, skew=k)) is not None
        for k, d, s in [(2.5, None, 7), (2.5, 2, 10), (1.0, 3, 3)]
    }
    assert decisions == {True, False}


def test_a_single_class_or_a_perfect_ranking_needs_no_calibration() -> None:
    x = np.linspace(0, 1, 200)
    assert fit_calibrator(np.ones(200, dtype=np.int64), x) is None
    assert fit_calibrator((x > 0.5).astype(np.int64), x) is None
