"""Champion against challenger on the same window: ``reference`` is the champion's
window, ``current`` the challenger's.

- ``shadow``: both versions predicted the same requests; the challenger's rows are
  shadow predictions whose event id is the champion's with ``SHADOW_SEPARATOR`` and
  the challenger's version appended (the SDK's ``shadow_of``). The comparison is
  paired: the metric delta with a paired bootstrap interval (exact, by drawing the
  four cells of both-right/one-right/neither from a multinomial), the agreement rate,
  and the rows where the two disagree. Labels are the champion's (one request).
- ``split``: a canary; different requests. The comparison is unpaired: the
  difference of the two groups' metrics with an interval from independent
  bootstraps.

Both give the output-distribution drift between the versions (Jensen-Shannon
distance), the fairness delta per sensitive attribute (demographic parity
difference), and the latency and compute-cost delta. It alerts when the challenger
is worse by more than ``max_metric_drop`` with its whole interval, or when its
outputs drift past ``max_output_drift``.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field
from scipy.spatial.distance import jensenshannon

from detectors.base import BaseDetector, Params, Result, Status, Window
from detectors.performance.outputs import class_outputs, regression_outputs

SHADOW_SEPARATOR = "~shadow~"
LOWER_IS_BETTER = frozenset({"mae", "rmse"})


class ComparisonParams(Params):
    champion: str = Field(min_length=1, max_length=100, description="The champion's version.")
    mode: Literal["shadow", "split"] = "shadow"
    metric: Literal["accuracy", "mae"] | None = Field(
        default=None, description="accuracy for classifiers, mae for regression by default."
    )
    max_metric_drop: float = Field(default=0.01, ge=0)
    max_output_drift: float = Field(default=0.1, gt=0, le=1)
    bootstrap_samples: int = Field(default=1000, ge=0, le=20_000)
    confidence: float = Field(default=0.95, gt=0, lt=1)
    seed: int = 0
    min_rows: int = Field(default=30, ge=1)
    max_disagreements: int = Field(default=50, ge=0, le=1000)


class Interval(BaseModel):
    model_config = ConfigDict(frozen=True)

    low: float
    high: float


class Disagreement(BaseModel):
    model_config = ConfigDict(frozen=True)

    event_id: str
    champion: str
    challenger: str
    label: str | None


class ComparisonResult(Result):
    mode: str
    champion: str
    metric: str
    champion_rows: int
    challenger_rows: int
    paired_rows: int | None
    labeled_rows: int
    champion_value: float | None
    challenger_value: float | None
    delta: float | None = Field(description="challenger − champion")
    delta_interval: Interval | None
    agreement_rate: float | None
    disagreements: list[Disagreement]
    output_drift: float | None = Field(description="Jensen-Shannon distance of the outputs")
    fairness: dict[str, dict[str, float]]
    latency: dict[str, float | None]
    alert_reasons: list[str]
    detail: str | None = None


def _percentiles(samples: np.ndarray, confidence: float) -> Interval:
    tail = (1 - confidence) / 2 * 100
    low, high = np.nanpercentile(samples, [tail, 100 - tail])
    return Interval(low=float(low), high=float(high))


def _distribution_drift(a: np.ndarray, b: np.ndarray, categorical: bool) -> float | None:
    if not len(a) or not len(b):
        return None
    if categorical:
        values = np.union1d(np.unique(a), np.unique(b))
        p = np.array([np.mean(a == v) for v in values])
        q = np.array([np.mean(b == v) for v in values])
    else:
        edges = np.unique(np.quantile(np.r_[a, b], np.linspace(0, 1, 21)))
        if len(edges) < 2:
            return 0.0
        p = np.histogram(a, edges)[0] / len(a)
        q = np.histogram(b, edges)[0] / len(b)
    return float(jensenshannon(p, q, base=2))


def _selection_gap(frame: pd.DataFrame, column: str, positive: np.ndarray) -> float | None:
    groups = frame[column].astype(object).where(frame[column].notna(), None)
    rates = pd.Series(positive.astype(float), index=frame.index).groupby(groups.to_numpy()).mean()
    return float(rates.max() - rates.min()) if len(rates) > 1 else None


def _latency(window: Window) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for column, name in (("latency_ms", "latency"), ("compute_seconds", "compute_seconds")):
        values = (
            window.frame[column].to_numpy(dtype=np.float64)
            if column in window.frame
            else np.empty(0)
        )
        values = values[~np.isnan(values)]
        out[f"{name}_p50"] = float(np.quantile(values, 0.5)) if len(values) else None
        out[f"{name}_p95"] = float(np.quantile(values, 0.95)) if len(values) else None
    return out


class ComparisonDetector(BaseDetector[ComparisonParams]):
    kind: ClassVar[str] = "comparison"
    version: ClassVar[str] = "1"
    params_model: ClassVar[type[ComparisonParams]] = ComparisonParams

    def run(self, reference: Window, current: Window) -> ComparisonResult:
        p = self.params
        task = current.task or "binary"
        metric = p.metric or ("mae" if task == "regression" else "accuracy")
        if current.prediction is None or reference.prediction is None or not len(current):
            return self._empty(metric, reference, current, "no predictions to compare")
        champion, challenger = reference.frame, current.frame
        if p.mode == "shadow":
            base = challenger.index.to_series().astype(str).str.split(SHADOW_SEPARATOR).str[0]
            keep = base.isin(champion.index).to_numpy()
            challenger = challenger.loc[keep]
            champion = champion.loc[pd.Index(base[keep].to_numpy())]
            if len(challenger) < p.min_rows:
                return self._empty(metric, reference, current,
                                   f"{len(challenger)} shadow predictions pair with the "
                                   f"champion's; the comparison needs {p.min_rows}")  # fmt: skip
        cp = _sub(reference, champion)
        ch = _sub(current, challenger)
        if p.mode == "shadow" and current.label is not None and reference.label is not None:
            # One request, one truth: the champion's label.
            ch = _sub(
                current, challenger.assign(**{current.label: champion[reference.label].to_numpy()})
            )
        result = (
            self._regression(cp, ch, metric)
            if task == "regression"
            else self._classes(cp, ch, metric)
        )
        return result

    # -- classification ------------------------------------------------------------------

    def _classes(self, cp: Window, ch: Window, metric: str) -> ComparisonResult:
        p = self.params
        a, b = class_outputs(cp), class_outputs(ch)
        classes = list(b.classes)
        # Both versions' predictions as text, on the challenger's class list.
        # Index -1 (missing) picks the None appended last.
        text_a = np.array([*a.classes, None], dtype=object)
        text_b = np.array([*b.classes, None], dtype=object)
        pred_a, true_a = text_a[a.y_pred], text_a[a.y_true]
        pred_b, true_b = text_b[b.y_pred], text_b[b.y_true]
        rng = np.random.default_rng(p.seed)
        disagreements: list[Disagreement] = []
        agreement = None
        paired = None
        if p.mode == "shadow":
            paired = len(pred_b)
            agree = pred_a == pred_b
            agreement = float(np.mean(agree))
            for i in np.flatnonzero(~agree)[: p.max_disagreements]:
                label = None if true_a[i] is None else str(true_a[i])
                disagreements.append(
                    Disagreement(
                        event_id=str(cp.frame.index[i]),
                        champion=str(pred_a[i]),
                        challenger=str(pred_b[i]),
                        label=label,
                    )
                )
            labeled = a.y_true >= 0
            right_a = (pred_a == true_a) & labeled
            right_b = (pred_b == true_a) & labeled
            n = int(labeled.sum())
            value_a = float(right_a.sum() / n) if n else None
            value_b = float(right_b.sum() / n) if n else None
            interval = None
            if n and p.bootstrap_samples:
                # Only the challenger right, only the champion right, both, neither.
                cells = np.array(
                    [
                        np.sum(right_b & ~right_a & labeled),
                        np.sum(right_a & ~right_b & labeled),
                        np.sum(right_a & right_b & labeled),
                        np.sum(~right_a & ~right_b & labeled),
                    ]
                )
                drawn = rng.multinomial(n, cells / n, size=p.bootstrap_samples)
                interval = _percentiles((drawn[:, 0] - drawn[:, 1]) / n, p.confidence)
        else:
            la, lb = a.y_true >= 0, b.y_true >= 0
            ra, rb = int(np.sum((pred_a == true_a) & la)), int(np.sum((pred_b == true_b) & lb))
            na, nb = int(la.sum()), int(lb.sum())
            n = na + nb
            value_a = ra / na if na else None
            value_b = rb / nb if nb else None
            interval = None
            if na and nb and p.bootstrap_samples:
                draws_a = rng.binomial(na, ra / na, size=p.bootstrap_samples) / na
                draws_b = rng.binomial(nb, rb / nb, size=p.bootstrap_samples) / nb
                interval = _percentiles(draws_b - draws_a, p.confidence)
        drift = _distribution_drift(pred_a[pred_a != None], pred_b[pred_b != None], True)  # noqa: E711
        positive = b.classes[b.positive] if b.positive is not None else classes[-1]
        fairness = self._fairness(cp, ch, pred_a == positive, pred_b == positive)
        return self._result(metric, cp, ch, paired, n, value_a, value_b, interval, agreement,
                            disagreements, drift, fairness)  # fmt: skip

    # -- regression ----------------------------------------------------------------------

    def _regression(self, cp: Window, ch: Window, metric: str) -> ComparisonResult:
        p = self.params
        pred_a, true_a = regression_outputs(cp)
        pred_b, true_b = regression_outputs(ch)
        rng = np.random.default_rng(p.seed)
        interval = None
        paired = None
        if p.mode == "shadow":
            paired = len(pred_b)
            rows = ~np.isnan(true_a) & ~np.isnan(pred_a) & ~np.isnan(pred_b)
            err_a, err_b = np.abs(pred_a[rows] - true_a[rows]), np.abs(pred_b[rows] - true_a[rows])
            n = int(rows.sum())
            value_a = float(err_a.mean()) if n else None
            value_b = float(err_b.mean()) if n else None
            if n and p.bootstrap_samples:
                diff = err_b - err_a
                samples = np.array(
                    [diff[rng.integers(0, n, n)].mean() for _ in range(p.bootstrap_samples)]
                )
                interval = _percentiles(samples, p.confidence)
            agreement = None
        else:
            ra = ~np.isnan(true_a) & ~np.isnan(pred_a)
            rb = ~np.isnan(true_b) & ~np.isnan(pred_b)
            err_a, err_b = np.abs(pred_a[ra] - true_a[ra]), np.abs(pred_b[rb] - true_b[rb])
            n = len(err_a) + len(err_b)
            value_a = float(err_a.mean()) if len(err_a) else None
            value_b = float(err_b.mean()) if len(err_b) else None
            if len(err_a) and len(err_b) and p.bootstrap_samples:
                samples = np.array([
                    err_b[rng.integers(0, len(err_b), len(err_b))].mean()
                    - err_a[rng.integers(0, len(err_a), len(err_a))].mean()
                    for _ in range(p.bootstrap_samples)])  # fmt: skip
                interval = _percentiles(samples, p.confidence)
            agreement = None
        drift = _distribution_drift(pred_a[~np.isnan(pred_a)], pred_b[~np.isnan(pred_b)], False)
        return self._result(metric, cp, ch, paired, n, value_a, value_b, interval, agreement, [],
                            drift, {})  # fmt: skip

    # -- shared --------------------------------------------------------------------------

    def _fairness(
        self, cp: Window, ch: Window, positive_a: np.ndarray, positive_b: np.ndarray
    ) -> dict[str, dict[str, float]]:
        out: dict[str, dict[str, float]] = {}
        for spec in ch.columns:
            if not spec.sensitive or spec.name not in cp.frame or spec.name not in ch.frame:
                continue
            gap_a = _selection_gap(cp.frame, spec.name, positive_a)
            gap_b = _selection_gap(ch.frame, spec.name, positive_b)
            if gap_a is not None and gap_b is not None:
                out[spec.name] = {
                    "champion_demographic_parity_difference": gap_a,
                    "challenger_demographic_parity_difference": gap_b,
                    "delta": gap_b - gap_a,
                }
        return out

    def _result(
        self,
        metric: str,
        cp: Window,
        ch: Window,
        paired: int | None,
        n: int,
        value_a: float | None,
        value_b: float | None,
        interval: Interval | None,
        agreement: float | None,
        disagreements: list[Disagreement],
        drift: float | None,
        fairness: dict[str, dict[str, float]],
    ) -> ComparisonResult:
        p = self.params
        delta = None if value_a is None or value_b is None else value_b - value_a
        latency_a, latency_b = _latency(cp), _latency(ch)
        latency: dict[str, float | None] = {}
        for key in latency_a:
            latency[f"champion_{key}"] = latency_a[key]
            latency[f"challenger_{key}"] = latency_b[key]
            both = latency_a[key] is not None and latency_b[key] is not None
            latency[f"delta_{key}"] = latency_b[key] - latency_a[key] if both else None  # type: ignore[operator]
        reasons = []
        if interval is not None:
            # Worse by more than allowed over the whole interval (an error metric is
            # worse upwards).
            worse = (
                interval.low > p.max_metric_drop
                if metric in LOWER_IS_BETTER
                else interval.high < -p.max_metric_drop
            )
            if worse:
                reasons.append(
                    f"the challenger's {metric} is worse than the champion's by more than "
                    f"{p.max_metric_drop:g}: delta {delta:.4g}, interval "
                    f"[{interval.low:.4g}, {interval.high:.4g}]"
                )
        if drift is not None and drift > p.max_output_drift:
            reasons.append(
                f"the challenger's outputs drift from the champion's: "
                f"Jensen-Shannon distance {drift:.3f} > {p.max_output_drift:g}"
            )
        insufficient = n < p.min_rows and not reasons
        status = Status.ALERT if reasons else Status.OK
        if insufficient:
            status = Status.INSUFFICIENT_DATA
        return ComparisonResult(
            kind=self.kind,
            version=self.version,
            status=status,
            mode=p.mode,
            champion=p.champion,
            metric=metric,
            champion_rows=len(cp),
            challenger_rows=len(ch),
            paired_rows=paired,
            labeled_rows=n,
            champion_value=value_a,
            challenger_value=value_b,
            delta=delta,
            delta_interval=interval,
            agreement_rate=agreement,
            disagreements=disagreements,
            output_drift=drift,
            fairness=fairness,
            latency=latency,
            alert_reasons=reasons,
            detail=f"{n} labelled rows; the metric needs {p.min_rows}" if insufficient else None,
        )

    def _empty(
        self, metric: str, reference: Window, current: Window, detail: str
    ) -> ComparisonResult:
        return ComparisonResult(
            kind=self.kind, version=self.version, status=Status.INSUFFICIENT_DATA,
            mode=self.params.mode, champion=self.params.champion, metric=metric,
            champion_rows=len(reference), challenger_rows=len(current), paired_rows=0,
            labeled_rows=0, champion_value=None, challenger_value=None, delta=None,
            delta_interval=None, agreement_rate=None, disagreements=[], output_drift=None,
            fairness={}, latency={}, alert_reasons=[], detail=detail,
        )  # fmt: skip


def _sub(window: Window, frame: pd.DataFrame) -> Window:
    import dataclasses

    return dataclasses.replace(window, frame=frame)
