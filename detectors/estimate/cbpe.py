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

import numpy as np

from detectors.estimate.calibration import Isotonic, fit_calibrator
from detectors.performance import metrics as m
from detectors.performance.thresholds import band, chunk_bounds

CBPE_METRICS = ("roc_auc", "f1", "precision", "recall", "specificity", "accuracy")
SAMPLING_ERROR_RANGE = 3


# -- estimates -------------------------------------------------------------------------


def expected_roc_auc(expected: np.ndarray) -> float:
    """The area under the ROC curve of expected counts; ``expected`` holds the
    calibrated probabilities in descending order of the uncalibrated score."""
    n = len(expected)
    with np.errstate(divide="ignore", invalid="ignore"):
        tps = np.empty(n + 1)
        tps[0] = 0.0
        np.cumsum(expected, out=tps[1:])
        fps = np.arange(n + 1, dtype=np.float64) - tps
        np.round(tps, 5, out=tps)
        np.round(fps, 5, out=fps)
        tps /= tps[-1]
        fps /= fps[-1]
        return float(np.trapezoid(tps, fps))


def estimate_roc_auc(calibrated: np.ndarray, uncalibrated: np.ndarray) -> float:
    """One class against the rest, whose calibrated values (renormalised over the
    classes) need not follow its own score: NannyML's descending argsort it is."""
    return expected_roc_auc(calibrated[np.argsort(uncalibrated)[::-1]])


def expected_counts(chosen: np.ndarray, others: np.ndarray) -> tuple[float, ...]:
    """Expected TP, FP, FN, TN of one class against the rest, from the calibrated
    probabilities of the rows predicted as the class (``chosen``) and of the rest."""
    return (
        float(chosen.sum()),
        float((1 - chosen).sum()),
        float(others.sum()),
        float((1 - others).sum()),
    )


def _div(a: float, b: float) -> float:
    return a / b if b != 0 else 0.0


def count_estimates(counts: tuple[float, ...], rows: int) -> dict[str, float]:
    tp, fp, fn, tn = counts
    return {
        "f1": _div(tp, tp + 0.5 * (fp + fn)),
        "precision": _div(tp, tp + fp),
        "recall": _div(tp, tp + fn),
        "specificity": _div(tn, tn + fp),
        "accuracy": (tp + tn) / rows,
    }


# -- sampling error components (reference) ---------------------------------------------


def _auroc_components(
    y_true: np.ndarray, proba: np.ndarray, order: np.ndarray | None = None
) -> tuple[float, float, float]:
    """The Mann-Whitney placements' spread (std and variance) and the positive share;
    ``order``, when given, is ``np.argsort(proba)``."""
    y = y_true.astype(np.int64)
    if np.mean(y) > 0.5:
        y = np.abs(y - 1)
        proba = 1 - proba
        order = None
    if order is None:
        order = np.argsort(proba)
    y = y[order]
    # NannyML's ranks, ``np.unique(y * arange)[1:]``: the positives' positions but 0.
    ranks = np.flatnonzero(y[1:]) + 1
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


def _realized_binary(
    y_true: np.ndarray, y_pred: np.ndarray, score: np.ndarray, order: np.ndarray | None = None
) -> dict[str, float]:
    single_truth = bool(np.all(y_true)) or not np.any(y_true)
    single_pred = bool(np.all(y_pred)) or not np.any(y_pred)
    tp = float(np.sum(y_true & y_pred))
    fp = float(np.sum(~y_true & y_pred))
    fn = float(np.sum(y_true & ~y_pred))
    tn = float(np.sum(~y_true & ~y_pred))
    nan = float("nan")
    auc = m.ScoreCurve(y_true, score, order).roc_auc()
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
    calibrators: list[Isotonic | None]
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
        if self.positive is not None:
            score = proba[:, self.positive]
            said = y_pred == self.positive
            chosen, others = np.sort(score[said]), np.sort(score[~said])
            calibrator = self.calibrators[0]
            if calibrator is not None:
                chosen, others = calibrator.predict(chosen), calibrator.predict(others)
            values = count_estimates(expected_counts(chosen, others), n)
            # The calibrator never decreases, so its values in order are the rows in
            # score order; rows it maps to one value may come in any order.
            ordered = np.sort(np.concatenate([chosen, others]), kind="stable")
            values["roc_auc"] = expected_roc_auc(ordered[::-1])
            errors = {
                name: std / np.sqrt(n * share) if share else float("nan")
                for name, [(std, share)] in self.components.items()
            }
        else:
            calibrated = self.calibrate(proba)
            per_class = [
                count_estimates(
                    expected_counts(calibrated[y_pred == c, c], calibrated[y_pred != c, c]), n
                )
                for c in range(self.classes)
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
        order = np.argsort(score)
        std, _, share = _auroc_components(truth, score, order)
        components = {"roc_auc": [(std, share)]}
        for name, (values, fraction) in _observations(truth, predicted, binary=True).items():
            components[name] = [(float(np.std(values)), fraction)]
        calibrators = [fit_calibrator(truth.astype(np.int64), score, order)]
        accuracy_std = float(np.std((truth == predicted).astype(int)))
        realized = _realized_binary(truth, predicted, score, order)
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
