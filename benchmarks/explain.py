"""Verity's batched Kernel SHAP against shap.KernelExplainer on the same model and data.

    python -m benchmarks.explain --rows 200 --features 30

End to end (``e2e_*``): a 16-feature model with a 100-row background and 200 rows per
window, as real data has them, run by ``backend.runs.execute.execute`` from SQL (the
window and reference loaded, the artifact loaded, both windows explained, the run
stored): a first run, and a second that reuses the reference's importance (same
reference, artifact and params). KernelExplainer's time for the same rows (the
reference's too on a first run) is extrapolated from ``--peer-rows`` of them. Each runs
at its default ``nsamples`` (Verity's ``default_nsamples(16)`` = 1568, KernelExplainer's
2·M + 2048 = 2080); ``e2e_*_err`` are their errors against exact Shapley values on
4 of the rows, so the speedup is at equal accuracy when Verity's is no larger.

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
import time
from typing import Any

import numpy as np
import torch
from torch import nn

from backend.runtime import tune_allocator
from benchmarks.common import emit, machine
from detectors.explain.detector import default_nsamples
from detectors.explain.kernel_shap import exact_shapley, kernel_shap
from tests.support.oracles import shapley_formula


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


def forward(model: Any) -> Any:
    return lambda inputs: model(inputs.float())


def relative_error(estimate: np.ndarray, exact: np.ndarray) -> float:
    return float(np.linalg.norm(estimate - exact) / np.linalg.norm(exact))


E2E_FEATURES = 16
E2E_ROWS = 200
E2E_BACKGROUND = 100
E2E_ACCURACY_ROWS = 4


def end_to_end(peer_rows: int) -> dict[str, Any]:
    """The explain monitor's run from SQL, timed by part, against KernelExplainer."""
    import io
    import tempfile
    from datetime import UTC, datetime, timedelta
    from pathlib import Path

    from fastapi.testclient import TestClient

    from backend.config import Settings
    from backend.db import get_database
    from backend.main import create_app
    from backend.runs.execute import execute
    from benchmarks.common import BENCH_SECRET, BenchDatabase, bootstrap

    rng = np.random.default_rng(1)
    names = [f"x{i:02d}" for i in range(E2E_FEATURES)]
    start = datetime(2026, 10, 1, tzinfo=UTC)
    with tempfile.TemporaryDirectory(prefix="verity-explain-") as tmp:
        url = f"sqlite:///{tmp}/verity.db"
        token = bootstrap(BenchDatabase("sqlite", url, Path(tmp)))
        settings = Settings(database_url=url, secret_key=BENCH_SECRET, data_dir=Path(tmp))
        headers = {"Authorization": f"Bearer {token}"}
        model = make_mlp(E2E_FEATURES, seed=2)
        buffer = io.BytesIO()
        torch.jit.save(model, buffer)
        reference = rng.normal(size=(1000, E2E_FEATURES))
        current = rng.normal(0.3, size=(1000, E2E_FEATURES))
        with TestClient(create_app(settings)) as client:
            client.post(
                "/v1/models", json={"name": "e2e", "task": "regression"}, headers=headers
            ).raise_for_status()
            spec = {"version": "v1", "features": [{"name": n, "dtype": "numeric"} for n in names]}
            client.post("/v1/models/e2e/versions", json=spec, headers=headers).raise_for_status()
            client.put(
                "/v1/models/e2e/versions/v1/artifact",
                content=buffer.getvalue(),
                headers={**headers, "Content-Type": "application/octet-stream"},
            ).raise_for_status()
            csv = ",".join(names) + "\n" + "\n".join(",".join(map(str, r)) for r in reference)
            client.post(
                "/v1/models/e2e/versions/v1/references?name=training",
                content=csv,
                headers={**headers, "Content-Type": "text/csv"},
            ).raise_for_status()
            records = [
                {
                    "event_id": f"e{i}",
                    "model": "e2e",
                    "version": "v1",
                    "occurred_at": (start + timedelta(seconds=i)).isoformat(),
                    "features": dict(zip(names, row.tolist(), strict=True)),
                    "prediction": 0.0,
                }
                for i, row in enumerate(current)
            ]
            client.post(
                "/v1/predictions", json={"records": records}, headers=headers
            ).raise_for_status()
            monitor = client.post(
                "/v1/models/e2e/versions/v1/monitors",
                json={
                    "name": "explain",
                    "kind": "explain",
                    "params": {"max_rows": E2E_ROWS, "background_size": E2E_BACKGROUND},
                    "window": {"duration": "30d"},
                    "schedule": {"every": "1h"},
                },
                headers=headers,
            ).json()
        database = get_database(settings)
        ends = [start + timedelta(days=1), start + timedelta(days=1, hours=1)]
        timings = []
        for end in ends:
            started = time.perf_counter()
            run, _ = execute(database, settings, monitor["id"], end, trigger="manual")
            if run is None or run.status not in ("ok", "alert"):
                raise RuntimeError(f"the explain run failed: {run and run.error}")
            timings.append((time.perf_counter() - started, run.compute_seconds))
        database.dispose()
    (first_s, first_compute), (steady_s, steady_compute) = timings
    background = reference[:E2E_BACKGROUND].astype(np.float32)
    rows = current[:peer_rows].astype(np.float32)
    started = time.perf_counter()
    peer = shap_explain(model, rows, background, 2 * E2E_FEATURES + 2048)
    peer_per_row = (time.perf_counter() - started) / peer_rows
    # Each at its default: the speedup is at equal accuracy only if Verity's error
    # against exact Shapley values is no larger than KernelExplainer's.
    accuracy_rows = torch.from_numpy(rows[:E2E_ACCURACY_ROWS])
    exact, _ = exact_shapley(model, accuracy_rows, torch.from_numpy(background))
    verity, _ = kernel_shap(
        model,
        accuracy_rows,
        torch.from_numpy(background),
        nsamples=default_nsamples(E2E_FEATURES),
    )
    exact_np = exact.numpy()
    return {
        "e2e_features": E2E_FEATURES,
        "e2e_rows": E2E_ROWS,
        "e2e_background": E2E_BACKGROUND,
        "e2e_first_run_s": round(first_s, 2),
        "e2e_first_compute_s": round(first_compute, 2),
        "e2e_steady_run_s": round(steady_s, 2),
        "e2e_steady_compute_s": round(steady_compute, 2),
        "e2e_verity_nsamples": default_nsamples(E2E_FEATURES),
        "e2e_kernelexplainer_nsamples": 2 * E2E_FEATURES + 2048,
        "e2e_verity_err": relative_error(verity.numpy(), exact_np),
        "e2e_kernelexplainer_err": relative_error(peer[:E2E_ACCURACY_ROWS], exact_np),
        "e2e_kernelexplainer_s_per_row": round(peer_per_row, 4),
        # A first run explains the window's rows and the reference's; KernelExplainer
        # would too. A steady run reuses the reference's importance.
        "e2e_speedup_first_run": round(2 * E2E_ROWS * peer_per_row / first_s, 1),
        "e2e_speedup_steady_run": round(E2E_ROWS * peer_per_row / steady_s, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=200)
    parser.add_argument("--features", type=int, default=30)
    parser.add_argument("--peer-rows", type=int, default=10)
    parser.add_argument("--accuracy-rows", type=int, default=10)
    parser.add_argument("--no-end-to-end", action="store_true", help="skip the e2e_* case")
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
            **(end_to_end(args.peer_rows) if not args.no_end_to_end else {}),
            "allocator_tuned": allocator_tuned,
            **machine(),
        }
    )


if __name__ == "__main__":
    main()
