"""The demo: a credit-risk model with a small torch MLP, reference data, and a day of
synthetic traffic posted through the API, with drift in the last hours and a group
the model treats worse."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import numpy as np
import pandas as pd
from verity_sdk import VerityClient

from backend import clock
from backend.catalog.artifacts import load_model

MODEL = "credit-risk"
VERSION = "1"
NUMERIC = [
    "income",
    "debt_ratio",
    "age",
    "credit_lines",
    "late_payments",
    "utilization",
    "tenure_months",
    "loan_amount",
]
SENSITIVE = {"gender": ["F", "M"], "age_band": ["<30", "30-50", ">50"]}


def schema() -> dict[str, Any]:
    features: list[dict[str, Any]] = [{"name": n, "dtype": "numeric"} for n in NUMERIC]
    features += [
        {
            "name": n,
            "dtype": "categorical",
            "sensitive": True,
            "model_input": False,
            "categories": c,
        }
        for n, c in SENSITIVE.items()
    ]
    return {
        "version": VERSION,
        "features": features,
        "class_labels": [0, 1],
        "positive_class": 1,
        "cost_profile": {"price_per_cpu_second": 0.00004, "budget": 50.0, "budget_period": "month"},
    }


def synthetic_rows(n: int, rng: np.random.Generator, *, income_shift: float = 0.0) -> pd.DataFrame:
    gender = rng.choice(SENSITIVE["gender"], size=n)
    age = rng.normal(42, 12, n).clip(18, 90)
    age_band = np.where(age < 30, "<30", np.where(age <= 50, "30-50", ">50"))
    # Income is lower for one group in the data, so a model on income scores it worse.
    income = rng.lognormal(10.8, 0.45, n) * np.where(gender == "F", 0.82, 1.0) * (1 + income_shift)
    frame = pd.DataFrame(
        {
            "income": income.round(2),
            "debt_ratio": rng.beta(2, 5, n).round(4),
            "age": age.round(1),
            "credit_lines": rng.poisson(4, n).astype(float),
            "late_payments": rng.poisson(0.6, n).astype(float),
            "utilization": rng.beta(2, 3, n).round(4),
            "tenure_months": rng.gamma(3, 20, n).round(1),
            "loan_amount": rng.lognormal(9.5, 0.6, n).round(2),
            "gender": gender,
            "age_band": age_band,
        }
    )
    return frame


def _standardization(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    x = frame[NUMERIC].to_numpy(dtype=np.float32)
    x[:, 0] = np.log(x[:, 0])
    x[:, 7] = np.log(x[:, 7])
    return x.mean(axis=0), x.std(axis=0) + 1e-6


def true_default_probability(frame: pd.DataFrame) -> np.ndarray:
    logit = (
        -1.0
        - 1.6 * (np.log(frame["income"]) - 10.8)
        + 3.0 * (frame["debt_ratio"] - 0.28)
        + 0.8 * frame["late_payments"]
        + 1.5 * (frame["utilization"] - 0.4)
        - 0.01 * (frame["tenure_months"] - 60)
        + 0.5 * (np.log(frame["loan_amount"]) - 9.5)
    )
    return 1 / (1 + np.exp(-logit.to_numpy()))


@dataclass
class DemoModel:
    artifact: bytes
    mean: np.ndarray
    std: np.ndarray


def train_model(seed: int = 7) -> DemoModel:
    """A 8→16→1 MLP on standardized inputs, baked into one torch.export program."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    frame = synthetic_rows(4000, rng)
    y = (rng.random(len(frame)) < true_default_probability(frame)).astype(np.float32)
    mean, std = _standardization(frame)

    class CreditRisk(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            # Frozen parameters rather than buffers: typed as tensors for mypy too.
            self.mean = nn.Parameter(torch.tensor(mean), requires_grad=False)
            self.std = nn.Parameter(torch.tensor(std), requires_grad=False)
            self.net = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 1))

        def forward(self, features: torch.Tensor) -> torch.Tensor:
            logged = features.clone()
            logged[:, 0] = torch.log(features[:, 0].clamp(min=1.0))
            logged[:, 7] = torch.log(features[:, 7].clamp(min=1.0))
            return torch.sigmoid(self.net((logged - self.mean) / self.std))

    model = CreditRisk()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    inputs = torch.tensor(frame[NUMERIC].to_numpy(dtype=np.float32))
    target = torch.tensor(y).unsqueeze(1)
    loss_fn = nn.BCELoss()
    for _ in range(300):
        optimizer.zero_grad()
        loss = loss_fn(model(inputs), target)
        loss.backward()
        optimizer.step()
    model.eval()
    program = torch.export.export(
        model, (torch.zeros(2, len(NUMERIC)),), dynamic_shapes=({0: torch.export.Dim("batch")},)
    )
    buffer = io.BytesIO()
    torch.export.save(program, buffer)
    return DemoModel(artifact=buffer.getvalue(), mean=mean, std=std)


