"""What, in a run's result, deserves an alert: one cause per distinct problem, so
each can be acknowledged and cleared on its own (a drifted feature, a disparity on
one attribute, a budget forecast)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ERROR_CAUSE = "check:error"
STATUS_RANK = {"ok": 0, "insufficient_data": 0, "warning": 1, "alert": 2}


@dataclass(frozen=True)
class Cause:
    key: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)


def causes(kind: str, result: dict[str, Any], params: dict[str, Any], alert_on: str) -> list[Cause]:
    """The causes in a completed run whose status reaches ``alert_on``; a segmented
    run's segments add theirs, each named by its segment."""
    if STATUS_RANK.get(result.get("status", "ok"), 0) < STATUS_RANK[alert_on]:
        return []
    # A segmented run's status is its worst segment's; the whole window's is its own.
    whole = result.get("window_status", result.get("status", "ok"))
    found = (
        _causes(kind, result, params) if STATUS_RANK.get(whole, 0) >= STATUS_RANK[alert_on] else []
    )
    for segment in result.get("segments") or []:
        inner = segment.get("result") or {}
        if STATUS_RANK.get(inner.get("status", "ok"), 0) < STATUS_RANK[alert_on]:
            continue
        found += [
            Cause(
                key=f"segment[{segment['segment']}]:{cause.key}",
                message=f"[{segment['segment']}] {cause.message}",
                details={**cause.details, "segment": segment["segment"]},
            )
            for cause in _causes(kind, inner, params)
        ]
    return found


def _causes(kind: str, result: dict[str, Any], params: dict[str, Any]) -> list[Cause]:
    if kind == "bias":
        return _bias(result, params)
    if kind in ("performance", "estimated_performance"):
        return _quality_metrics(kind, result)
    if kind == "data_quality":
        return _data_quality(result)
    if kind == "comparison":
        return _comparison(result)
    if kind == "review":
        return _review(result)
    return {"drift": _drift, "explain": _explain, "cost": _cost}[kind](result)


def _quality_metrics(kind: str, result: dict[str, Any]) -> list[Cause]:
    """One cause per metric that breaches a threshold: its value, the bound it broke."""
    prefix = "estimated " if kind == "estimated_performance" else ""
    return [
        Cause(
            key=f"{kind}:{decision['metric']}",
            message="; ".join(f"{prefix}{b}" for b in decision["breaches"]),
            details={
                k: decision.get(k)
                for k in (
                    "metric",
                    "value",
                    "reference",
                    "band_lower",
                    "band_upper",
                    "limit",
                    "declared",
                )
            },
        )
        for decision in result.get("decisions", [])
        if decision.get("breaches")
    ]


def _review(result: dict[str, Any]) -> list[Cause]:
    """The override rate, overall and per segment: each past its bound a cause."""
    found = []
    for reason in result.get("alert_reasons", []):
        segment = reason[1 : reason.index("]")] if reason.startswith("[") else None
        found.append(
            Cause(
                key=f"review:override_rate{':' + segment if segment else ''}",
                message=f"Review overrides: {reason}",
                details={"segment": segment, "override_rate": result.get("override_rate"),
                         "decisions": result.get("decisions")},
            )
        )  # fmt: skip
    return found


def _comparison(result: dict[str, Any]) -> list[Cause]:
    found = []
    for reason in result.get("alert_reasons", []):
        drift = reason.startswith("the challenger's outputs drift")
        found.append(
            Cause(
                key=f"comparison:{'output_drift' if drift else result.get('metric')}",
                message=f"Challenger against {result.get('champion')}: {reason}",
                details={
                    k: result.get(k)
                    for k in (
                        "champion",
                        "mode",
                        "metric",
                        "delta",
                        "delta_interval",
                        "output_drift",
                        "agreement_rate",
                    )
                },
            )
        )
    return found


