"""Realized performance: the labelled rows of a window against the labelled rows of
the reference, with scikit-learn's metric definitions (``metrics.py``).

Intervals are seeded bootstraps. Count-based metrics resample rows exactly, by
drawing the confusion matrix from a multinomial. Per-row means (log loss, Brier,
regression errors) resample a random-block bootstrap: rows are dealt at random into
1,000 blocks and the blocks are drawn with replacement, which costs the same for a
thousand rows or ten million. ROC AUC's interval is DeLong's.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, ClassVar, NamedTuple

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from detectors.base import BaseDetector, Result, Status, Window
from detectors.performance import metrics as m
from detectors.performance.outputs import ClassOutputs, class_outputs, regression_outputs
from detectors.performance.thresholds import Decision, QualityThresholds, chunk_bounds, decide

BLOCKS = 1000


class PerformanceParams(QualityThresholds):
    threshold: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="Binary with scores: predict the positive class when score >= threshold "
        "(instead of the logged prediction).",
    )
    calibration_bins: int = Field(default=10, ge=2, le=100)
    bootstrap_samples: int = Field(default=200, ge=0, le=10_000)
    confidence: float = Field(default=0.95, gt=0, lt=1)
    seed: int = 0
    min_labeled_rows: int = Field(default=30, ge=1)


class Interval(BaseModel):
    model_config = ConfigDict(frozen=True)

    low: float
    high: float


class LabelCoverage(BaseModel):
    model_config = ConfigDict(frozen=True)

    rows: int
    labeled: int
    share: float
    delay_seconds: dict[str, float] | None = Field(
        description="Label time − prediction time over the labelled rows: count, mean, "
        "p50, p90, p99, max."
    )


class ConfusionMatrix(BaseModel):
    model_config = ConfigDict(frozen=True)

    classes: list[str]
    matrix: list[list[int]]


class PerformanceResult(Result):
    task: str
    rows: int
    labeled_rows: int
    coverage: LabelCoverage
    metrics: dict[str, float | None]
    intervals: dict[str, Interval]
    per_class: dict[str, dict[str, float]] | None = None
    confusion_matrix: ConfusionMatrix | None = None
    reliability: list[dict[str, float]] | None = None
    error_quantiles: dict[str, float] | None = None
    reference_labeled_rows: int
    reference_metrics: dict[str, float | None]
    decisions: list[Decision]
    declared: dict[str, float]
    alert_reasons: list[str]
    detail: str | None = None


def default_metrics(task: str, scored: bool) -> list[str]:
    if task == "regression":
        return ["mae", "rmse"]
    if task == "multiclass":
        return ["accuracy", "f1_macro", "roc_auc"] if scored else ["accuracy", "f1_macro"]
    return ["roc_auc", "f1", "accuracy"] if scored else ["f1", "accuracy"]


SCORE_METRICS = frozenset({"roc_auc", "pr_auc", "log_loss", "brier", "ece"})


class ClassMetrics(NamedTuple):
    values: dict[str, float | None]
    confusion: np.ndarray
    bins: list[dict[str, float]] | None
    # Per-row losses of the scored rows, for the bootstrap to resample.
    row_losses: dict[str, np.ndarray]


def classification_metrics(
    outs: ClassOutputs,
    rows: np.ndarray | slice,
    bins: int,
    z: float | None = None,
    wanted: Collection[str] | None = None,
) -> ClassMetrics:
    """The metrics of the rows selected (all labelled; a mask, indices or a slice),
    the confusion matrix and the reliability bins; with ``z``, also DeLong's ROC AUC
    interval (binary) as ``roc_auc:low`` and ``roc_auc:high``. Score-based metrics
    not in ``wanted`` (when given) are left out: they cost a sort or a pass each."""
    k = len(outs.classes)
    y_true = outs.y_true[rows]
    y_pred = outs.y_pred[rows]
    predicted = y_pred >= 0
    cm = m.confusion(y_true[predicted], y_pred[predicted], k)
    values: dict[str, float | None] = {
        name: float(v) for name, v in m.count_metrics(cm, outs.positive).items()
    }
    bins_out = None
    losses: dict[str, np.ndarray] = {}
    values.update(roc_auc=None, pr_auc=None, log_loss=None, brier=None, ece=None)
    want = SCORE_METRICS if wanted is None else SCORE_METRICS & set(wanted)
    if outs.proba is None or not want:
        return ClassMetrics(values, cm, bins_out, losses)
    proba = outs.proba[rows]
    scored = ~np.isnan(proba).any(axis=1)
    if not scored.all():
        proba, y_true = proba[scored], y_true[scored]
    truth = y_true
    if not len(truth):
        return ClassMetrics(values, cm, bins_out, losses)
    if "log_loss" in want:
        losses["log_loss"] = m.log_loss_rows(truth, proba)
        values["log_loss"] = float(np.mean(losses["log_loss"]))
    if "brier" in want:
        losses["brier"] = m.squared_rows(truth, proba) * m.brier_scale(k)
        values["brier"] = float(np.mean(losses["brier"]))
    if outs.positive is not None:
        hit = truth == outs.positive
        score = proba[:, outs.positive]
        if want & {"roc_auc", "pr_auc"}:
            curve = m.ScoreCurve(hit, score)
            values["roc_auc"] = curve.roc_auc()
            values["pr_auc"] = curve.average_precision()
            interval = curve.delong(z) if z is not None else None
            if interval is not None:
                values["roc_auc:low"], values["roc_auc:high"] = interval
        if "ece" in want:
            values["ece"], bins_out = m.reliability(hit, score, bins)
    else:
        if want & {"roc_auc", "pr_auc"}:
            curves = [m.ScoreCurve(truth == c, proba[:, c]) for c in range(k)]
            aucs = [curve.roc_auc() for curve in curves]
            aps = [curve.average_precision() for curve in curves]
            defined = [a for a in aucs if a is not None]
            values["roc_auc"] = float(np.mean(defined)) if defined else None
            defined_ap = [a for a in aps if a is not None]
            values["pr_auc"] = float(np.mean(defined_ap)) if defined_ap else None
        if "ece" in want:
            top = proba.argmax(axis=1)
            values["ece"], bins_out = m.reliability(top == truth, proba.max(axis=1), bins)
    return ClassMetrics(values, cm, bins_out, losses)


def regression_metrics(y_pred: np.ndarray, y_true: np.ndarray) -> dict[str, float | None]:
    return dict(m.regression(y_true, y_pred))


def _percentiles(samples: np.ndarray, confidence: float) -> Interval:
    tail = (1 - confidence) / 2 * 100
    low, high = np.nanpercentile(samples, [tail, 100 - tail])
    return Interval(low=float(low), high=float(high))


def _block_resamples(
    columns: dict[str, np.ndarray], samples: int, rng: np.random.Generator
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Resampled sums of each per-row column and resampled row counts, ``samples`` of
    each, from a random-block bootstrap."""
    n = len(next(iter(columns.values())))
    blocks = min(BLOCKS, n)
    block = rng.integers(0, blocks, size=n)
    draws = rng.multinomial(blocks, np.full(blocks, 1.0 / blocks), size=samples).astype(np.float64)
    counts = draws @ np.bincount(block, minlength=blocks).astype(np.float64)
    sums = {
        name: draws @ np.bincount(block, weights=values, minlength=blocks)
        for name, values in columns.items()
    }
    return sums, counts


