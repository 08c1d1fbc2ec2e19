"""When a quality metric alerts, shared by the realized and the estimated performance
detectors. Three kinds of threshold, each optional:

- an absolute limit (a floor for a score, a ceiling for an error), and the level the
  model version declares (EU AI Act Art. 15), which is one too;
- a relative drop from the reference's value;
- a band of ``band_k`` standard deviations around the mean of the metric over
  ``reference_chunks`` chunks of the reference (NannyML's default, k = 3).

Only the worse side of the band alerts: a model that does better than its reference
is reported, not paged.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from detectors.base import Params

LOWER_IS_BETTER = frozenset({"log_loss", "brier", "ece", "mae", "rmse", "mse", "mape"})
# Metrics bounded to [0, 1]: their band is clipped there, as NannyML clips it.
UNIT_INTERVAL = frozenset(
    {
        "accuracy",
        "balanced_accuracy",
        "precision",
        "recall",
        "f1",
        "specificity",
        "roc_auc",
        "pr_auc",
        "precision_macro",
        "recall_macro",
        "f1_macro",
        "precision_weighted",
        "recall_weighted",
        "f1_weighted",
        "brier",
        "ece",
    }
)


class QualityThresholds(Params):
    metrics: list[str] | None = Field(
        default=None,
        min_length=1,
        description="The metrics that decide the status; the task's defaults when unset.",
    )
    limits: dict[str, float] = Field(
        default_factory=dict,
        description="Absolute bounds: a floor for a score (accuracy), a ceiling for an "
        "error (mae).",
    )
    max_relative_drop: float | None = Field(
        default=0.1,
        ge=0,
        description="Alert when a metric is this share worse than the reference's value.",
    )
    band_k: float | None = Field(
        default=3.0,
        gt=0,
        description="Alert outside mean ± k standard deviations of the reference chunks.",
    )
    reference_chunks: int = Field(default=10, ge=2, le=1000)


class Decision(BaseModel):
    model_config = ConfigDict(frozen=True)

    metric: str
    value: float | None
    reference: float | None
    band_lower: float | None
    band_upper: float | None
    limit: float | None
    declared: float | None
    breaches: list[str]


def chunk_bounds(rows: int, number: int) -> list[tuple[int, int]]:
    """NannyML's ``CountBasedChunker(chunk_number)`` with ``incomplete="keep"``: chunks
    of ``rows // number`` rows, and the remainder as one more chunk."""
    size = rows // number
    if size == 0:
        return []
    bounds = [(start, start + size) for start in range(0, rows - size + 1, size)]
    if bounds[-1][1] < rows:
        bounds.append((bounds[-1][1], rows))
    return bounds


def band(values: list[float | None], metric: str, k: float) -> tuple[float | None, float | None]:
    """NannyML's ``StandardDeviationThreshold``: nanmean ± k·nanstd, clipped to the
    metric's limits."""
    array = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    if np.isnan(array).all():
        return None, None
    centre = float(np.nanmean(array))
    spread = float(np.nanstd(array))
    lower, upper = centre - k * spread, centre + k * spread
    if metric in UNIT_INTERVAL:
        lower, upper = max(lower, 0.0), min(upper, 1.0)
    return lower, upper


def worse(metric: str, value: float, bound: float) -> bool:
    return value > bound if metric in LOWER_IS_BETTER else value < bound


def decide(
    metric: str,
    value: float | None,
    reference: float | None,
    chunk_values: list[float | None],
    params: QualityThresholds,
    declared: float | None,
) -> Decision:
    lower = upper = None
    if params.band_k is not None and chunk_values:
        lower, upper = band(chunk_values, metric, params.band_k)
    limit = params.limits.get(metric)
    breaches: list[str] = []
    if value is not None:
        if limit is not None and worse(metric, value, limit):
            breaches.append(f"{metric} {value:.4g} is past the limit {limit:.4g}")
        if declared is not None and worse(metric, value, declared):
            breaches.append(f"{metric} {value:.4g} is worse than the declared {declared:.4g}")
        if params.max_relative_drop is not None and reference is not None and reference != 0:
            change = (value - reference) / abs(reference)
            drop = change if metric in LOWER_IS_BETTER else -change
            if drop > params.max_relative_drop:
                breaches.append(
                    f"{metric} {value:.4g} is {drop:.1%} worse than the reference's "
                    f"{reference:.4g} (allowed {params.max_relative_drop:.1%})"
                )
        bound = upper if metric in LOWER_IS_BETTER else lower
        if bound is not None and worse(metric, value, bound):
            breaches.append(
                f"{metric} {value:.4g} is outside the reference band "
                f"[{lower:.4g}, {upper:.4g}] (k = {params.band_k})"
            )
    return Decision(
        metric=metric,
        value=value,
        reference=reference,
        band_lower=lower,
        band_upper=upper,
        limit=limit,
        declared=declared,
        breaches=breaches,
    )
