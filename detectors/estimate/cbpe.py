"""Confidence-based performance estimation (CBPE) as NannyML 0.13 defines it, on
numpy arrays.

Fitting on the labelled reference: per class (binary: the positive class), isotonic
calibration is fitted only when it lowers the expected calibration error in
NannyML's ten stratified shuffle splits; the sampling-error components and the
realized metric of each reference chunk (for the ±k·std band) come from the labels.

Estimating a chunk needs no labels: the calibrated probability of each row is its
expected share of a true positive, so expected confusion counts give accuracy,
precision, recall, specificity and F1, and cumulative expected counts over every
threshold (rows ordered by the uncalibrated score) give ROC AUC. Multiclass is one
class against the rest, averaged (macro).

Every formula follows NannyML's source, down to its quirks (the expected ROC curve's
counts are rounded to five decimals; the multiclass AUROC sampling error is scaled
by 1.2), so that the estimates equal NannyML's to 1e-6.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import auc as trapezoid_auc
from sklearn.model_selection import StratifiedShuffleSplit

from detectors.performance import metrics as m
from detectors.performance.thresholds import band, chunk_bounds

CBPE_METRICS = ("roc_auc", "f1", "precision", "recall", "specificity", "accuracy")
SAMPLING_ERROR_RANGE = 3


# -- calibration -----------------------------------------------------------------------


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


def needs_calibration(y_true: np.ndarray, proba: np.ndarray) -> bool:
    """NannyML's ``needs_calibration``: isotonic calibration in ten stratified 90/10
    shuffle splits (seed 42) must lower the pooled expected calibration error."""
    if len(np.unique(y_true)) == 1:
        return False
    if (m.roc_auc(y_true == 1, proba) or 0.0) > 0.999:
        return False
    splits = StratifiedShuffleSplit(n_splits=10, test_size=0.1, random_state=42)
    truths, raw, calibrated = [], [], []
    for train, test in splits.split(proba, y_true):
        calibrator = IsotonicRegression(out_of_bounds="clip", increasing=True)
        calibrator.fit(proba[train], y_true[train])
        truths.append(y_true[test])
        raw.append(proba[test])
        calibrated.append(calibrator.predict(proba[test]))
    truth = np.concatenate(truths)
    edges = _bin_edges(len(truth), 10)
    return _ece(truth, np.concatenate(raw), edges) > _ece(truth, np.concatenate(calibrated), edges)


def fit_calibrator(y_true: np.ndarray, proba: np.ndarray) -> IsotonicRegression | None:
    if not needs_calibration(y_true, proba):
        return None
    calibrator = IsotonicRegression(out_of_bounds="clip", increasing=True)
    calibrator.fit(proba, y_true)
    return calibrator


# -- estimates -------------------------------------------------------------------------


def estimate_roc_auc(calibrated: np.ndarray, uncalibrated: np.ndarray) -> float:
    order = np.argsort(uncalibrated)[::-1]
    expected = calibrated[order]
    with np.errstate(divide="ignore", invalid="ignore"):
        cumulative = np.cumsum(expected)
        false_cumulative = 1 + np.arange(len(expected)) - cumulative
        tps = np.asarray(np.round(np.r_[0, cumulative], 5))
        fps = np.asarray(np.round(np.r_[0, false_cumulative], 5))
        return float(trapezoid_auc(fps / fps[-1], tps / tps[-1]))


def expected_counts(predicted: np.ndarray, calibrated: np.ndarray) -> tuple[float, ...]:
    """Expected TP, FP, FN, TN of one class against the rest."""
    tp = float(np.sum(np.where(predicted, calibrated, 0)))
    fp = float(np.sum(np.where(predicted, 1 - calibrated, 0)))
    fn = float(np.sum(np.where(~predicted, calibrated, 0)))
    tn = float(np.sum(np.where(~predicted, 1 - calibrated, 0)))
    return tp, fp, fn, tn


def _div(a: float, b: float) -> float:
    return a / b if b != 0 else 0.0


def binary_estimates(predicted: np.ndarray, calibrated: np.ndarray) -> dict[str, float]:
    tp, fp, fn, tn = expected_counts(predicted, calibrated)
    return {
        "f1": _div(tp, tp + 0.5 * (fp + fn)),
        "precision": _div(tp, tp + fp),
        "recall": _div(tp, tp + fn),
        "specificity": _div(tn, tn + fp),
        "accuracy": (tp + tn) / len(predicted),
    }


# -- sampling error components (reference) ---------------------------------------------


def _auroc_components(y_true: np.ndarray, proba: np.ndarray) -> tuple[float, float, float]:
    """The Mann-Whitney placements' spread (std and variance) and the positive share."""
    y = y_true.astype(np.int64)
    if np.mean(y) > 0.5:
        y = np.abs(y - 1)
        proba = 1 - proba
    order = np.argsort(proba)
    y = y[order]
    ranks = np.unique(y * np.arange(len(y)))[1:]
    n_pos = int(np.sum(y))
    placements = (ranks - np.arange(len(ranks))) / (len(y) - n_pos)
    return float(np.std(placements)), float(np.var(placements)), n_pos / len(y)


