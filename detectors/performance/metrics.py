"""Classification and regression metrics equal to scikit-learn's ``metrics`` functions,
computed from numpy arrays in a few vectorized passes.

Classes are indices ``0..k-1`` into the caller's class list. Every count-based metric
is a function of the confusion matrix, so the bootstrap (``intervals``) resamples
rows exactly by drawing that matrix from a multinomial. A metric that is undefined
for the rows given (AUC with one class present, a ratio with a zero denominator that
scikit-learn reports as 0) follows scikit-learn: undefined is ``None``, a zero
division is 0.
"""

from __future__ import annotations

import numpy as np

EPS = float(np.finfo(np.float64).eps)


def confusion(y_true: np.ndarray, y_pred: np.ndarray, k: int) -> np.ndarray:
    """Rows: true class; columns: predicted class (scikit-learn's layout)."""
    return np.bincount(y_true * k + y_pred, minlength=k * k).reshape(k, k).astype(np.float64)


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1), 0.0)


def count_metrics(cm: np.ndarray, positive: int | None) -> dict[str, np.ndarray]:
    """Metrics from ``(..., k, k)`` confusion matrices, vectorized over leading axes.

    ``positive`` (binary) names the class that precision, recall and F1 are about;
    without it they are macro averages over all classes, as scikit-learn's
    ``average="macro"`` with ``labels`` given.
    """
    tp = np.diagonal(cm, axis1=-2, axis2=-1)
    support = cm.sum(axis=-1)  # true rows per class
    predicted = cm.sum(axis=-2)
    total = support.sum(axis=-1)
    precision = _ratio(tp, predicted)
    recall = _ratio(tp, support)
    f1 = _ratio(2 * tp, support + predicted)
    weights = _ratio(support, total[..., None])
    negatives = total[..., None] - support
    true_negatives = total[..., None] - support - predicted + tp
    specificity = _ratio(true_negatives, negatives)
    present = support > 0
    # balanced_accuracy_score averages recall over the classes present in y_true.
    balanced = _ratio((recall * present).sum(axis=-1), present.sum(axis=-1).astype(np.float64))
    out = {
        "accuracy": _ratio(tp.sum(axis=-1), total),
        "balanced_accuracy": balanced,
        "precision_macro": precision.mean(axis=-1),
        "recall_macro": recall.mean(axis=-1),
        "f1_macro": f1.mean(axis=-1),
        "precision_weighted": (precision * weights).sum(axis=-1),
        "recall_weighted": (recall * weights).sum(axis=-1),
        "f1_weighted": (f1 * weights).sum(axis=-1),
    }
    if positive is None:
        out["specificity"] = specificity.mean(axis=-1)
        out["precision"] = out["precision_macro"]
        out["recall"] = out["recall_macro"]
        out["f1"] = out["f1_macro"]
    else:
        out["specificity"] = specificity[..., positive]
        out["precision"] = precision[..., positive]
        out["recall"] = recall[..., positive]
        out["f1"] = f1[..., positive]
    return out


def per_class(cm: np.ndarray) -> dict[str, np.ndarray]:
    tp = np.diagonal(cm)
    support = cm.sum(axis=1)
    predicted = cm.sum(axis=0)
    return {
        "precision": _ratio(tp, predicted),
        "recall": _ratio(tp, support),
        "f1": _ratio(2 * tp, support + predicted),
        "support": support,
    }


class ScoreCurve:
    """One sort of the scores serves ROC AUC, average precision and DeLong's interval:
    each needs only, per distinct score, how many positives and negatives share it."""

    def __init__(
        self, positive: np.ndarray, score: np.ndarray, order: np.ndarray | None = None
    ) -> None:
        # Ties form one group whatever their order: no need for a stable sort, and
        # any argsort of ``score`` the caller has will do.
        if order is None:
            order = np.argsort(score)
        ordered = score[order]
        starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
        # Positives per distinct score, ascending: differences of a running count.
        seen = np.r_[0, np.cumsum(positive[order], dtype=np.int64)]
        ends = np.r_[starts[1:], len(score)]
        self.pos = (seen[ends] - seen[starts]).astype(np.float64)
        self.neg = (ends - starts) - self.pos
        self.n_pos = float(self.pos.sum())
        self.n_neg = float(self.neg.sum())

    def roc_auc(self) -> float | None:
        if self.n_pos == 0 or self.n_neg == 0:
            return None
        below = np.cumsum(self.neg) - self.neg  # negatives strictly below each score
        placements = below + 0.5 * self.neg
        return float(np.sum(self.pos * placements) / (self.n_pos * self.n_neg))

    def average_precision(self) -> float | None:
        if self.n_pos == 0:
            return None
        tps = np.cumsum(self.pos[::-1])  # thresholds from the highest score down
        fps = np.cumsum(self.neg[::-1])
        precision = tps / (tps + fps)
        recall = tps / self.n_pos
        return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))

    def delong(self, z: float) -> tuple[float, float] | None:
        if self.n_pos < 2 or self.n_neg < 2:
            return None
        v10 = ((np.cumsum(self.neg) - self.neg) + 0.5 * self.neg) / self.n_neg
        above = self.n_pos - np.cumsum(self.pos)
        v01 = (above + 0.5 * self.pos) / self.n_pos
        auc = float(np.sum(self.pos * v10) / self.n_pos)
        var10 = float(np.sum(self.pos * (v10 - auc) ** 2) / (self.n_pos - 1))
        mean01 = float(np.sum(self.neg * v01) / self.n_neg)
        var01 = float(np.sum(self.neg * (v01 - mean01) ** 2) / (self.n_neg - 1))
        se = float(np.sqrt(var10 / self.n_pos + var01 / self.n_neg))
        return max(0.0, auc - z * se), min(1.0, auc + z * se)


