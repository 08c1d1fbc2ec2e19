"""Exact mode equals Shapley values by definition; sampled mode is at least as
accurate as shap.KernelExplainer(l1_reg=False) with the same number of samples."""

import numpy as np
import pytest
import shap
import torch
from torch import nn

from detectors.explain.kernel_shap import exact_shapley, kernel_shap
from tests.support.oracles import shapley_formula


def mlp(m, seed=0):
    torch.manual_seed(seed)
    model = nn.Sequential(
        nn.Linear(m, 32), nn.Tanh(), nn.Linear(32, 16), nn.ReLU(), nn.Linear(16, 1)
    ).double()
    return torch.jit.script(model.eval())


def data(m, n, b, seed=0):
    rng = np.random.default_rng(seed)
    return torch.from_numpy(rng.normal(size=(n, m))), torch.from_numpy(rng.normal(size=(b, m)))


def test_exact_mode_equals_shapleys_formula():
    model = mlp(6)
    x, background = data(6, 3, 20)
    phi, base = exact_shapley(model, x, background)
    for row in range(3):
        expected = shapley_formula(model, x[row].numpy(), background.numpy())
        np.testing.assert_allclose(phi[row].numpy(), expected, rtol=1e-5, atol=1e-10)
    with torch.no_grad():
        f_x = model(x).squeeze(1).double()
        expected_base = model(background).mean().double()
    # Additivity: attributions sum to f(x) - E[f(background)].
    torch.testing.assert_close(phi.sum(1), f_x - expected_base, rtol=1e-9, atol=1e-9)
    assert float(base[0]) == pytest.approx(float(expected_base))


def relative_error(estimate, exact):
    return float(np.linalg.norm(estimate - exact) / np.linalg.norm(exact))


@pytest.mark.parametrize("nsamples", [200, 600])
def test_sampled_mode_is_at_least_as_accurate_as_shap_kernel_explainer(nsamples):
    m = 12
    model = mlp(m, seed=1)
    x, background = data(m, 8, 50, seed=2)
    exact, _ = exact_shapley(model, x, background)
    ours, _ = kernel_shap(model, x, background, nsamples=nsamples, seed=0)

    def f(values):
        with torch.no_grad():
            return model(torch.from_numpy(np.asarray(values, dtype=np.float64))).numpy()

    np.random.seed(0)
    explainer = shap.KernelExplainer(f, background.numpy())
    theirs = np.array(
        explainer.shap_values(x.numpy(), nsamples=nsamples, l1_reg=False, silent=True)
    )
    theirs = theirs.reshape(x.shape[0], m)
    our_error = relative_error(ours.numpy(), exact.numpy())
    their_error = relative_error(theirs, exact.numpy())
    assert our_error <= their_error, (our_error, their_error)
    # Both satisfy additivity exactly (the efficiency constraint).
    torch.testing.assert_close(ours.sum(1), exact.sum(1), rtol=1e-9, atol=1e-9)


def test_sampled_mode_is_seeded():
    model = mlp(8)
    x, background = data(8, 2, 10)
    first, _ = kernel_shap(model, x, background, nsamples=100, seed=5)
    second, _ = kernel_shap(model, x, background, nsamples=100, seed=5)
    torch.testing.assert_close(first, second)
