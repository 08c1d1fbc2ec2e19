"""A window's predictions, scores and labels as arrays the metrics take: class
indices for classifiers (``-1`` where a row has no label), floats for regression."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from detectors.base import Window


def as_text(value: Any) -> str | None:
    """1, 1.0 and "1" are one class; True is "true"."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@dataclass(frozen=True)
class ClassOutputs:
    classes: tuple[str, ...]
    positive: int | None  # binary: the positive class's index
    y_pred: np.ndarray  # class index per row, -1 when missing
    y_true: np.ndarray  # class index per row, -1 when unlabelled
    proba: np.ndarray | None  # (rows, classes), NaN rows when not logged

    @property
    def labeled(self) -> np.ndarray:
        return self.y_true >= 0


def _encode(values: pd.Series, classes: list[str]) -> np.ndarray:
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    lookup = []
    for unique in uniques:
        text = as_text(unique)
        if text is None:
            lookup.append(-1)
            continue
        if text not in classes:
            classes.append(text)  # a value the version did not declare still counts
        lookup.append(classes.index(text))
    table = np.array([*lookup, -1], dtype=np.int64)
    return table[codes]


def class_outputs(window: Window, threshold: float | None = None) -> ClassOutputs:
    classes = list(window.classes or ())
    if window.task == "binary" and not classes:
        classes = ["0", "1"]
    frame = window.frame
    positive = None
    if window.task == "binary":
        positive_text = window.positive_class or classes[-1]
        if positive_text not in classes:
            classes.append(positive_text)
        positive = classes.index(positive_text)
    assert window.prediction is not None
    y_pred = _encode(frame[window.prediction], classes)
    y_true = (
        _encode(frame[window.label], classes)
        if window.label is not None and window.label in frame
        else np.full(len(frame), -1, dtype=np.int64)
    )
    proba = None
    if window.task == "binary" and window.score is not None and window.score in frame:
        score = frame[window.score].to_numpy(dtype=np.float64)
        proba = np.zeros((len(frame), len(classes)))
        proba[:, positive] = score
        negatives = [i for i in range(len(classes)) if i != positive]
        proba[:, negatives[0]] = 1 - score
        if threshold is not None:
            assert positive is not None
            logged = ~np.isnan(score)
            y_pred = np.where(logged, np.where(score >= threshold, positive, negatives[0]), y_pred)
    elif window.probabilities and all(c in frame for c in window.probabilities):
        proba = np.column_stack([frame[c].to_numpy(dtype=np.float64) for c in window.probabilities])
        if proba.shape[1] < len(classes):  # undeclared classes have no probability
            proba = np.pad(proba, ((0, 0), (0, len(classes) - proba.shape[1])))
    return ClassOutputs(tuple(classes), positive, y_pred, y_true, proba)


def regression_outputs(window: Window) -> tuple[np.ndarray, np.ndarray]:
    """Predictions and labels as float64 (NaN where missing)."""
    assert window.prediction is not None
    frame = window.frame
    y_pred = pd.to_numeric(frame[window.prediction], errors="coerce").to_numpy(dtype=np.float64)
    if window.label is None or window.label not in frame:
        return y_pred, np.full(len(frame), np.nan)
    y_true = pd.to_numeric(frame[window.label], errors="coerce").to_numpy(dtype=np.float64)
    return y_pred, y_true