def _data_quality(result: dict[str, Any]) -> list[Cause]:
    found = [
        Cause(
            key=f"data_quality:{feature['name']}",
            message=f"Data quality of '{feature['name']}': " + "; ".join(feature["issues"]),
            details={
                k: feature.get(k)
                for k in ("name", "missing_share", "out_of_range_share", "unseen_share")
            },
        )
        for feature in result.get("features", [])
        if feature.get("issues")
    ]
    feature_reasons = {f"{f['name']}: {i}" for f in result.get("features", []) for i in f["issues"]}
    rest = [r for r in result.get("alert_reasons", []) if r not in feature_reasons]
    if rest:
        found.append(
            Cause(
                key="data_quality:window",
                message="Data quality of the window: " + "; ".join(rest),
                details={k: result.get(k) for k in ("rows", "expected_rows", "duplicate_share")},
            )
        )
    return found


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _drift(result: dict[str, Any]) -> list[Cause]:
    found = [
        Cause(
            key=f"drift:{column['column']}",
            message=(
                f"Drift in '{column['column']}': {column['stattest']} "
                f"{_fmt(column['score'])} (threshold {_fmt(column['threshold'])})"
            ),
            details={
                k: column.get(k)
                for k in ("column", "stattest", "score", "threshold", "column_kind")
            },
        )
        for column in result.get("columns", [])
        if column.get("drifted")
    ]
    if result.get("status") == "alert" and result.get("dataset_drift"):
        share = result.get("share_drifted")
        found.append(
            Cause(
                key="drift:dataset",
                message=f"Dataset drift: share of drifted columns {_fmt(share)}",
                details={"share": share},
            )
        )
    return found


def _bias(result: dict[str, Any], params: dict[str, Any]) -> list[Cause]:
    """One cause per disparity that alerts. The detector decides (groups of at least
    min_group_size, significant disparities) and says why in ``alert_reasons``."""
    found = []
    for disparity in result.get("disparities", []):
        problems = disparity.get("alert_reasons") or []
        if not problems:
            continue
        worst = disparity.get("worst_group") or {}
        worst_text = ", ".join(f"{k}={v}" for k, v in worst.items())
        attributes = "+".join(disparity["attributes"])
        smallest = min((g["count"] for g in disparity.get("groups", [])
                        if not g.get("small")), default=None)  # fmt: skip
        found.append(
            Cause(
                key=f"bias:{disparity['positive_class']}:{attributes}",
                message=(
                    f"Bias across {attributes} (positive class {disparity['positive_class']}): "
                    f"least selected group {worst_text}; " + "; ".join(problems)
                ),
                details={
                    "attributes": disparity["attributes"],
                    "worst_group": worst,
                    "positive_class": disparity["positive_class"],
                    "demographic_parity_difference": disparity["demographic_parity_difference"],
                    "demographic_parity_ratio": disparity["demographic_parity_ratio"],
                    "equalized_odds_difference": disparity.get("equalized_odds_difference"),
                    "groups_decided_on": disparity.get("groups_decided_on"),
                    "smallest_group_decided_on": smallest,
                },
            )
        )
    return found


def _explain(result: dict[str, Any]) -> list[Cause]:
    return [
        Cause(
            key="explain:attribution_drift",
            message=(
                f"Attribution drift: importance shift {_fmt(result.get('importance_shift'))}, "
                f"rank correlation {_fmt(result.get('rank_correlation'))}"
            ),
            details={
                "importance_shift": result.get("importance_shift"),
                "rank_correlation": result.get("rank_correlation"),
            },
        )
    ]


def _cost(result: dict[str, Any]) -> list[Cause]:
    found = []
    if result.get("forecast_over_budget"):
        found.append(
            Cause(
                key="cost:budget_forecast",
                message=(
                    f"Cost forecast {_fmt(result.get('forecast_period_cost'))} exceeds the "
                    f"budget {_fmt(result.get('budget'))}"
                ),
                details={
                    "forecast_period_cost": result.get("forecast_period_cost"),
                    "budget": result.get("budget"),
                },
            )
        )
    if result.get("anomaly"):
        found.append(
            Cause(
                key="cost:per_prediction_shift",
                message=(
                    f"Cost per prediction moved {_fmt(result.get('per_prediction_shift'))} "
                    "from the reference"
                ),
                details={"per_prediction_shift": result.get("per_prediction_shift")},
            )
        )
    return found
