"""Estimated performance without labels: CBPE for classifiers that log scores, DLE
for regression (``cbpe.py``, ``dle.py``), fitted on the labelled reference.

The estimate of a window alerts as realized performance does (``thresholds.py``):
past a limit or the declared level, a relative drop from the reference, or outside
the band of the reference chunks. When some of the window's labels have arrived, the
realized value and the estimation error sit beside the estimate.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from detectors.base import BaseDetector, ColumnKind, Result, Status, Window
from detectors.estimate.cbpe import _realized_binary, _realized_multiclass, fit_cbpe
from detectors.estimate.dle import FittedDLE, _realized, fit_dle
from detectors.performance.outputs import class_outputs, regression_outputs
from detectors.performance.thresholds import Decision, QualityThresholds, decide


class EstimateParams(QualityThresholds):
    min_reference_rows: int = Field(default=100, ge=20)
    min_rows: int = Field(default=30, ge=1)
    seed: int = 0


class EstimateOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    value: float
    sampling_error: float
    lower_confidence: float
    upper_confidence: float


class EstimatedPerformanceResult(Result):
    task: str
    method: str
    rows: int
    estimated_rows: int
    calibrated: list[bool] | None = None
    nanny_sha256: str | None = None
    estimates: dict[str, EstimateOut]
    labeled_rows: int
    realized: dict[str, float | None] | None
    estimation_error: dict[str, float | None] | None
    reference_rows: int
    reference_metrics: dict[str, float | None]
    decisions: list[Decision]
    declared: dict[str, float]
    alert_reasons: list[str]
    detail: str | None = None


def default_metrics(task: str) -> list[str]:
    return ["mae", "rmse"] if task == "regression" else ["roc_auc", "f1", "accuracy"]


def _nan_to_none(values: dict[str, float]) -> dict[str, float | None]:
    return {k: None if v is None or np.isnan(v) else float(v) for k, v in values.items()}


class EstimateDetector(BaseDetector[EstimateParams]):
    kind: ClassVar[str] = "estimated_performance"
    # 2: DLE's nanny also learns percentage errors (MAPE); a version-1 nanny is refitted.
    version: ClassVar[str] = "2"
    params_model: ClassVar[type[EstimateParams]] = EstimateParams

    def __init__(
        self,
        params: EstimateParams,
        declared: dict[str, float] | None = None,
        nanny: FittedDLE | None = None,
    ) -> None:
        super().__init__(params)
        self.declared = dict(declared or {})
        # DLE: a nanny model trained earlier on the same reference; after a run, the
        # one used (for the caller to store and version).
        self.nanny = nanny

    def with_declared(self, declared: dict[str, float]) -> EstimateDetector:
        return EstimateDetector(self.params, declared, self.nanny)

    def with_nanny(self, nanny: FittedDLE | None) -> EstimateDetector:
        return EstimateDetector(self.params, self.declared, nanny)

    def run(self, reference: Window, current: Window) -> EstimatedPerformanceResult:
        task = current.task or "binary"
        if current.prediction is None or not len(current):
            method = "dle" if task == "regression" else "cbpe"
            return self._insufficient(task, method, len(current), "the window has no predictions")
        if task == "regression":
            return self._dle(reference, current)
        return self._cbpe(reference, current, task)

    def _cbpe(self, reference: Window, current: Window, task: str) -> EstimatedPerformanceResult:
        p = self.params
        ref = class_outputs(reference)
        cur = class_outputs(current)
        if ref.proba is None or cur.proba is None:
            return self._insufficient(
                task,
                "cbpe",
                len(current),
                "CBPE needs logged scores (probabilities) in the reference and the window",
            )
        k = len(cur.classes)
        ref_rows = ref.labeled & (ref.y_pred >= 0) & ~np.isnan(ref.proba).any(axis=1)
        if int(ref_rows.sum()) < p.min_reference_rows:
            return self._insufficient(
                task,
                "cbpe",
                len(current),
                f"{int(ref_rows.sum())} labelled, scored reference rows; CBPE needs "
                f"{p.min_reference_rows}",
            )
        ref_proba = ref.proba[ref_rows]
        if ref_proba.shape[1] < k:
            ref_proba = np.pad(ref_proba, ((0, 0), (0, k - ref_proba.shape[1])))
        fitted = fit_cbpe(
            ref.y_true[ref_rows], ref.y_pred[ref_rows], ref_proba, cur.positive, p.reference_chunks
        )
        rows = (cur.y_pred >= 0) & (cur.y_pred < k) & ~np.isnan(cur.proba).any(axis=1)
        n = int(rows.sum())
        if n < p.min_rows:
            return self._insufficient(
                task, "cbpe", len(current), f"{n} scored rows; the estimate needs {p.min_rows}"
            )
        estimates = fitted.estimate(cur.y_pred[rows], cur.proba[rows])
        labeled = rows & cur.labeled
        realized = None
        if int(labeled.sum()) >= p.min_rows:
            if cur.positive is not None:
                hit = cur.y_true[labeled] == cur.positive
                said = cur.y_pred[labeled] == cur.positive
                realized = _realized_binary(hit, said, cur.proba[labeled][:, cur.positive])
            else:
                realized = _realized_multiclass(
                    cur.y_true[labeled], cur.y_pred[labeled], cur.proba[labeled]
                )
        return self._result(
            task,
            "cbpe",
            len(current),
            n,
            {name: EstimateOut(**vars(e)) for name, e in estimates.items()},
            int(labeled.sum()),
            realized,
            int(ref_rows.sum()),
            fitted.reference_realized,
            fitted.chunk_realized,
            calibrated=fitted.calibrated,
        )

    def _dle(self, reference: Window, current: Window) -> EstimatedPerformanceResult:
        p = self.params
        inputs = [c for c in current.columns if c.model_input]
        numeric = [c.name for c in inputs if c.kind == ColumnKind.NUMERIC]
        categorical = [c.name for c in inputs if c.kind == ColumnKind.CATEGORICAL]
        if reference.label is None or reference.prediction is None:
            return self._insufficient(
                "regression",
                "dle",
                len(current),
                "DLE needs a reference with predictions and labels",
            )
        ref_pred, ref_true = regression_outputs(reference)
        ref_rows = ~np.isnan(ref_pred) & ~np.isnan(ref_true)
        if int(ref_rows.sum()) < p.min_reference_rows:
            return self._insufficient(
                "regression",
                "dle",
                len(current),
                f"{int(ref_rows.sum())} labelled reference rows; DLE needs {p.min_reference_rows}",
            )
        missing = [n for n in numeric + categorical if n not in reference.frame]
        if missing:
            return self._insufficient(
                "regression", "dle", len(current), f"the reference lacks the features {missing}"
            )
        nanny = self.nanny
        if nanny is None or nanny.numeric != numeric or list(nanny.categories) != categorical:
            frame = reference.frame.loc[ref_rows]
            nanny = fit_dle(
                frame,
                ref_pred[ref_rows],
                ref_true[ref_rows],
                numeric=numeric,
                categorical=categorical,
                chunks=p.reference_chunks,
                seed=p.seed,
            )
        self.nanny = nanny
        y_pred, y_true = regression_outputs(current)
        rows = ~np.isnan(y_pred)
        n = int(rows.sum())
        if n < p.min_rows:
            return self._insufficient(
                "regression",
                "dle",
                len(current),
                f"{n} predictions; the estimate needs {p.min_rows}",
            )
        frame = current.frame.loc[rows] if not rows.all() else current.frame
        estimates = nanny.estimate(frame, y_pred[rows])
        labeled = rows & ~np.isnan(y_true)
        realized = (
            _realized(y_true[labeled], y_pred[labeled])
            if int(labeled.sum()) >= p.min_rows
            else None
        )
        return self._result(
            "regression",
            "dle",
            len(current),
            n,
            {name: EstimateOut(**vars(e)) for name, e in estimates.items()},
            int(labeled.sum()),
            realized,
            int(ref_rows.sum()),
            nanny.reference_realized,
            nanny.chunk_realized,
            nanny_sha256=nanny.sha256,
        )

    def _result(
        self,
        task: str,
        method: str,
        rows: int,
        n: int,
        estimates: dict[str, EstimateOut],
        labeled: int,
        realized: dict[str, float] | None,
        ref_rows: int,
        ref_realized: dict[str, float],
        chunks: list[dict[str, float]],
        **extra: object,
    ) -> EstimatedPerformanceResult:
        names = self.params.metrics or default_metrics(task)
        unknown = [name for name in names if name not in estimates]
        if unknown:
            raise ValueError(f"{method} estimates {sorted(estimates)}; not {unknown}")
        decided = list(dict.fromkeys([*names, *[d for d in self.declared if d in estimates]]))
        reference = _nan_to_none(ref_realized)
        decisions = [
            decide(
                name,
                estimates[name].value,
                reference.get(name),
                [None if np.isnan(c[name]) else c[name] for c in chunks],
                self.params,
                self.declared.get(name),
            )
            for name in decided
        ]
        reasons = [f"estimated {b}" for d in decisions for b in d.breaches]
        realized_out = _nan_to_none(realized) if realized is not None else None
        error = (
            {
                name: None if realized_out.get(name) is None else e.value - realized_out[name]  # type: ignore[operator]
                for name, e in estimates.items()
            }
            if realized_out is not None
            else None
        )
        return EstimatedPerformanceResult(
            kind=self.kind,
            version=self.version,
            status=Status.ALERT if reasons else Status.OK,
            task=task,
            method=method,
            rows=rows,
            estimated_rows=n,
            estimates=estimates,
            labeled_rows=labeled,
            realized=realized_out,
            estimation_error=error,
            reference_rows=ref_rows,
            reference_metrics=reference,
            decisions=decisions,
            declared=self.declared,
            alert_reasons=reasons,
            **extra,
        )

    def _insufficient(
        self, task: str, method: str, rows: int, detail: str
    ) -> EstimatedPerformanceResult:
        return EstimatedPerformanceResult(
            kind=self.kind,
            version=self.version,
            status=Status.INSUFFICIENT_DATA,
            task=task,
            method=method,
            rows=rows,
            estimated_rows=0,
            estimates={},
            labeled_rows=0,
            realized=None,
            estimation_error=None,
            reference_rows=0,
            reference_metrics={},
            decisions=[],
            declared=self.declared,
            alert_reasons=[],
            detail=detail,
        )
