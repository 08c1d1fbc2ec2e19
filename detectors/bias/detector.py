"""Group fairness for binary decisions, with fairlearn's metric definitions.

Every statistic is a function of each group's confusion counts (TP, FP, FN, TN, and
for unlabeled rows predicted positives and negatives), so one vectorized counting
pass serves all metrics, groups and intersections. The bootstrap resamples rows
exactly by drawing those counts from a multinomial, which costs the same for 1,000
rows or 10 million. Rates with a zero denominator are 0, as in fairlearn (which
takes them from scikit-learn's normalized confusion matrix).

Alerts rest on evidence, not noise. The disparities that decide (and the four-fifths
rule, and the worst group) count only groups of at least ``min_group_size`` rows; a
disparity alerts only when its bootstrap interval lies past the threshold
(``require_significance``). Smaller groups stay in the result, flagged, with every
metric; and ``all_groups`` gives the disparities over every group, exactly as
fairlearn computes them.
"""

from __future__ import annotations

import math
from itertools import combinations
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from pydantic import Field

from detectors.base import BaseDetector, Params, Result, Status, Window

# Cells of the per-group count table.
TP, FP, FN, TN, UNLABELED_POS, UNLABELED_NEG = range(6)
METRICS = ("selection_rate", "accuracy", "tpr", "fpr", "fnr", "precision")


Label = str | int | bool


class BiasParams(Params):
    """``positive_label`` is the favourable prediction of a binary classifier. For a
    multiclass model, ``classes`` lists the classes to examine one against the rest,
    each as the positive class in turn (fairlearn's per-class practice). Alerts fire
    when the demographic parity difference or equalized odds difference passes its
    threshold or the four-fifths rule fails."""

    positive_label: Label = 1
    classes: list[Label] | None = Field(default=None, min_length=1)
    min_group_size: int = Field(default=30, ge=1)
    intersections: bool = True
    bootstrap_samples: int = Field(default=200, ge=0, le=10_000)
    confidence: float = Field(default=0.95, gt=0, lt=1)
    seed: int = 0
    demographic_parity_threshold: float = Field(default=0.1, ge=0, le=1)
    equalized_odds_threshold: float = Field(default=0.1, ge=0, le=1)
    four_fifths: float = Field(default=0.8, gt=0, le=1)
    # An alert needs the disparity's bootstrap interval to lie past the threshold, not
    # only its estimate (with bootstrap_samples 0 the estimate decides).
    require_significance: bool = True


class Interval(Result):
    low: float
    high: float


class GroupMetrics(Result):
    group: dict[str, str]
    count: int
    labeled: int
    small: bool = Field(
        description="Fewer rows than min_group_size: reported, left out of the decision."
    )
    selection_rate: float
    accuracy: float | None
    tpr: float | None
    fpr: float | None
    fnr: float | None
    precision: float | None
    intervals: dict[str, Interval]


class DisparityFigures(Result):
    demographic_parity_difference: float
    demographic_parity_ratio: float
    equalized_odds_difference: float | None
    equalized_odds_ratio: float | None


class Disparity(Result):
    """The figures that decide, over the groups of at least ``min_group_size`` rows
    (None when fewer than two such groups); ``all_groups`` over every group."""

    positive_class: str
    attributes: list[str]
    groups: list[GroupMetrics]
    groups_decided_on: int
    demographic_parity_difference: float | None
    demographic_parity_ratio: float | None
    equalized_odds_difference: float | None
    equalized_odds_ratio: float | None
    four_fifths_passed: bool | None
    worst_group: dict[str, str] | None
    intervals: dict[str, Interval]
    all_groups: DisparityFigures
    alert_reasons: list[str] = Field(
        description="Why this disparity alerts; empty when it does not."
    )


class WindowFigures(Result):
    """The whole window, ``positive_class`` against the rest."""

    positive_class: str
    rows: int
    labeled: int
    selection_rate: float
    accuracy: float | None
    tpr: float | None
    fpr: float | None


class BiasResult(Result):
    disparities: list[Disparity]
    overall: list[WindowFigures]
    labeled_rows: int
    rows: int


def _rate(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1), 0.0)


