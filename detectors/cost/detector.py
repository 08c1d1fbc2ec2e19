"""What predictions cost, and whether the budget holds.

Cost of a window: ``compute_seconds × price_per_compute_second`` summed over rows,
plus ``price_per_1k_predictions`` per thousand rows. Latency percentiles use
numpy's linear interpolation. The budget forecast extrapolates the current window's
spend rate (its ``start``..``end``, given by the caller) to the whole budget period,
and the result says so in words (``forecast_explanation``).

A window priced by compute time but without compute figures has no cost: it is
``insufficient_data`` with a reason, never a cost of zero; so is a shift against
such a reference.
"""

from __future__ import annotations

import calendar
from datetime import datetime, timedelta
from typing import ClassVar, Literal

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from detectors.base import BaseDetector, Params, Result, Status, Window


class CostParams(Params):
    price_per_compute_second: float | None = Field(default=None, ge=0)
    price_per_1k_predictions: float | None = Field(default=None, ge=0)
    budget: float | None = Field(default=None, gt=0)
    budget_period: Literal["day", "week", "month"] = "month"
    # Cost per prediction moving this much (relative) from the reference is an anomaly.
    per_prediction_shift_threshold: float = Field(default=0.25, gt=0)
    latency_column: str = "latency_ms"
    compute_column: str = "compute_seconds"
    min_rows: int = Field(default=1, ge=1)

    @model_validator(mode="after")
    def _some_price(self) -> CostParams:
        if self.price_per_compute_second is None and self.price_per_1k_predictions is None:
            raise ValueError("give price_per_compute_second or price_per_1k_predictions")
        return self


class WindowCost(Result):
    detail: str | None = None
    rows: int
    total_cost: float
    cost_per_prediction: float
    cost_per_1k_predictions: float
    compute_seconds: float
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    latency_p99_ms: float | None


class CostResult(Result):
    current: WindowCost
    reference: WindowCost | None
    per_prediction_shift: float | None
    shift_detail: str | None = Field(description="Why there is no shift, when there is none.")
    anomaly: bool
    budget: float | None
    budget_period: str
    budget_period_days: float | None
    window_days: float | None
    budget_burn: float | None = Field(
        description="The window's spend as a share of the whole period's budget."
    )
    forecast_period_cost: float | None
    forecast_over_budget: bool
    forecast_explanation: str | None


def period_length(start: datetime, period: str) -> timedelta:
    if period == "day":
        return timedelta(days=1)
    if period == "week":
        return timedelta(days=7)
    return timedelta(days=calendar.monthrange(start.year, start.month)[1])


class CostDetector(BaseDetector[CostParams]):
    kind: ClassVar[str] = "cost"
    # 2: no cost of zero for a window without compute figures; budget period in words.
    version: ClassVar[str] = "2"
    params_model: ClassVar[type[Params]] = CostParams

    def _window_cost(self, window: Window) -> WindowCost:
        p = self.params
        frame = window.frame
        rows = len(frame)
        measured = (
            pd.to_numeric(frame[p.compute_column], errors="coerce")
            if p.compute_column in frame
            else pd.Series(np.nan, index=frame.index)
        )
        compute = measured.fillna(0.0).to_numpy(float)
        detail = None
        status = Status.OK if rows >= p.min_rows else Status.INSUFFICIENT_DATA
        if p.price_per_compute_second is not None and rows and not measured.notna().any():
            # Priced by compute time, but nothing says how much time was spent.
            detail = f"no {p.compute_column} figures: the cost of this window is unknown"
            status = Status.INSUFFICIENT_DATA
        total = float(compute.sum()) * (p.price_per_compute_second or 0.0)
        total += rows / 1000 * (p.price_per_1k_predictions or 0.0)
        latency = (
            pd.to_numeric(frame[p.latency_column], errors="coerce").dropna().to_numpy(float)
            if p.latency_column in frame
            else np.array([])
        )
        percentiles = np.percentile(latency, [50, 95, 99]) if len(latency) else [None] * 3
        return WindowCost(
            kind=self.kind,
            version=self.version,
            status=status,
            detail=detail,
            rows=rows,
            total_cost=total,
            cost_per_prediction=total / rows if rows else 0.0,
            cost_per_1k_predictions=1000 * total / rows if rows else 0.0,
            compute_seconds=float(compute.sum()),
            latency_p50_ms=None if percentiles[0] is None else float(percentiles[0]),
            latency_p95_ms=None if percentiles[1] is None else float(percentiles[1]),
            latency_p99_ms=None if percentiles[2] is None else float(percentiles[2]),
        )

    def run(self, reference: Window, current: Window) -> CostResult:
        p = self.params
        now = self._window_cost(current)
        base = self._window_cost(reference)
        shift, shift_detail = None, None
        if now.status == Status.INSUFFICIENT_DATA:
            shift_detail = now.detail or f"fewer than {p.min_rows} rows in the window"
        elif len(reference) < p.min_rows:
            shift_detail = "the reference has no rows to compare with"
        elif base.status == Status.INSUFFICIENT_DATA:
            shift_detail = f"the reference: {base.detail}"
        elif base.cost_per_prediction > 0:
            shift = now.cost_per_prediction / base.cost_per_prediction - 1
        else:
            shift_detail = "the reference cost nothing per prediction"
        anomaly = shift is not None and abs(shift) > p.per_prediction_shift_threshold
        burn = forecast = window_days = period_days = None
        explanation = None
        over = False
        start, end = current.start, current.end
        if start is not None and end is not None and end > start:
            window_days = (end - start).total_seconds() / 86400
            period_days = period_length(start, p.budget_period).total_seconds() / 86400
        if p.budget is not None and now.status != Status.INSUFFICIENT_DATA:
            burn = now.total_cost / p.budget
            if window_days is not None and period_days is not None:
                forecast = now.total_cost / window_days * period_days
                over = forecast > p.budget
                explanation = (
                    f"The window spent {now.total_cost:.4g} in {window_days:.3g} days: "
                    f"{burn:.1%} of the {p.budget:.4g} budget per {p.budget_period}. At that "
                    f"rate a {period_days:.3g}-day {p.budget_period} costs {forecast:.4g}, "
                    f"{'over' if over else 'within'} the budget."
                )
        if now.status == Status.INSUFFICIENT_DATA:
            status = Status.INSUFFICIENT_DATA
        elif over:
            status = Status.ALERT
        elif anomaly:
            status = Status.WARNING
        else:
            status = Status.OK
        return CostResult(
            kind=self.kind,
            version=self.version,
            status=status,
            current=now,
            reference=base if len(reference) else None,
            per_prediction_shift=shift,
            shift_detail=shift_detail,
            anomaly=anomaly,
            budget=p.budget,
            budget_period=p.budget_period,
            budget_period_days=period_days,
            window_days=window_days,
            budget_burn=burn,
            forecast_period_cost=forecast,
            forecast_over_budget=over,
            forecast_explanation=explanation,
        )
