"""What predictions cost, and whether the budget holds.

Cost of a window: ``compute_seconds × price_per_compute_second`` summed over rows,
plus ``price_per_1k_predictions`` per thousand rows. Latency percentiles use
numpy's linear interpolation. The budget forecast extrapolates the current window's
spend rate (its ``start``..``end``, given by the caller) to the whole budget period.
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
    anomaly: bool
    budget: float | None
    budget_burn: float | None = Field(description="Share of the budget the window spent.")
    forecast_period_cost: float | None
    forecast_over_budget: bool


def period_length(start: datetime, period: str) -> timedelta:
    if period == "day":
        return timedelta(days=1)
    if period == "week":
        return timedelta(days=7)
    return timedelta(days=calendar.monthrange(start.year, start.month)[1])


class CostDetector(BaseDetector[CostParams]):
    kind: ClassVar[str] = "cost"
    version: ClassVar[str] = "1"
    params_model: ClassVar[type[Params]] = CostParams

    def _window_cost(self, window: Window) -> WindowCost:
        p = self.params
        frame = window.frame
        rows = len(frame)
        compute = (
            pd.to_numeric(frame[p.compute_column], errors="coerce").fillna(0.0).to_numpy(float)
            if p.compute_column in frame
            else np.zeros(rows)
        )
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
            status=Status.OK if rows >= p.min_rows else Status.INSUFFICIENT_DATA,
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
        base = self._window_cost(reference) if len(reference) >= p.min_rows else None
        shift = None
        if base is not None and base.cost_per_prediction > 0 and now.rows >= p.min_rows:
            shift = now.cost_per_prediction / base.cost_per_prediction - 1
        anomaly = shift is not None and abs(shift) > p.per_prediction_shift_threshold
        burn = forecast = None
        over = False
        if p.budget is not None:
            burn = now.total_cost / p.budget
            if (
                current.start is not None
                and current.end is not None
                and current.end > current.start
            ):
                elapsed = (current.end - current.start).total_seconds()
                length = period_length(current.start, p.budget_period).total_seconds()
                forecast = now.total_cost / elapsed * length
                over = forecast > p.budget
        if now.rows < p.min_rows:
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
            reference=base,
            per_prediction_shift=shift,
            anomaly=anomaly,
            budget=p.budget,
            budget_burn=burn,
            forecast_period_cost=forecast,
            forecast_over_budget=over,
        )
