"""Verity's batched Kernel SHAP against shap.KernelExplainer on the same model and data.

    python -m benchmarks.explain --rows 200 --features 30

Speed: an MLP 30→128→64→1 (TorchScript), 100 background rows, the same ``nsamples``
for both (shap's default, 2·M + 2048). Verity explains ``--rows`` rows;
KernelExplainer, far slower, is timed on ``--peer-rows`` of them and its rate
reported per row. Accuracy: the same kind of MLP with 12 features, where exact
Shapley values come from enumerating all 4,096 coalitions; ``*_err`` is each method's
relative L2 error against them at the same ``nsamples``, ``exact_mode_err`` that of
Verity's exact mode against Shapley's formula evaluated independently in numpy.
Prints one JSON line last.
"""

from __future__ import annotations

import argparse
import math
import time
from itertools import combinations
from typing import Any

import numpy as np
import torch
from torch import nn

from backend.runtime import tune_allocator
from benchmarks.common import emit, machine
from detectors.explain.kernel_shap import exact_shapley, kernel_shap


def make_mlp(features: int, seed: int) -> Any:
    torch.manual_seed(seed)
    model = nn.Sequential(
        nn.Linear(features, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 1)
    )
    return torch.jit.script(model.eval())


def shap_explain(model: Any, rows: np.ndarray, background: np.ndarray, nsamples: int) -> np.ndarray:
    import shap

    def f(values: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            out: np.ndarray = model(torch.from_numpy(np.asarray(values, dtype=np.float32))).numpy()
            return out

    np.random.seed(0)
    explainer = shap.KernelExplainer(f, background)
    values = explainer.shap_values(rows, nsamples=nsamples, l1_reg=False, silent=True)
    return np.asarray(values).reshape(len(rows), -1)


def shapley_formula(model: Any, x: np.ndarray, background: np.ndarray) -> np.ndarray:
    """Exact Shapley values of one row, from the formula, one coalition at a time
    (in the background's dtype, which must be the model's)."""
    m = len(x)
    cache: dict[tuple[int, ...], float] = {}

    def v(subset: tuple[int, ...]) -> float:
        if subset not in cache:
            inputs = background.copy()
            inputs[:, list(subset)] = x[list(subset)]
            with torch.no_grad():
                cache[subset] = float(model(torch.from_numpy(inputs)).double().mean())
        return cache[subset]

    phi = np.zeros(m)
    for i in range(m):
        others = [j for j in range(m) if j != i]
        for size in range(m):
            weight = math.factorial(size) * math.factorial(m - size - 1) / math.factorial(m)
            for subset in combinations(others, size):
                phi[i] += weight * (v(tuple(sorted((*subset, i)))) - v(subset))
    return phi


def forward(model: Any) -> Any:
    return lambda inputs: model(inputs.float())


def relative_error(estimate: np.ndarray, exact: np.ndarray) -> float:
    return float(np.linalg.norm(estimate - exact) / np.linalg.norm(exact))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=200)
    parser.add_argument("--features", type=int, default=30)
    parser.add_argument("--peer-rows", type=int, default=10)
    parser.add_argument("--accuracy-rows", type=int, default=10)
    args = parser.parse_args()
    # As the scheduler does; both methods run in this process and share the setting.
    allocator_tuned = tune_allocator()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    rng = np.random.default_rng(0)

    # Speed.
    m = args.features
    nsamples = 2 * m + 2048
    model = make_mlp(m, seed=0).to(device)
    rows = rng.normal(size=(args.rows, m)).astype(np.float32)
    background = rng.normal(size=(100, m)).astype(np.float32)
    x = torch.from_numpy(rows).to(device)
    bg = torch.from_numpy(background).to(device)
    kernel_shap(forward(model), x[:2], bg, nsamples=nsamples)  # warm-up
    if device.type == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    kernel_shap(forward(model), x, bg, nsamples=nsamples)
    if device.type == "cuda":
        torch.cuda.synchronize()
    verity_rate = args.rows / (time.perf_counter() - started)
    cpu_model = make_mlp(m, seed=0)
    started = time.perf_counter()
    shap_explain(cpu_model, rows[: args.peer_rows], background, nsamples)
    peer_rate = args.peer_rows / (time.perf_counter() - started)

    # Accuracy at 12 features against exact Shapley values.
    m12 = 12
    model12 = make_mlp(m12, seed=1)
    rows12 = rng.normal(size=(args.accuracy_rows, m12)).astype(np.float32)
    background12 = rng.normal(size=(100, m12)).astype(np.float32)
    x12 = torch.from_numpy(rows12)
    bg12 = torch.from_numpy(background12)
    exact, _ = exact_shapley(forward(model12), x12, bg12)
    exact_np = exact.numpy()
    formula = np.array([shapley_formula(model12, r, background12) for r in rows12[:2]])
    sampled, _ = kernel_shap(forward(model12), x12, bg12, nsamples=2 * m12 + 2048)
    peer = shap_explain(model12, rows12, background12, 2 * m12 + 2048)
    emit(
        {
            "bench": "explain",
            "device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu",
            "rows": args.rows,
            "features": m,
            "nsamples": nsamples,
            "verity_rows_per_s": round(verity_rate, 2),
            "kernelexplainer_rows_per_s": round(peer_rate, 3),
            "speedup": round(verity_rate / peer_rate, 1),
            "verity_err": relative_error(sampled.numpy(), exact_np),
            "kernelexplainer_err": relative_error(peer, exact_np),
            "exact_mode_err": relative_error(exact_np[:2], formula),
            "allocator_tuned": allocator_tuned,
            **machine(),
        }
    )


if __name__ == "__main__":
    main()
