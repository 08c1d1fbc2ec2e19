"""CBPE's calibration step as NannyML 0.13 takes it, without its cost.

NannyML fits scikit-learn's ``IsotonicRegression`` in ten ``StratifiedShuffleSplit``
splits (seed 42) and calibrates only when that lowers the pooled expected
calibration error. Both scikit-learn steps spend most of their time on bookkeeping:
the splitter extends Python lists one numpy scalar at a time, and every fit sorts its
rows again. Here the rows are sorted once, each split's training rows are read off
that order with a mask, and the splits draw from the same ``RandomState`` stream in
the same sequence, so every split, every fitted curve and the decision are the ones
scikit-learn and NannyML arrive at (the tests compare them).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise
from math import ceil

import numpy as np
from scipy import optimize
from sklearn.isotonic import IsotonicRegression

from detectors.performance import metrics as m

SPLITS = 10
TEST_SHARE = 0.1
SEED = 42
# IsotonicRegression merges x values closer than this (``_make_unique``).
RESOLUTION = float(np.finfo(np.float64).resolution)


@dataclass(frozen=True)
class Isotonic:
    """A fitted ``IsotonicRegression(out_of_bounds="clip")``: its thresholds, and its
    prediction, which is the ``np.interp`` that scipy's ``interp1d`` calls (np.interp
    holds the end values past the ends, as clipping does)."""

    x: np.ndarray
    y: np.ndarray

    def predict(self, score: np.ndarray) -> np.ndarray:
        return np.interp(score, self.x, self.y)


def _pooled(x: np.ndarray, positives: np.ndarray, weights: np.ndarray) -> Isotonic:
    """The isotonic fit of distinct ascending scores ``x``, each holding ``weights``
    rows of which ``positives`` are positive (scikit-learn's ``_make_unique`` output,
    then its ``isotonic_regression``)."""
    weights = weights.astype(np.float64)
    # What scikit-learn's ``isotonic_regression`` runs (scipy >= 1.12), less its checks.
    y = optimize.isotonic_regression(positives / weights, weights=weights, increasing=True).x
    # scikit-learn drops the inner points of each flat run: same curve, fewer points.
    keep = np.ones(len(y), dtype=bool)
    keep[1:-1] = (y[1:-1] != y[:-2]) | (y[1:-1] != y[2:])
    return Isotonic(x[keep], y[keep])


def _has_near_ties(x_sorted: np.ndarray) -> bool:
    step = np.diff(x_sorted)
    return bool(np.any((step > 0) & (step < RESOLUTION)))


def fit_isotonic(x_sorted: np.ndarray, y_sorted: np.ndarray) -> Isotonic:
    """``IsotonicRegression(increasing=True).fit`` on rows already sorted by score.

    Tied scores become one point, weighted by their count, at the mean of their
    targets. The targets are 0/1, so those sums are exact in any order.
    """
    if _has_near_ties(x_sorted):
        # Near-ties merge by a running comparison that only the original replays.
        fitted = IsotonicRegression(out_of_bounds="clip", increasing=True)
        fitted.fit(x_sorted, y_sorted.astype(np.float64))
        return Isotonic(fitted.X_thresholds_, fitted.y_thresholds_)
    starts = np.r_[0, np.flatnonzero(np.diff(x_sorted)) + 1]
    weights = np.diff(np.r_[starts, len(x_sorted)])
    positives = np.add.reduceat(y_sorted.astype(np.float64), starts)
    return _pooled(x_sorted[starts], positives, weights)


def _approximate_mode(counts: np.ndarray, draws: int, rng: np.random.RandomState) -> np.ndarray:
    """scikit-learn's per-class share of ``draws`` rows: floored, then the remaining
    rows go to the largest remainders, ties broken by the same draws from ``rng``."""
    continuous = counts / counts.sum() * draws
    floored = np.floor(continuous)
    need = int(draws - floored.sum())
    if need > 0:
        remainder = continuous - floored
        for value in np.sort(np.unique(remainder))[::-1]:
            (tied,) = np.where(remainder == value)
            now = min(len(tied), need)
            floored[rng.choice(tied, size=now, replace=False)] += 1
            need -= now
            if need == 0:
                break
    return floored.astype(int)


def stratified_test_splits(y: np.ndarray) -> Iterator[np.ndarray]:
    """The test rows of ``StratifiedShuffleSplit(10, test_size=0.1, random_state=42)``,
    in its order. Its training rows are the rest; their shuffle is still drawn, so
    the next split draws what scikit-learn's does."""
    n = len(y)
    n_test = ceil(TEST_SHARE * n)
    n_train = n - n_test
    classes, class_counts = np.unique(y, return_counts=True)
    if np.min(class_counts) < 2:
        raise ValueError("a class has fewer than 2 labelled reference rows")
    if n_train < len(classes) or n_test < len(classes):
        raise ValueError("too few labelled reference rows for the calibration splits")
    # Each class's rows in ascending order: what its stable argsort of y splits into.
    class_indices = [np.flatnonzero(y == c) for c in classes]
    rng = np.random.RandomState(SEED)
    for _ in range(SPLITS):
        n_i = _approximate_mode(class_counts, n_train, rng)
        t_i = _approximate_mode(class_counts - n_i, n_test, rng)
        train, test = [], []
        for i, members in enumerate(class_indices):
            shuffled = members.take(rng.permutation(class_counts[i]), mode="clip")
            train.append(shuffled[: n_i[i]])
            test.append(shuffled[n_i[i] : n_i[i] + t_i[i]])
        rng.shuffle(np.concatenate(train))
        yield rng.permutation(np.concatenate(test))