def score(model_bytes: bytes, frame: pd.DataFrame) -> np.ndarray:
    import torch

    module = load_model(model_bytes)
    with torch.no_grad():
        out = module(torch.tensor(frame[NUMERIC].to_numpy(dtype=np.float32)))
    return out.squeeze(1).numpy().astype(float)


def _check(response: httpx.Response, *ok: int) -> httpx.Response:
    if response.status_code not in ok:
        raise RuntimeError(
            f"{response.request.method} {response.request.url}: "
            f"{response.status_code} {response.text[:500]}"
        )
    return response


def run_demo(
    base_url: str,
    api_key: str,
    *,
    rows: int = 20_000,
    seed: int = 11,
    batch_size: int = 1000,
    client: httpx.Client | None = None,
) -> dict[str, Any]:
    """Register the demo model (once) and post ``rows`` predictions and their labels."""
    if client is None:
        with httpx.Client(base_url=base_url, timeout=60) as own_client:
            return run_demo(
                base_url, api_key, rows=rows, seed=seed, batch_size=batch_size, client=own_client
            )
    rng = np.random.default_rng(seed)
    client.headers["Authorization"] = f"Bearer {api_key}"
    existing = client.get(f"/v1/models/{MODEL}")
    if existing.status_code == 404:
        _check(
            client.post(
                "/v1/models",
                json={
                    "name": MODEL,
                    "task": "binary",
                    "description": "Demo: probability of default on a consumer loan.",
                },
            ),
            201,
        )
    _check(existing, 200, 404)
    version = client.get(f"/v1/models/{MODEL}/versions/{VERSION}")
    if version.status_code == 404:
        _check(client.post(f"/v1/models/{MODEL}/versions", json=schema()), 201)
    model = train_model()
    _check(
        client.put(
            f"/v1/models/{MODEL}/versions/{VERSION}/artifact",
            content=model.artifact,
            headers={"Content-Type": "application/octet-stream"},
        ),
        200,
        201,
    )
    reference = synthetic_rows(5000, rng)
    reference["score"] = score(model.artifact, reference)
    reference["prediction"] = (reference["score"] >= 0.5).astype(int)
    reference["label"] = (rng.random(len(reference)) < true_default_probability(reference)).astype(
        int
    )
    _check(
        client.post(
            f"/v1/models/{MODEL}/versions/{VERSION}/references",
            params={"name": "training-sample"},
            content=reference.to_csv(index=False).encode(),
            headers={"Content-Type": "text/csv"},
        ),
        200,
        201,
    )

    now = clock.now().replace(microsecond=0)
    start = now - timedelta(hours=24)
    drifted = rows // 4
    traffic = pd.concat(
        [synthetic_rows(rows - drifted, rng), synthetic_rows(drifted, rng, income_shift=-0.35)],
        ignore_index=True,
    )
    scores = score(model.artifact, traffic)
    truth = (rng.random(rows) < true_default_probability(traffic)).astype(int)
    offsets = np.sort(rng.uniform(0, 24 * 3600, rows))
    run_tag = f"demo-{int(now.timestamp())}"
    # Traffic goes through the SDK, as a model server's would.
    sdk = VerityClient(base_url, api_key, MODEL, VERSION, batch_size=batch_size, max_attempts=10)
    for i in range(rows):
        row = traffic.iloc[i]
        sdk.log(
            {**{n: float(row[n]) for n in NUMERIC}, **{n: str(row[n]) for n in SENSITIVE}},
            int(scores[i] >= 0.5),
            score=float(scores[i]),
            latency_ms=float(abs(rng.normal(4.0, 1.2))),
            compute_seconds=float(abs(rng.normal(0.003, 0.0008))),
            event_id=f"{run_tag}-{i}",
            occurred_at=start + timedelta(seconds=float(offsets[i])),
            tags={"source": "demo"},
        )
    labelled = [i for i in range(rows) if rng.random() < 0.7]
    for i in labelled:
        sdk.log_label(f"{run_tag}-{i}", int(truth[i]))
    if not sdk.flush(timeout=300):
        raise RuntimeError(f"the demo traffic was not all delivered: {sdk.stats}")
    sdk.close()
    if sdk.stats.dropped:
        raise RuntimeError(f"the demo traffic was not all stored: {sdk.stats}")
    stored = sdk.stats.delivered - len(labelled)
    monitors = _check(
        client.post(f"/v1/models/{MODEL}/versions/{VERSION}/monitors:default"), 201
    ).json()
    return {
        "model": MODEL,
        "version": VERSION,
        "predictions": stored,
        "labels": len(labelled),
        "monitors": [m["name"] for m in monitors["created"]],
    }