def group_metrics(cells: np.ndarray) -> dict[str, np.ndarray]:
    """Metrics from a ``(..., groups, 6)`` count table, vectorized over leading axes."""
    tp, fp, fn, tn = (cells[..., k] for k in (TP, FP, FN, TN))
    labeled = tp + fp + fn + tn
    total = labeled + cells[..., UNLABELED_POS] + cells[..., UNLABELED_NEG]
    return {
        "selection_rate": _rate(tp + fp + cells[..., UNLABELED_POS], total),
        "accuracy": _rate(tp + tn, labeled),
        "tpr": _rate(tp, tp + fn),
        "fpr": _rate(fp, fp + tn),
        "fnr": _rate(fn, tp + fn),
        "precision": _rate(tp, tp + fp),
    }


def disparities(metrics: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """fairlearn's between-groups difference (max − min) and ratio (min / max)."""

    def diff(values: np.ndarray) -> np.ndarray:
        return values.max(axis=-1) - values.min(axis=-1)

    def ratio(values: np.ndarray) -> np.ndarray:
        return _rate(values.min(axis=-1), values.max(axis=-1))

    return {
        "demographic_parity_difference": diff(metrics["selection_rate"]),
        "demographic_parity_ratio": ratio(metrics["selection_rate"]),
        "equalized_odds_difference": np.maximum(diff(metrics["tpr"]), diff(metrics["fpr"])),
        "equalized_odds_ratio": np.minimum(ratio(metrics["tpr"]), ratio(metrics["fpr"])),
    }


# A grouping's factorized codes, its distinct groups, and the rows where every
# attribute is present (rows missing one are not in any group).
GroupCodes = tuple[np.ndarray, Any, np.ndarray]


def _group_codes(frame: pd.DataFrame, attrs: list[str]) -> GroupCodes:
    present = frame[attrs].notna().all(axis=1).to_numpy()
    sizes = [frame[name].nunique() for name in attrs]
    if math.prod(sizes) >= 2**62:
        codes, multi = pd.MultiIndex.from_frame(frame[attrs].astype(str)[present]).factorize()
        return codes, list(multi), present
    # Per-attribute codes combined into one integer: factorizing a MultiIndex of
    # strings materialises a tuple per row. Groups keep first-appearance order.
    combined = np.zeros(int(present.sum()), dtype=np.int64)
    levels = []
    for name in attrs:
        attr_codes, attr_uniques = pd.factorize(frame[name].astype(str).to_numpy()[present])
        combined = combined * len(attr_uniques) + attr_codes
        levels.append((attr_uniques, len(attr_uniques)))
    codes, combined_uniques = pd.factorize(combined)
    uniques = []
    for value in combined_uniques.tolist():
        parts = []
        for attr_uniques, size in reversed(levels):
            value, at = divmod(value, size)
            parts.append(str(attr_uniques[at]))
        uniques.append(tuple(reversed(parts)))
    return codes, uniques, present


def _cells(
    predicted: np.ndarray, actual: tuple[np.ndarray, np.ndarray] | None, positive: str
) -> np.ndarray:
    """Each row's cell in the count table, ``positive`` against the rest; ``actual``
    holds the labels as strings and whether each row has one."""
    is_positive = predicted == positive
    unlabeled = np.where(is_positive, UNLABELED_POS, UNLABELED_NEG)
    if actual is None:
        return unlabeled
    labels, has_label = actual
    truth = labels == positive
    labeled_cell = np.select(
        [is_positive & truth, is_positive & ~truth, ~is_positive & truth], [TP, FP, FN], TN
    )
    return np.where(has_label, labeled_cell, unlabeled)


def _window_figures(cell: np.ndarray, positive: str, kind: str, version: str) -> WindowFigures:
    table = np.bincount(cell, minlength=6).astype(float)[None, :]
    metrics = group_metrics(table)
    labeled = float(table[0, :4].sum())
    return WindowFigures(
        kind=kind,
        version=version,
        status=Status.OK,
        positive_class=positive,
        rows=int(table.sum()),
        labeled=int(labeled),
        selection_rate=float(metrics["selection_rate"][0]),
        accuracy=float(metrics["accuracy"][0]) if labeled else None,
        tpr=float(metrics["tpr"][0]) if labeled else None,
        fpr=float(metrics["fpr"][0]) if labeled else None,
    )


class BiasDetector(BaseDetector[BiasParams]):
    kind: ClassVar[str] = "bias"
    # 2: decisions over groups of at least min_group_size, on significant disparities;
    # all_groups and whole-window figures added.
    version: ClassVar[str] = "2"
    params_model: ClassVar[type[Params]] = BiasParams

    def run(self, reference: Window, current: Window) -> BiasResult:
        """Fairness of ``current``; the reference is not needed for group metrics."""
        sensitive = [c.name for c in current.columns if c.sensitive]
        frame = current.frame
        empty = BiasResult(
            kind=self.kind,
            version=self.version,
            status=Status.INSUFFICIENT_DATA,
            disparities=[],
            overall=[],
            labeled_rows=0,
            rows=len(frame),
        )
        if not sensitive or current.prediction is None or len(frame) == 0:
            return empty
        groupings = [[name] for name in sensitive]
        if self.params.intersections and len(sensitive) > 1:
            groupings += [
                list(c) for r in range(2, len(sensitive) + 1) for c in combinations(sensitive, r)
            ]
        grouped = [(attrs, _group_codes(frame, attrs)) for attrs in groupings]
        predicted = frame[current.prediction].astype(str).to_numpy()
        actual = (
            (frame[current.label].astype(str).to_numpy(), frame[current.label].notna().to_numpy())
            if current.label
            else None
        )
        results = []
        overall = []
        for positive in self.params.classes or [self.params.positive_label]:
            cell = _cells(predicted, actual, str(positive))
            overall.append(_window_figures(cell, str(positive), self.kind, self.version))
            for attrs, codes in grouped:
                disparity = self._disparity(codes, cell, attrs, str(positive))
                if disparity is not None:
                    results.append(disparity)
        if not results:
            return empty.model_copy(update={"overall": overall})
        alert = any(d.alert_reasons for d in results)
        small = any(g.small for d in results for g in d.groups)
        status = Status.ALERT if alert else Status.WARNING if small else Status.OK
        labeled = int(frame[current.label].notna().sum()) if current.label else 0
        return BiasResult(
            kind=self.kind,
            version=self.version,
            status=status,
            disparities=results,
            overall=overall,
            labeled_rows=labeled,
            rows=len(frame),
        )

    def _disparity(
        self, grouping: GroupCodes, cell: np.ndarray, attrs: list[str], positive: str
    ) -> Disparity | None:
        codes, uniques, present = grouping
        if len(uniques) < 2:
            return None
        p = self.params
        counts = np.bincount(codes * 6 + cell[present], minlength=len(uniques) * 6)
        table = counts.reshape(len(uniques), 6).astype(float)
        metrics = group_metrics(table)
        everyone = disparities(metrics)
        labeled = table[:, :4].sum(axis=1)
        has_labels = bool(labeled.sum() > 0)
        sizes = table.sum(axis=1)
        large = sizes >= p.min_group_size
        group_intervals = self._bootstrap(table)["groups"]
        names = [
            dict(zip(attrs, u if isinstance(u, tuple) else (u,), strict=True)) for u in uniques
        ]
        groups = []
        for g, name in enumerate(names):
            count = int(sizes[g])

            def labeled_value(metric: str, g: int = g) -> float | None:
                return float(metrics[metric][g]) if labeled[g] > 0 else None

            groups.append(
                GroupMetrics(
                    kind=self.kind,
                    version=self.version,
                    status=Status.OK if large[g] else Status.INSUFFICIENT_DATA,
                    group=name,
                    count=count,
                    labeled=int(labeled[g]),
                    small=not large[g],
                    selection_rate=float(metrics["selection_rate"][g]),
                    accuracy=labeled_value("accuracy"),
                    tpr=labeled_value("tpr"),
                    fpr=labeled_value("fpr"),
                    fnr=labeled_value("fnr"),
                    precision=labeled_value("precision"),
                    intervals={m: group_intervals[m][g] for m in METRICS},
                )
            )
        all_groups = DisparityFigures(
            kind=self.kind,
            version=self.version,
            status=Status.OK,
            demographic_parity_difference=float(everyone["demographic_parity_difference"]),
            demographic_parity_ratio=float(everyone["demographic_parity_ratio"]),
            equalized_odds_difference=float(everyone["equalized_odds_difference"])
            if has_labels
            else None,
            equalized_odds_ratio=float(everyone["equalized_odds_ratio"]) if has_labels else None,
        )
        base = {
            "kind": self.kind,
            "version": self.version,
            "positive_class": positive,
            "attributes": attrs,
            "groups": groups,
            "groups_decided_on": int(large.sum()),
            "all_groups": all_groups,
        }
        if large.sum() < 2:
            return Disparity(
                **base,
                status=Status.INSUFFICIENT_DATA,
                demographic_parity_difference=None,
                demographic_parity_ratio=None,
                equalized_odds_difference=None,
                equalized_odds_ratio=None,
                four_fifths_passed=None,
                worst_group=None,
                intervals={},
                alert_reasons=[],
            )
        decided = table[large]
        decided_metrics = {m: values[large] for m, values in metrics.items()}
        figures = disparities(decided_metrics)
        intervals = self._bootstrap(decided)["disparities"]
        has_labels = bool(decided[:, :4].sum() > 0)
        dp = float(figures["demographic_parity_difference"])
        ratio = float(figures["demographic_parity_ratio"])
        eo = float(figures["equalized_odds_difference"]) if has_labels else None
        reasons = self._alert_reasons(dp, ratio, eo, intervals)
        worst = int(np.argmin(decided_metrics["selection_rate"]))
        return Disparity(
            **base,
            status=Status.ALERT if reasons else Status.OK,
            demographic_parity_difference=dp,
            demographic_parity_ratio=ratio,
            equalized_odds_difference=eo,
            equalized_odds_ratio=float(figures["equalized_odds_ratio"]) if has_labels else None,
            four_fifths_passed=ratio >= p.four_fifths,
            worst_group=[name for g, name in enumerate(names) if large[g]][worst],
            intervals=intervals,
            alert_reasons=reasons,
        )

    def _alert_reasons(
        self, dp: float, ratio: float, eo: float | None, intervals: dict[str, Interval]
    ) -> list[str]:
        """A disparity past its threshold, and (``require_significance``) its whole
        bootstrap interval past it too."""
        p = self.params
        sure = p.require_significance and bool(intervals)

        def beyond(name: str, value: float, threshold: float, above: bool) -> bool:
            if (value > threshold) != above or value == threshold:
                return False
            if not sure:
                return True
            bound = intervals[name].low if above else intervals[name].high
            return bound > threshold if above else bound < threshold

        def band(name: str) -> str:
            if not sure:
                return ""
            return f" (interval {intervals[name].low:.3g}–{intervals[name].high:.3g})"

        reasons = []
        if beyond("demographic_parity_ratio", ratio, p.four_fifths, above=False):
            reasons.append(
                f"four-fifths rule failed (ratio {ratio:.3g}{band('demographic_parity_ratio')})"
            )
        if beyond("demographic_parity_difference", dp, p.demographic_parity_threshold, True):
            reasons.append(
                f"demographic parity difference {dp:.3g}"
                f"{band('demographic_parity_difference')} over {p.demographic_parity_threshold}"
            )
        if eo is not None and beyond(
            "equalized_odds_difference", eo, p.equalized_odds_threshold, True
        ):
            reasons.append(
                f"equalized odds difference {eo:.3g}{band('equalized_odds_difference')} "
                f"over {p.equalized_odds_threshold}"
            )
        return reasons

    def _bootstrap(self, table: np.ndarray) -> dict[str, Any]:
        """Percentile intervals from an exact row bootstrap, drawn on the counts."""
        p = self.params
        samples = p.bootstrap_samples
        if samples == 0:
            return {
                "groups": {
                    m: [
                        Interval(
                            kind=self.kind,
                            version=self.version,
                            status=Status.OK,
                            low=float("nan"),
                            high=float("nan"),
                        )
                    ]
                    * len(table)
                    for m in METRICS
                },
                "disparities": {},
            }
        rng = np.random.default_rng(p.seed)
        flat = table.ravel()
        draws = rng.multinomial(int(flat.sum()), flat / flat.sum(), size=samples)
        boot = draws.reshape(samples, *table.shape).astype(float)
        metrics = group_metrics(boot)
        spread = disparities(metrics)
        tail = (1 - p.confidence) / 2 * 100

        def interval(values: np.ndarray) -> Interval:
            low, high = np.percentile(values, [tail, 100 - tail])
            return Interval(
                kind=self.kind,
                version=self.version,
                status=Status.OK,
                low=float(low),
                high=float(high),
            )

        return {
            "groups": {m: [interval(metrics[m][:, g]) for g in range(len(table))] for m in METRICS},
            "disparities": {name: interval(values) for name, values in spread.items()},
        }
