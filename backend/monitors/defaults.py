"""The monitors a version gets from ``monitors:default``: what a careful ML team would
set up first, from the version's own schema and cost profile.

Every baseline is pinned at creation: the version's newest reference dataset (by its
content hash) when it has one, else its first week of traffic. Cost always compares
with the first week of traffic, which carries what serving really cost (compute
time, latency); a reference dataset seldom does.
"""

from __future__ import annotations

from typing import Any

from backend.models import Model, ModelVersion
from backend.monitors.schemas import MonitorCreate, ReferenceSpec, ScheduleSpec, WindowSpec

DAILY_WINDOW_HOURLY = {"window": WindowSpec(duration="1d"), "schedule": ScheduleSpec(every="1h")}


FIRST_WEEK = ReferenceSpec(kind="first_week")


def default_monitors(
    model: Model,
    version: ModelVersion,
    *,
    has_dataset: bool,
    reference_columns: list[str] | None = None,
) -> tuple[list[MonitorCreate], list[str]]:
    """The monitors, and why any kind was left out."""
    baseline = ReferenceSpec() if has_dataset else FIRST_WEEK
    monitors = [
        MonitorCreate(
            name="drift",
            kind="drift",
            # Every feature, the prediction and the score; each drifted one its own alert.
            params={"include_prediction": True, "include_score": True},
            reference=baseline,
            alert_on="warning",
            severity="warning",
            **DAILY_WINDOW_HOURLY,
        )
    ]
    skipped: list[str] = []
    sensitive = [f["name"] for f in version.features if f.get("sensitive")]
    if model.task == "regression":
        skipped.append("bias: group fairness metrics are defined for classifiers")
    elif not sensitive:
        skipped.append("bias: the schema marks no feature sensitive")
    else:
        bias: dict[str, Any] = {"intersections": len(sensitive) > 1}
        if model.task == "multiclass":
            bias["classes"] = list(version.class_labels or [])
        elif version.positive_class is not None:
            bias["positive_label"] = version.positive_class
        monitors.append(
            MonitorCreate(
                name="bias",
                kind="bias",
                params=bias,
                reference=baseline,
                severity="critical",
                **DAILY_WINDOW_HOURLY,
            )
        )
    if version.artifact_sha256 is None:
        skipped.append("explain: the version has no TorchScript artifact")
    else:
        monitors.append(
            MonitorCreate(
                name="explain",
                kind="explain",
                params={"max_rows": 200},
                reference=baseline,
                window=WindowSpec(duration="1d"),
                schedule=ScheduleSpec(every="1d"),
                severity="warning",
            )
        )
    monitors.append(
        MonitorCreate(
            name="data_quality",
            kind="data_quality",
            reference=baseline,
            severity="warning",
            **DAILY_WINDOW_HOURLY,
        )
    )
    _add_quality(monitors, skipped, model, version, set(reference_columns or []))
    cost = _cost_params(version.cost_profile or {})
    if cost is None:
        skipped.append("cost: the version's cost profile sets no price")
    else:
        monitors.append(
            MonitorCreate(
                name="cost",
                kind="cost",
                params=cost,
                reference=FIRST_WEEK,
                severity="warning",
                **DAILY_WINDOW_HOURLY,
            )
        )
    return monitors, skipped


def _cost_params(profile: dict[str, Any]) -> dict[str, Any] | None:
    compute_price = profile.get("price_per_gpu_second") or profile.get("price_per_cpu_second")
    per_1k = profile.get("price_per_1k_predictions")
    if compute_price is None and per_1k is None:
        return None
    params: dict[str, Any] = {"budget_period": profile.get("budget_period", "month")}
    if compute_price is not None:
        params["price_per_compute_second"] = compute_price
    if per_1k is not None:
        params["price_per_1k_predictions"] = per_1k
    if profile.get("budget"):
        params["budget"] = profile["budget"]
    return params


def _add_quality(
    monitors: list[MonitorCreate],
    skipped: list[str],
    model: Model,
    version: ModelVersion,
    columns: set[str],
) -> None:
    """Realized performance needs a labelled reference; estimated performance needs
    one too, with scores for a classifier (CBPE) or features for regression (DLE)."""
    if version.label_column not in columns or version.prediction_column not in columns:
        reason = "the reference dataset holds no labels and predictions"
        skipped.append(f"performance: {reason}")
        skipped.append(f"estimated_performance: {reason}")
        return
    monitors.append(
        MonitorCreate(
            name="performance",
            kind="performance",
            reference=ReferenceSpec(),
            severity="critical",
            # Labels arrive late: each day, the day that ended a week ago, whose
            # window is also one the hourly estimate covered (side by side).
            window=WindowSpec(duration="1d", lag="7d"),
            schedule=ScheduleSpec(every="1d"),
        )
    )
    if model.task == "regression":
        scored = True
    elif model.task == "multiclass":
        scored = all(f"proba:{c}" in columns for c in version.class_labels or [])
    else:
        scored = version.score_column in columns
    if not scored:
        skipped.append("estimated_performance: the reference dataset holds no scores")
        return
    monitors.append(
        MonitorCreate(
            name="estimated_performance",
            kind="estimated_performance",
            reference=ReferenceSpec(),
            severity="critical",
            **DAILY_WINDOW_HOURLY,
        )
    )
