"""A monitor's runs as a time series of a few numbers each, extracted from the stored
results: what the dashboard charts over time without shipping every full result."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from backend.api.paging import next_cursor
from backend.runs import repository


class SeriesPoint(BaseModel):
    run_id: int
    window_start: datetime
    window_end: datetime
    status: str
    rows: int
    metrics: dict[str, float]


class Series(BaseModel):
    monitor_id: int
    kind: str
    segment: str | None = None
    segments: list[str] = Field(
        default_factory=list, description="The segments the page's runs hold results for."
    )
    points: list[SeriesPoint]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page.")
    next_before_id: int | None = Field(
        description="Deprecated: the old paging parameter's value; use next_cursor.",
        json_schema_extra={"deprecated": True},
    )


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def metrics(
    kind: str, result: dict[str, Any] | None, segment: str | None = None
) -> dict[str, float]:
    if result and segment is not None:
        found_segment = next(
            (s for s in result.get("segments") or [] if s.get("segment") == segment), None
        )
        result = found_segment["result"] if found_segment else None
    if not result:
        return {}
    found: dict[str, float | None] = {}
    if kind == "drift":
        found["share_drifted"] = _number(result.get("share_drifted"))
        for column in result.get("columns", []):
            found[f"score:{column['column']}"] = _number(column.get("score"))
    elif kind == "bias":
        for disparity in result.get("disparities", []):
            key = f"{'×'.join(disparity['attributes'])}:{disparity['positive_class']}"
            for name in (
                "demographic_parity_difference",
                "demographic_parity_ratio",
                "equalized_odds_difference",
            ):
                found[f"{name}:{key}"] = _number(disparity.get(name))
    elif kind == "explain":
        for name in ("importance_shift", "rank_correlation"):
            found[name] = _number(result.get(name))
        for feature, value in (result.get("importance") or {}).items():
            found[f"importance:{feature}"] = _number(value)
    elif kind == "cost":
        current = result.get("current") or {}
        for name in (
            "total_cost",
            "cost_per_1k_predictions",
            "latency_p50_ms",
            "latency_p95_ms",
            "latency_p99_ms",
        ):
            found[name] = _number(current.get(name))
        for name in ("budget_burn", "forecast_period_cost", "per_prediction_shift"):
            found[name] = _number(result.get(name))
    elif kind == "performance":
        for name, value in (result.get("metrics") or {}).items():
            found[name] = _number(value)
        for name, interval in (result.get("intervals") or {}).items():
            found[f"{name}:low"] = _number(interval.get("low"))
            found[f"{name}:high"] = _number(interval.get("high"))
        found["label_coverage"] = _number((result.get("coverage") or {}).get("share"))
    elif kind == "estimated_performance":
        for name, estimate in (result.get("estimates") or {}).items():
            found[name] = _number(estimate.get("value"))
            found[f"{name}:low"] = _number(estimate.get("lower_confidence"))
            found[f"{name}:high"] = _number(estimate.get("upper_confidence"))
        for name, value in (result.get("realized") or {}).items():
            found[f"realized:{name}"] = _number(value)
    elif kind == "comparison":
        metric = result.get("metric", "metric")
        found[f"{metric}_delta"] = _number(result.get("delta"))
        interval = result.get("delta_interval") or {}
        found[f"{metric}_delta:low"] = _number(interval.get("low"))
        found[f"{metric}_delta:high"] = _number(interval.get("high"))
        found["agreement_rate"] = _number(result.get("agreement_rate"))
        found["output_drift"] = _number(result.get("output_drift"))
        latency = result.get("latency") or {}
        found["latency_p95_delta_ms"] = _number(latency.get("delta_latency_p95"))
        for attribute, figures in (result.get("fairness") or {}).items():
            found[f"demographic_parity_delta:{attribute}"] = _number(figures.get("delta"))
    elif kind == "review":
        found["override_rate"] = _number(result.get("override_rate"))
        found["decisions"] = _number(result.get("decisions"))
        for part in result.get("segments") or []:
            found[f"override_rate:{part['segment']}"] = _number(part.get("override_rate"))
    elif kind == "data_quality":
        found["rows"] = _number(result.get("rows"))
        found["duplicate_share"] = _number(result.get("duplicate_share"))
        found["volume_ratio"] = _number(result.get("volume_ratio"))
        for feature in result.get("features", []):
            found[f"missing_share:{feature['name']}"] = _number(feature.get("missing_share"))
    return {k: v for k, v in found.items() if v is not None}


def series(
    session: Session,
    *,
    monitor_id: int,
    kind: str,
    before_id: int | None,
    limit: int,
    segment: str | None = None,
) -> Series:
    """The newest ``limit`` runs before ``before_id``, returned in window order (a
    backfill creates runs for earlier windows after later ones)."""
    runs = repository.runs_before(
        session, monitor_id=monitor_id, before_id=before_id, limit=limit + 1
    )
    page = list(runs[:limit])
    return Series(
        monitor_id=monitor_id,
        kind=kind,
        segment=segment,
        segments=sorted(
            {s["segment"] for r in page for s in (r.result or {}).get("segments") or []}
        ),
        points=[
            SeriesPoint(
                run_id=r.id,
                window_start=r.window_start,
                window_end=r.window_end,
                status=r.status,
                rows=r.rows,
                metrics=metrics(kind, r.result, segment),
            )
            for r in sorted(page, key=lambda r: (r.window_end, r.id))
        ],
        next_cursor=next_cursor("series", [r.id for r in page], len(runs) > limit),
        next_before_id=page[-1].id if len(runs) > limit else None,
    )
