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
    model: Model, version: ModelVersion, *, has_dataset: bool
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