def _observations(
    y_true: np.ndarray, y_pred: np.ndarray, *, binary: bool
) -> dict[str, tuple[np.ndarray, float]]:
    """Observation-level values and their share of rows, per count metric (NannyML's
    'modified standard error of the mean'; its binary F1 carries a correcting factor,
    its multiclass F1 does not)."""
    right = y_true == y_pred
    tp = np.ones(int(np.sum(right & y_pred)))
    tn = np.ones(int(np.sum(right & ~y_pred)))
    fp = np.zeros(int(np.sum(~right & y_pred)))
    fn = np.zeros(int(np.sum(~right & ~y_pred)))
    n = len(y_true)
    f1 = np.concatenate([tp, fn, fp])
    out = {
        "precision": (np.concatenate([tp, fp]), float(np.sum(y_pred)) / n),
        "recall": (np.concatenate([tp, fn]), float(np.sum(y_true)) / n),
        "specificity": (np.concatenate([tn, fp]), (len(tn) + len(fp)) / n),
    }
    if not binary:
        out["f1"] = (f1, len(f1) / n)
    elif len(f1):
        correcting = len(f1) / ((len(fn) + len(fp)) * 0.5 + len(tp))
        out["f1"] = (f1 * correcting, len(f1) / n)
    else:
        out["f1"] = (np.array([np.nan]), 0.0)
    return out


# -- realized (reference chunks, for the band) -----------------------------------------


def _realized_binary(y_true: np.ndarray, y_pred: np.ndarray, score: np.ndarray) -> dict[str, float]:
    single_truth = len(np.unique(y_true)) <= 1
    single_pred = len(np.unique(y_pred)) <= 1
    tp = float(np.sum(y_true & y_pred))
    fp = float(np.sum(~y_true & y_pred))
    fn = float(np.sum(y_true & ~y_pred))
    tn = float(np.sum(~y_true & ~y_pred))
    nan = float("nan")
    auc = m.roc_auc(y_true, score)
    counted = single_truth or single_pred
    return {
        "roc_auc": nan if single_truth or auc is None else auc,
        "f1": nan if counted else _div(2 * tp, 2 * tp + fp + fn),
        "precision": nan if counted else _div(tp, tp + fp),
        "recall": nan if counted else _div(tp, tp + fn),
        "specificity": nan if counted else _div(tn, tn + fp),
        "accuracy": (tp + tn) / len(y_true),
    }


def _realized_multiclass(
    y_true: np.ndarray, y_pred: np.ndarray, proba: np.ndarray
) -> dict[str, float]:
    k = proba.shape[1]
    nan = float("nan")
    cm = m.confusion(y_true, y_pred, k)
    counts = m.count_metrics(cm, None)
    tp = np.diagonal(cm)
    fp = cm.sum(axis=0) - tp
    fn = cm.sum(axis=1) - tp
    tn = cm.sum() - tp - fp - fn
    with np.errstate(divide="ignore", invalid="ignore"):
        specificity = float(np.mean(tn / (tn + fp)))
    counted = len(np.unique(y_true)) <= 1 or len(np.unique(y_pred)) <= 1
    if len(np.unique(y_true)) == k:
        aucs = [m.roc_auc(y_true == c, proba[:, c]) for c in range(k)]
        auc = float(np.mean([a for a in aucs if a is not None]))
    else:
        auc = nan
    return {
        "roc_auc": auc,
        "f1": nan if counted else float(counts["f1_macro"]),
        "precision": nan if counted else float(counts["precision_macro"]),
        "recall": nan if counted else float(counts["recall_macro"]),
        "specificity": nan if counted else specificity,
        "accuracy": float(counts["accuracy"]),
    }


# -- the fitted estimator --------------------------------------------------------------


@dataclass
class Estimate:
    value: float
    sampling_error: float
    lower_confidence: float
    upper_confidence: float


