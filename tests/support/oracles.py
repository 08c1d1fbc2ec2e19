"""The peer libraries as oracles: the same statistics computed their way, for the
tests that check Verity's values and for the benchmarks that time both."""

from __future__ import annotations

import math
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd
import torch

from detectors.base import ColumnKind, ColumnSpec, Window


def fairlearn_metrics() -> dict[str, Any]:
    """The six group metrics, as fairlearn and scikit-learn define them."""
    from fairlearn.metrics import (
        false_negative_rate,
        false_positive_rate,
        selection_rate,
        true_positive_rate,
    )
    from sklearn.metrics import accuracy_score, precision_score

    return {
        "selection_rate": selection_rate,
        "accuracy": accuracy_score,
        "tpr": true_positive_rate,
        "fpr": false_positive_rate,
        "fnr": false_negative_rate,
        "precision": lambda y, p: precision_score(y, p, zero_division=0),
    }


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


def make_windows(rows: int, features: int, seed: int = 0) -> tuple[Window, Window]:
    rng = np.random.default_rng(seed)
    n_categorical = max(1, features // 5)
    specs: list[ColumnSpec] = []
    reference: dict[str, np.ndarray] = {}
    current: dict[str, np.ndarray] = {}
    for i in range(features):
        if i < n_categorical:
            name = f"cat_{i:02d}"
            cats = np.array([f"v{k}" for k in range(3 + i % 5)])
            specs.append(ColumnSpec(name, ColumnKind.CATEGORICAL))
            reference[name] = rng.choice(cats, rows)
            p = (
                np.full(len(cats), 1 / len(cats))
                if i % 2
                else np.linspace(1, 2, len(cats)) / np.linspace(1, 2, len(cats)).sum()
            )
            current[name] = rng.choice(cats, rows, p=p)
        else:
            name = f"num_{i:02d}"
            specs.append(ColumnSpec(name, ColumnKind.NUMERIC))
            reference[name] = rng.normal(0, 1, rows)
            shift = 0.3 if i % 4 == 0 else 0.0
            current[name] = rng.normal(shift, 1, rows)
    columns = tuple(specs)
    return Window(pd.DataFrame(reference), columns), Window(pd.DataFrame(current), columns)


def run_evidently(reference: Window, current: Window) -> dict[str, float]:
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    definition = DataDefinition(
        numerical_columns=[c.name for c in reference.columns if c.kind == ColumnKind.NUMERIC],
        categorical_columns=[c.name for c in reference.columns if c.kind == ColumnKind.CATEGORICAL],
    )
    snapshot = Report([DataDriftPreset()]).run(
        Dataset.from_pandas(current.frame, data_definition=definition),
        Dataset.from_pandas(reference.frame, data_definition=definition),
    )
    scores = {}
    for metric in snapshot.dict()["metrics"]:
        config = metric.get("config", {})
        if config.get("type", "").endswith("ValueDrift"):
            scores[config["column"]] = float(metric["value"])
    return scores
