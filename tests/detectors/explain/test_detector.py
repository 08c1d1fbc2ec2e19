"""The explain detector on models whose SHAP values are known in closed form."""

import numpy as np
import pandas as pd
import pytest
import torch
from pydantic import ValidationError
from torch import nn

from detectors.base import ColumnKind, ColumnSpec, Status, Window
from detectors.explain.detector import ExplainDetector, ExplainParams

WEIGHTS = [3.0, 1.0, -0.5]
COLUMNS = (
    ColumnSpec("a", ColumnKind.NUMERIC),
    ColumnSpec("b", ColumnKind.NUMERIC),
    ColumnSpec("color", ColumnKind.CATEGORICAL, categories=("red", "green", "blue")),
    ColumnSpec("group", ColumnKind.CATEGORICAL, sensitive=True, model_input=False),
)


def linear_model():
    layer = nn.Linear(3, 1)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([WEIGHTS]))
        layer.bias.fill_(0.25)
    return torch.jit.script(layer.eval())


def window(n, seed, a_scale=1.0, b_scale=1.0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "a": rng.normal(0, a_scale, n),
            "b": rng.normal(0, b_scale, n),
            "color": rng.choice(["red", "green", "blue"], n),
            "group": rng.choice(["x", "y"], n),
        },
        index=[f"evt-{seed}-{i}" for i in range(n)],
    )
    return Window(frame, COLUMNS)


@pytest.mark.parametrize("method", ["exact", "kernel"])
@pytest.mark.parametrize("background", ["sample", "kmeans"])
def test_linear_model_attributions_are_exact(method, background):
    reference, current = window(400, 1), window(300, 2)
    detector = ExplainDetector(
        ExplainParams(
            method=method, background=background, background_size=50, max_rows=20, nsamples=64
        )
    ).with_model(linear_model())
    result = detector.run(reference, current)
    assert result.features == ["a", "b", "color"]
    assert result.additivity_max_error < 1e-5
    codes = {"red": 0.0, "green": 1.0, "blue": 2.0}
    for row in result.rows:
        values = current.frame.loc[row.row]
        x = np.array([values["a"], values["b"], codes[values["color"]]])
        # phi_i = w_i (x_i - E_background[x_i]); base = f(E[x]).
        implied_mean = x - np.array([row.attributions[n] for n in result.features]) / WEIGHTS
        assert row.base_value == pytest.approx(
            float(np.dot(WEIGHTS, implied_mean) + 0.25), abs=1e-5
        )
        assert row.prediction == pytest.approx(float(np.dot(WEIGHTS, x) + 0.25), abs=1e-5)
    first = result.rows[0]
    # The implied background mean is the same for every row.
    means = [np.array([r.attributions[n] for n in result.features]) for r in result.rows[:2]]
    xs = [current.frame.loc[r.row] for r in result.rows[:2]]
    deltas = [
        np.array([x["a"], x["b"], codes[x["color"]]]) - m / WEIGHTS
        for x, m in zip(xs, means, strict=True)
    ]
    np.testing.assert_allclose(deltas[0], deltas[1], atol=1e-6)
    assert first.row.startswith("evt-2-")


def test_importance_and_attribution_drift():
    reference = window(500, 3, a_scale=1.0, b_scale=1.0)
    stable = window(500, 4, a_scale=1.0, b_scale=1.0)
    shifted = window(500, 5, a_scale=0.05, b_scale=6.0)
    detector = ExplainDetector(
        ExplainParams(background_size=50, max_rows=60, nsamples=64)
    ).with_model(linear_model())
    ok = detector.run(reference, stable)
    assert max(ok.importance.items(), key=lambda kv: kv[1])[0] == "a"
    assert ok.status == Status.OK and ok.importance_shift < 0.1
    drifted = detector.run(reference, shifted)
    assert max(drifted.importance.items(), key=lambda kv: kv[1])[0] == "b"
    assert drifted.status == Status.ALERT and drifted.importance_shift > 0.3


def test_gradient_method_approximates_the_closed_form():
    """Expected gradients of a linear model: w_i (x_i - E[b_i]), estimated by sampling
    one background row per gradient sample; within 4 standard errors."""
    reference, current = window(400, 8), window(100, 9)
    nsamples = 4000
    result = (
        ExplainDetector(
            ExplainParams(method="gradient", background_size=200, max_rows=5, nsamples=nsamples)
        )
        .with_model(linear_model())
        .run(reference, current)
    )
    codes = {"red": 0.0, "green": 1.0, "blue": 2.0}
    ref = reference.frame
    ref_matrix = np.column_stack([ref["a"], ref["b"], ref["color"].map(codes)])
    spread = ref_matrix.std(axis=0)
    for row in result.rows:
        values = current.frame.loc[row.row]
        x = np.array([values["a"], values["b"], codes[values["color"]]])
        expected = np.array(WEIGHTS) * (x - ref_matrix.mean(axis=0))
        got = np.array([row.attributions[n] for n in result.features])
        # Background-sampling error (200 of 400 rows) plus gradient-sampling error.
        tolerance = 4 * np.abs(WEIGHTS) * spread * (1 / np.sqrt(200) + 1 / np.sqrt(nsamples))
        assert np.all(np.abs(got - expected) <= tolerance), (got, expected, tolerance)


def test_gradient_method_refuses_a_kmeans_background():
    with pytest.raises(ValidationError, match="sampled background"):
        ExplainParams(method="gradient", background="kmeans")


def test_missing_values_take_the_reference_mean_and_no_model_is_insufficient():
    reference, current = window(200, 6), window(50, 7)
    current.frame.loc[current.frame.index[:10], "a"] = np.nan
    result = (
        ExplainDetector(ExplainParams(max_rows=50, nsamples=64))
        .with_model(linear_model())
        .run(reference, current)
    )
    assert result.status != Status.INSUFFICIENT_DATA
    assert all(np.isfinite(list(r.attributions.values())).all() for r in result.rows)
    assert (
        ExplainDetector(ExplainParams()).run(reference, current).status == Status.INSUFFICIENT_DATA
    )