@dataclass
class FittedCBPE:
    classes: int
    positive: int | None
    calibrators: list[IsotonicRegression | None]
    components: dict[str, list[tuple[float, float]]]
    accuracy_std: float
    reference_realized: dict[str, float]
    chunk_realized: list[dict[str, float]] = field(default_factory=list)

    def band(self, metric: str, k: float) -> tuple[float | None, float | None]:
        """NannyML's threshold: a bound at or past the metric's limit becomes the limit."""
        values = [c[metric] for c in self.chunk_realized]
        lower, upper = band([None if np.isnan(v) else v for v in values], metric, k)
        return lower, upper

    @property
    def calibrated(self) -> list[bool]:
        return [c is not None for c in self.calibrators]

    def calibrate(self, proba: np.ndarray) -> np.ndarray:
        if self.positive is not None:
            score = proba[:, self.positive]
            calibrator = self.calibrators[0]
            return score if calibrator is None else calibrator.predict(score)
        out = np.column_stack(
            [
                proba[:, c] if cal is None else cal.predict(proba[:, c])
                for c, cal in enumerate(self.calibrators)
            ]
        )
        total = out.sum(axis=1)[:, None]
        uniform = np.full_like(out, 1 / out.shape[1])
        return np.divide(out, total, out=uniform, where=total != 0)

    def estimate(self, y_pred: np.ndarray, proba: np.ndarray) -> dict[str, Estimate]:
        """Estimates for one chunk; ``y_pred`` class indices, ``proba`` uncalibrated."""
        n = len(y_pred)
        calibrated = self.calibrate(proba)
        if self.positive is not None:
            predicted = y_pred == self.positive
            values = binary_estimates(predicted, calibrated)
            values["roc_auc"] = estimate_roc_auc(calibrated, proba[:, self.positive])
            errors = {
                name: std / np.sqrt(n * share) if share else float("nan")
                for name, [(std, share)] in self.components.items()
            }
        else:
            per_class = [
                binary_estimates(y_pred == c, calibrated[:, c]) for c in range(self.classes)
            ]
            values = {
                name: float(np.mean([e[name] for e in per_class]))
                for name in ("f1", "precision", "recall", "specificity")
            }
            values["roc_auc"] = float(
                np.mean(
                    [estimate_roc_auc(calibrated[:, c], proba[:, c]) for c in range(self.classes)]
                )
            )
            values["accuracy"] = float(np.mean(calibrated[np.arange(n), y_pred]))
            errors = {}
            for name, parts in self.components.items():
                variances = [var / (n * share) for var, share in parts]
                scale = 1.2 if name == "roc_auc" else 1.0
                errors[name] = float(np.sqrt(np.sum(variances)) / len(variances) * scale)
        errors["accuracy"] = self.accuracy_std / np.sqrt(n)
        return {
            name: Estimate(
                value=float(values[name]),
                sampling_error=float(errors[name]),
                lower_confidence=max(0.0, values[name] - SAMPLING_ERROR_RANGE * errors[name]),
                upper_confidence=min(1.0, values[name] + SAMPLING_ERROR_RANGE * errors[name]),
            )
            for name in CBPE_METRICS
        }


def fit_cbpe(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    proba: np.ndarray,
    positive: int | None,
    chunks: int,
) -> FittedCBPE:
    """Fit on labelled reference rows: class indices and uncalibrated probabilities."""
    k = proba.shape[1]
    if positive is not None:
        truth = y_true == positive
        predicted = y_pred == positive
        score = proba[:, positive]
        std, _, share = _auroc_components(truth, score)
        components = {"roc_auc": [(std, share)]}
        for name, (values, fraction) in _observations(truth, predicted, binary=True).items():
            components[name] = [(float(np.std(values)), fraction)]
        calibrators = [fit_calibrator(truth.astype(np.int64), score)]
        accuracy_std = float(np.std((truth == predicted).astype(int)))
        realized = _realized_binary(truth, predicted, score)
        chunk_realized = [
            _realized_binary(truth[a:b], predicted[a:b], score[a:b])
            for a, b in chunk_bounds(len(truth), chunks)
        ]
    else:
        components = {"roc_auc": [], "f1": [], "precision": [], "recall": [], "specificity": []}
        calibrators = []
        for c in range(k):
            truth, predicted = y_true == c, y_pred == c
            components["roc_auc"].append(_auroc_components(truth, proba[:, c])[1:])
            for name, (values, fraction) in _observations(truth, predicted, binary=False).items():
                components[name].append((float(np.var(values)), fraction))
            calibrators.append(fit_calibrator(truth.astype(np.int64), proba[:, c]))
        accuracy_std = float(np.std((y_true == y_pred).astype(int)))
        realized = _realized_multiclass(y_true, y_pred, proba)
        chunk_realized = [
            _realized_multiclass(y_true[a:b], y_pred[a:b], proba[a:b])
            for a, b in chunk_bounds(len(y_true), chunks)
        ]
    return FittedCBPE(
        classes=k,
        positive=positive,
        calibrators=calibrators,
        components=components,
        accuracy_std=accuracy_std,
        reference_realized=realized,
        chunk_realized=chunk_realized,
    )
