"""Evaluating a gate policy on a version: each condition over the latest completed
run of a named monitor, or over the version's open alerts. A condition whose data is
missing or stale fails and says so; nothing passes by default."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy.orm import Session

from backend.governance import repository
from backend.governance.schemas import AlertCondition, Condition, ConditionResult, MetricCondition
from backend.models import ModelVersion
from backend.runs.series import metrics as run_metrics

SEVERITY_ORDER = ("info", "warning", "critical")
CONDITIONS: TypeAdapter[Condition] = TypeAdapter(Condition)

# What each kind's runs report (the series metrics); a name followed by ":" in a run
# (score:x1, demographic_parity_ratio:sex:1) is one figure per column or attribute.
KNOWN_METRICS: dict[str, frozenset[str]] = {
    "drift": frozenset({"share_drifted", "score"}),
    "bias": frozenset(
        {"demographic_parity_difference", "demographic_parity_ratio", "equalized_odds_difference"}
    ),
    "explain": frozenset({"importance_shift", "rank_correlation", "importance"}),
    "cost": frozenset(
        {
            "total_cost",
            "cost_per_1k_predictions",
            "latency_p50_ms",
            "latency_p95_ms",
            "latency_p99_ms",
            "budget_burn",
            "forecast_period_cost",
            "per_prediction_shift",
        }
    ),
    "performance": frozenset(
        {
            "accuracy",
            "balanced_accuracy",
            "precision",
            "recall",
            "f1",
            "specificity",
            "precision_macro",
            "recall_macro",
            "f1_macro",
            "precision_weighted",
            "recall_weighted",
            "f1_weighted",
            "roc_auc",
            "pr_auc",
            "log_loss",
            "brier",
            "ece",
            "mae",
            "rmse",
            "mse",
            "mape",
            "r2",
            "mean_error",
            "label_coverage",
        }
    ),
    "estimated_performance": frozenset(
        {
            "roc_auc",
            "f1",
            "precision",
            "recall",
            "specificity",
            "accuracy",
            "mae",
            "mape",
            "mse",
            "rmse",
        }
    ),
    "data_quality": frozenset({"rows", "duplicate_share", "volume_ratio", "missing_share"}),
    "review": frozenset({"override_rate", "decisions"}),
    "comparison": frozenset(
        {
            "accuracy_delta",
            "accuracy_delta:low",
            "accuracy_delta:high",
            "mae_delta",
            "mae_delta:low",
            "mae_delta:high",
            "agreement_rate",
            "output_drift",
            "latency_p95_delta_ms",
            "demographic_parity_delta",
        }
    ),
}


def describe(condition: MetricCondition | AlertCondition) -> str:
    if condition.name:
        return condition.name
    if isinstance(condition, AlertCondition):
        return f"no open {condition.severity}+ alerts"
    return f"{condition.monitor}.{condition.metric} {condition.op} {condition.threshold}"


def _holds(value: float, op: str, threshold: float) -> bool:
    return {
        ">=": value >= threshold,
        ">": value > threshold,
        "<=": value <= threshold,
        "<": value < threshold,
    }[op]


def _observed(found: dict[str, float], metric: str, op: str) -> float | None:
    """The metric's value; over per-item figures, the one nearest to failing."""
    if metric in found:
        return found[metric]
    items = [v for k, v in found.items() if k.startswith(metric + ":") and not k.endswith(
        (":low", ":high"))]  # fmt: skip
    if not items:
        return None
    return min(items) if op in (">=", ">") else max(items)


def _failed(text: str, threshold: float | None, run_id: int | None, why: str) -> ConditionResult:
    return ConditionResult(
        condition=text, observed=None, threshold=threshold, passed=False, run_id=run_id, why=why
    )


def evaluate_condition(
    session: Session,
    version: ModelVersion,
    condition: MetricCondition | AlertCondition,
    now: datetime,
) -> ConditionResult:
    text = describe(condition)
    if isinstance(condition, AlertCondition):
        severities = SEVERITY_ORDER[SEVERITY_ORDER.index(condition.severity) :]
        found = repository.open_alerts(session, version.id, severities)
        causes = ", ".join(f"#{a.id} {a.cause}" for a in found[:5])
        return ConditionResult(
            condition=text,
            observed=float(len(found)),
            threshold=0.0,
            passed=not found,
            run_id=found[0].last_run_id if found else None,
            why=f"{len(found)} unresolved alert(s): {causes}" if found else "no unresolved alert",
        )
    threshold: float | None
    if condition.threshold == "declared":
        threshold = (version.declared_metrics or {}).get(condition.metric)
        if threshold is None:
            return _failed(text, None, None, f"the version declares no {condition.metric}")
    else:
        threshold = float(condition.threshold)
    monitor = repository.monitor_by_name(session, version.id, condition.monitor)
    if monitor is None:
        why = f"version {version.version} has no monitor named '{condition.monitor}'"
        return _failed(text, threshold, None, why)
    run = repository.latest_completed_run(session, monitor.id)
    if run is None:
        return _failed(text, threshold, None, f"monitor '{monitor.name}' has no completed run")
    age = now - run.window_end
    if age > timedelta(hours=condition.max_age_hours):
        why = (
            f"stale: run {run.id}'s window ended {age.total_seconds() / 3600:.1f} h ago "
            f"(at most {condition.max_age_hours:g} h)"
        )
        return _failed(text, threshold, run.id, why)
    value = _observed(run_metrics(monitor.kind, run.result), condition.metric, condition.op)
    if value is None:
        return _failed(text, threshold, run.id, f"run {run.id} reports no {condition.metric}")
    assert threshold is not None
    passed = _holds(value, condition.op, threshold)
    verdict = "holds" if passed else "fails"
    comparison = f"{condition.metric} {value:.4g} {condition.op} {threshold:.4g}"
    return ConditionResult(
        condition=text,
        observed=value,
        threshold=threshold,
        passed=passed,
        run_id=run.id,
        why=f"run {run.id}: {comparison} {verdict}",
    )


def parse_conditions(stored: list[dict[str, Any]]) -> list[MetricCondition | AlertCondition]:
    return [CONDITIONS.validate_python(item) for item in stored]