def roc_auc(positive: np.ndarray, score: np.ndarray) -> float | None:
    """``roc_auc_score``: the Mann-Whitney statistic with ties counted half, which the
    trapezoids under scikit-learn's ROC curve equal."""
    return ScoreCurve(positive, score).roc_auc()


def log_loss_rows(y_true: np.ndarray, proba: np.ndarray) -> np.ndarray:
    """Each row's log loss: the true class's probability clipped to [eps, 1 - eps]."""
    if proba.shape[1] == 2:
        chosen = np.where(y_true == 1, proba[:, 1], proba[:, 0])
    else:
        chosen = proba[np.arange(len(y_true)), y_true]
    return -np.log(np.clip(chosen, EPS, 1 - EPS))


def squared_rows(y_true: np.ndarray, proba: np.ndarray) -> np.ndarray:
    """Each row's squared distance from its one-hot truth (Brier's, before halving)."""
    if proba.shape[1] == 2:
        # The one-hot difference of two columns, without building the one-hot rows.
        d0 = np.where(y_true == 0, 1.0, 0.0) - proba[:, 0]
        d1 = np.where(y_true == 1, 1.0, 0.0) - proba[:, 1]
        return d0 * d0 + d1 * d1
    onehot = np.zeros_like(proba)
    onehot[np.arange(len(y_true)), y_true] = 1.0
    return np.sum((onehot - proba) ** 2, axis=1)


def brier_scale(classes: int) -> float:
    """scikit-learn's ``scale_by_half="auto"``: two classes halve the distance."""
    return 0.5 if classes < 3 else 1.0


def log_loss(y_true: np.ndarray, proba: np.ndarray) -> float:
    """``log_loss`` with ``labels`` given: the true class's probability, clipped to
    [eps, 1 - eps], no renormalisation (scikit-learn 1.5+)."""
    return float(np.mean(log_loss_rows(y_true, proba)))


def brier(y_true: np.ndarray, proba: np.ndarray) -> float:
    """``brier_score_loss``: the squared distance to the one-hot truth, halved for
    two classes (scikit-learn's ``scale_by_half="auto"``)."""
    return float(np.mean(squared_rows(y_true, proba))) * brier_scale(proba.shape[1])


def uniform_bins(confidence: np.ndarray, bins: int) -> np.ndarray:
    """``np.searchsorted(np.linspace(0, 1, bins + 1)[1:-1], confidence)``, the bin
    ``calibration_curve`` gives each value, without a binary search per row: the
    scaled value's floor is at most one bin off, and one comparison each way fixes
    it against the same edges."""
    inner = np.linspace(0.0, 1.0, bins + 1)[1:-1]
    if not len(inner) or not np.all(np.isfinite(confidence)):
        return np.searchsorted(inner, confidence)
    guess = np.clip(np.floor(confidence * bins), 0, bins - 1).astype(np.intp)
    guess -= (guess > 0) & (confidence <= inner[guess - 1])
    guess += (guess < bins - 1) & (confidence > inner[np.minimum(guess, bins - 2)])
    return guess


def reliability(
    hit: np.ndarray, confidence: np.ndarray, bins: int
) -> tuple[float, list[dict[str, float]]]:
    """Expected calibration error over ``calibration_curve(strategy="uniform")``'s
    bins (only the non-empty ones, as it returns them)."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = uniform_bins(confidence, bins)
    counts = np.bincount(index, minlength=bins)
    sum_conf = np.bincount(index, weights=confidence, minlength=bins)
    sum_hit = np.bincount(index, weights=hit.astype(np.float64), minlength=bins)
    nonzero = counts > 0
    observed = sum_hit[nonzero] / counts[nonzero]
    predicted = sum_conf[nonzero] / counts[nonzero]
    share = counts[nonzero] / len(confidence)
    ece = float(np.sum(share * np.abs(observed - predicted)))
    lows = edges[:-1][nonzero]
    rows = [
        {
            "low": float(low),
            "high": float(low + 1.0 / bins),
            "count": int(count),
            "mean_predicted": float(p),
            "fraction_positive": float(o),
        }
        for low, count, p, o in zip(lows, counts[nonzero], predicted, observed, strict=True)
    ]
    return ece, rows


def regression(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """MAE, RMSE, MAPE, R² and mean error (prediction − truth) as scikit-learn's
    ``mean_absolute_error``, ``root_mean_squared_error``,
    ``mean_absolute_percentage_error`` and ``r2_score`` give them."""
    error = y_pred - y_true
    mse = float(np.mean(error**2))
    ss_res = float(np.sum(error**2))
    ss_tot = float(np.sum((y_true - y_true.mean()) ** 2))
    # r2_score's force_finite: a constant truth scores 1 when predicted exactly, else 0.
    r2 = 1 - ss_res / ss_tot if ss_tot != 0 else (1.0 if ss_res == 0 else 0.0)
    return {
        "mae": float(np.mean(np.abs(error))),
        "rmse": float(np.sqrt(mse)),
        "mse": mse,
        "mape": float(np.mean(np.abs(error) / np.maximum(np.abs(y_true), EPS))),
        "r2": r2,
        "mean_error": float(np.mean(error)),
    }


ERROR_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


def error_quantiles(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    values = np.quantile(y_pred - y_true, ERROR_QUANTILES)
    return {
        f"p{round(q * 100):02d}": float(v) for q, v in zip(ERROR_QUANTILES, values, strict=True)
    }