def _bin_edges(length: int, bins: int) -> list[tuple[int, int]]:
    if length <= 2 * bins:
        bins = length // 2
        if bins < 2:
            raise ValueError(f"cannot split {length} rows into two calibration bins")
    width = length // bins
    edges = np.asarray(range(0, length + 1, width))
    edges[-1] = length
    return list(pairwise(edges.tolist()))


def _ece(y_true: np.ndarray, proba: np.ndarray, edges: list[tuple[int, int]]) -> float:
    # The same unstable argsort as NannyML's: tied scores on a bin edge fall alike.
    order = proba.argsort()
    proba, y_true = proba[order], y_true[order]
    return float(
        np.sum(
            [
                (right - left)
                / len(proba)
                * abs(proba[left:right].mean() - y_true[left:right].mean())
                for left, right in edges
            ]
        )
    )


def _split_calibrators(
    proba: np.ndarray, y_true: np.ndarray, order: np.ndarray, tests: list[np.ndarray]
) -> list[Isotonic]:
    """The isotonic fit on each split's training rows (all rows but its test rows).

    Each distinct score's rows and positives are counted once for all rows; a split
    takes its test rows' counts off, so no split sorts or gathers its ninety percent.
    """
    ordered_x, ordered_y = proba[order], y_true[order].astype(np.float64)
    if _has_near_ties(ordered_x):
        calibrators = []
        for test in tests:
            train = np.ones(len(proba), dtype=bool)
            train[test] = False
            kept = train[order]
            calibrators.append(fit_isotonic(ordered_x[kept], ordered_y[kept]))
        return calibrators
    new_score = np.r_[True, ordered_x[1:] != ordered_x[:-1]]
    starts = np.flatnonzero(new_score)
    group = np.empty(len(proba), dtype=np.int64)
    group[order] = np.cumsum(new_score) - 1
    rows = np.diff(np.r_[starts, len(proba)])
    positives = np.add.reduceat(ordered_y, starts)
    x = ordered_x[starts]
    calibrators = []
    for test in tests:
        held = np.bincount(group[test], minlength=len(starts))
        held_positives = np.bincount(group[test], weights=y_true[test], minlength=len(starts))
        train_rows = rows - held
        kept = train_rows > 0
        calibrators.append(_pooled(x[kept], (positives - held_positives)[kept], train_rows[kept]))
    return calibrators


def fit_calibrator(
    y_true: np.ndarray, proba: np.ndarray, order: np.ndarray | None = None
) -> Isotonic | None:
    """NannyML's ``needs_calibration`` and, when it holds, the isotonic calibrator
    fitted on all rows; ``None`` when the scores stay as they are. ``order`` may give
    an argsort of ``proba`` the caller already has."""
    if np.all(y_true == y_true[0]):
        return None
    if order is None:
        order = np.argsort(proba)
    if (m.ScoreCurve(y_true == 1, proba, order).roc_auc() or 0.0) > 0.999:
        return None
    tests = list(stratified_test_splits(y_true))
    calibrators = _split_calibrators(proba, y_true, order, tests)
    rows = np.concatenate(tests)
    truth = y_true[rows]
    calibrated = np.concatenate(
        [c.predict(proba[t]) for c, t in zip(calibrators, tests, strict=True)]
    )
    edges = _bin_edges(len(truth), 10)
    if _ece(truth, proba[rows], edges) <= _ece(truth, calibrated, edges):
        return None
    return fit_isotonic(proba[order], y_true[order])
