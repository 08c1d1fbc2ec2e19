from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from detectors.base import Status, Window
from detectors.cost.detector import CostDetector, CostParams


def _window(n, compute=0.002, seed=0, start=None, end=None):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"latency_ms": rng.gamma(2, 3, n), "compute_seconds": np.full(n, compute)})
    return Window(frame, (), start=start, end=end)


def test_window_cost_and_latency_percentiles():
    current = _window(10_000)
    result = CostDetector(
        CostParams(price_per_compute_second=0.05, price_per_1k_predictions=0.2)
    ).run(current, current)
    expected_total = 10_000 * 0.002 * 0.05 + 10 * 0.2
    assert result.current.total_cost == pytest.approx(expected_total)
    assert result.current.cost_per_1k_predictions == pytest.approx(expected_total / 10)
    p50, p95, p99 = np.percentile(current.frame["latency_ms"], [50, 95, 99])
    assert (
        result.current.latency_p50_ms,
        result.current.latency_p95_ms,
        result.current.latency_p99_ms,
    ) == pytest.approx((p50, p95, p99))
    assert result.per_prediction_shift == pytest.approx(0.0) and not result.anomaly


def test_a_cost_per_prediction_shift_is_an_anomaly():
    result = CostDetector(CostParams(price_per_compute_second=1.0)).run(
        _window(1000), _window(1000, compute=0.003)
    )
    assert result.per_prediction_shift == pytest.approx(0.5)
    assert result.anomaly and result.status == Status.WARNING


def test_budget_forecast_extrapolates_the_spend_rate_to_the_period():
    start = datetime(2026, 11, 1, tzinfo=UTC)
    current = _window(10_000, start=start, end=start + timedelta(days=3))
    params = CostParams(price_per_1k_predictions=1.0, budget=50.0, budget_period="month")
    result = CostDetector(params).run(current, current)
    assert result.budget_burn == pytest.approx(10 / 50)
    assert result.forecast_period_cost == pytest.approx(10 / 3 * 30)
    assert result.forecast_over_budget and result.status == Status.ALERT
    relaxed = CostDetector(params.model_copy(update={"budget": 200.0})).run(current, current)
    assert not relaxed.forecast_over_budget and relaxed.status == Status.OK


def test_empty_window_is_insufficient_and_a_price_is_required():
    result = CostDetector(CostParams(price_per_1k_predictions=1.0)).run(_window(10), _window(0))
    assert result.status == Status.INSUFFICIENT_DATA
    with pytest.raises(ValidationError, match="price_per_compute_second or price_per_1k"):
        CostParams()