class PerformanceDetector(BaseDetector[PerformanceParams]):
    kind: ClassVar[str] = "performance"
    version: ClassVar[str] = "1"
    params_model: ClassVar[type[PerformanceParams]] = PerformanceParams

    def __init__(self, params: PerformanceParams, declared: dict[str, float] | None = None):
        super().__init__(params)
        # The levels the model version declares (EU AI Act Art. 15): each alerts as a
        # limit does.
        self.declared = dict(declared or {})

    def with_declared(self, declared: dict[str, float]) -> PerformanceDetector:
        return PerformanceDetector(self.params, declared)

    def run(self, reference: Window, current: Window) -> PerformanceResult:
        task = current.task or "binary"
        coverage = _coverage(current)
        if current.prediction is None or current.label is None:
            names = self.params.metrics or default_metrics(task, False)
            return self._insufficient(task, coverage, names, 0)
        if task == "regression":
            return self._regression(reference, current, coverage)
        return self._classification(reference, current, coverage, task)

    # -- classification -----------------------------------------------------------

    def _classification(
        self, reference: Window, current: Window, coverage: LabelCoverage, task: str
    ) -> PerformanceResult:
        p = self.params
        outs = class_outputs(current, p.threshold)
        labeled = outs.labeled
        n = int(labeled.sum())
        ref_outs = class_outputs(reference, p.threshold) if reference.label else None
        names = p.metrics or default_metrics(task, outs.proba is not None)
        if n < p.min_labeled_rows:
            return self._insufficient(task, coverage, names, n)
        z = _z(p.confidence) if p.bootstrap_samples else None
        measured = classification_metrics(outs, labeled, p.calibration_bins, z)
        values, cm, bins = measured.values, measured.confusion, measured.bins
        delong = (values.pop("roc_auc:low", None), values.pop("roc_auc:high", None))
        ref_values: dict[str, float | None] = {}
        chunks: list[dict[str, float | None]] = []
        ref_n = 0
        if ref_outs is not None:
            ref_rows = np.flatnonzero(ref_outs.labeled)
            ref_n = len(ref_rows)
            if ref_n:
                ref_values = classification_metrics(ref_outs, ref_rows, p.calibration_bins).values
                # The chunks serve only the band of the metrics that are decided.
                decided = self._decided(names, values)
                every_row = ref_n == len(ref_outs.y_true)
                for start, end in chunk_bounds(ref_n, p.reference_chunks):
                    rows = slice(start, end) if every_row else ref_rows[start:end]
                    chunk = classification_metrics(
                        ref_outs, rows, p.calibration_bins, wanted=decided
                    )
                    chunks.append(chunk.values)
        intervals = self._class_intervals(outs, cm, measured.row_losses)
        if delong[0] is not None and delong[1] is not None:
            intervals["roc_auc"] = Interval(low=delong[0], high=delong[1])
        table = m.per_class(cm)
        per_class = {
            c: {name: float(table[name][i]) for name in table} for i, c in enumerate(outs.classes)
        }
        return self._result(
            task,
            coverage,
            n,
            names,
            values,
            intervals,
            ref_n,
            ref_values,
            chunks,
            per_class=per_class,
            confusion_matrix=ConfusionMatrix(
                classes=list(outs.classes), matrix=cm.astype(int).tolist()
            ),
            reliability=bins,
        )

    def _class_intervals(
        self, outs: ClassOutputs, cm: np.ndarray, row_losses: dict[str, np.ndarray]
    ) -> dict[str, Interval]:
        p = self.params
        if p.bootstrap_samples == 0:
            return {}
        rng = np.random.default_rng(p.seed)
        total = int(cm.sum())
        intervals: dict[str, Interval] = {}
        if total:
            flat = cm.ravel() / total
            drawn = rng.multinomial(total, flat, size=p.bootstrap_samples).reshape(
                p.bootstrap_samples, *cm.shape
            )
            for name, samples in m.count_metrics(drawn.astype(np.float64), outs.positive).items():
                intervals[name] = _percentiles(samples, p.confidence)
        if row_losses:
            sums, counts = _block_resamples(row_losses, p.bootstrap_samples, rng)
            for name, total_sum in sums.items():
                intervals[name] = _percentiles(total_sum / counts, p.confidence)
        return intervals

    # -- regression ---------------------------------------------------------------

    def _regression(
        self, reference: Window, current: Window, coverage: LabelCoverage
    ) -> PerformanceResult:
        p = self.params
        y_pred, y_true = regression_outputs(current)
        rows = ~np.isnan(y_true) & ~np.isnan(y_pred)
        n = int(rows.sum())
        names = p.metrics or default_metrics("regression", False)
        if n < p.min_labeled_rows:
            return self._insufficient("regression", coverage, names, n)
        values = regression_metrics(y_pred[rows], y_true[rows])
        ref_values: dict[str, float | None] = {}
        chunks: list[dict[str, float | None]] = []
        ref_n = 0
        if reference.label is not None and reference.prediction is not None:
            ref_pred, ref_true = regression_outputs(reference)
            ref_rows = ~np.isnan(ref_true) & ~np.isnan(ref_pred)
            ref_pred, ref_true = ref_pred[ref_rows], ref_true[ref_rows]
            ref_n = len(ref_true)
            if ref_n:
                ref_values = regression_metrics(ref_pred, ref_true)
                chunks = [
                    regression_metrics(ref_pred[a:b], ref_true[a:b])
                    for a, b in chunk_bounds(ref_n, p.reference_chunks)
                ]
        intervals = self._regression_intervals(y_pred[rows], y_true[rows])
        return self._result(
            "regression",
            coverage,
            n,
            names,
            values,
            intervals,
            ref_n,
            ref_values,
            chunks,
            error_quantiles=m.error_quantiles(y_true[rows], y_pred[rows]),
        )

    def _regression_intervals(self, y_pred: np.ndarray, y_true: np.ndarray) -> dict[str, Interval]:
        p = self.params
        if p.bootstrap_samples == 0:
            return {}
        error = y_pred - y_true
        sums, n = _block_resamples(
            {
                "abs": np.abs(error),
                "sq": error**2,
                "err": error,
                "ape": np.abs(error) / np.maximum(np.abs(y_true), m.EPS),
                "y": y_true,
                "y2": y_true**2,
            },
            p.bootstrap_samples,
            np.random.default_rng(p.seed),
        )
        ss_tot = sums["y2"] - sums["y"] ** 2 / n
        with np.errstate(divide="ignore", invalid="ignore"):
            r2 = np.where(ss_tot != 0, 1 - sums["sq"] / ss_tot, np.where(sums["sq"] == 0, 1, 0))
        resampled = {
            "mae": sums["abs"] / n,
            "mse": sums["sq"] / n,
            "rmse": np.sqrt(sums["sq"] / n),
            "mape": sums["ape"] / n,
            "mean_error": sums["err"] / n,
            "r2": r2,
        }
        return {name: _percentiles(v, p.confidence) for name, v in resampled.items()}

    # -- result ---------------------------------------------------------------------

    def _result(
        self,
        task: str,
        coverage: LabelCoverage,
        n: int,
        names: list[str],
        values: dict[str, float | None],
        intervals: dict[str, Interval],
        ref_n: int,
        ref_values: dict[str, float | None],
        chunks: list[dict[str, float | None]],
        **extra: Any,
    ) -> PerformanceResult:
        decided = self._decided(names, values)
        decisions = [
            decide(
                name,
                values.get(name),
                ref_values.get(name),
                [c.get(name) for c in chunks],
                self.params,
                self.declared.get(name),
            )
            for name in decided
        ]
        reasons = [b for d in decisions for b in d.breaches]
        return PerformanceResult(
            kind=self.kind,
            version=self.version,
            status=Status.ALERT if reasons else Status.OK,
            task=task,
            rows=coverage.rows,
            labeled_rows=n,
            coverage=coverage,
            metrics=values,
            intervals=intervals,
            reference_labeled_rows=ref_n,
            reference_metrics=ref_values,
            decisions=decisions,
            declared=self.declared,
            alert_reasons=reasons,
            **extra,
        )

    def _decided(self, names: list[str], values: dict[str, float | None]) -> list[str]:
        """The metrics that alert: those the monitor names, and the declared ones."""
        return list(dict.fromkeys([*names, *[d for d in self.declared if d in values]]))

    def _insufficient(
        self, task: str, coverage: LabelCoverage, names: list[str], n: int
    ) -> PerformanceResult:
        return PerformanceResult(
            kind=self.kind,
            version=self.version,
            status=Status.INSUFFICIENT_DATA,
            task=task,
            rows=coverage.rows,
            labeled_rows=n,
            coverage=coverage,
            metrics={},
            intervals={},
            reference_labeled_rows=0,
            reference_metrics={},
            decisions=[],
            declared=self.declared,
            alert_reasons=[],
            detail=f"{n} labelled rows in the window; the monitor needs "
            f"{self.params.min_labeled_rows} (labels may not have arrived yet)",
        )


def _z(confidence: float) -> float:
    from scipy.stats import norm

    return float(norm.ppf(0.5 + confidence / 2))


def _coverage(window: Window) -> LabelCoverage:
    rows = len(window)
    if window.label is None or window.label not in window.frame:
        return LabelCoverage(rows=rows, labeled=0, share=0.0, delay_seconds=None)
    labeled = int(window.frame[window.label].notna().sum())
    delay = None
    if window.label_delay is not None and window.label_delay in window.frame:
        values = window.frame[window.label_delay].to_numpy(dtype=np.float64)
        values = values[~np.isnan(values)]
        if len(values):
            p50, p90, p99 = np.quantile(values, [0.5, 0.9, 0.99])
            delay = {
                "count": float(len(values)),
                "mean": float(values.mean()),
                "p50": float(p50),
                "p90": float(p90),
                "p99": float(p99),
                "max": float(values.max()),
            }
    return LabelCoverage(
        rows=rows, labeled=labeled, share=labeled / rows if rows else 0.0, delay_seconds=delay
    )
