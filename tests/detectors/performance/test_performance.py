"""The performance detector against scikit-learn's metrics, the oracle."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as sk
from sklearn.calibration import calibration_curve

from detectors.base import Status, Window
from detectors.performance.detector import PerformanceDetector, PerformanceParams

TOL = 1e-12


def binary_window(rows: int, seed: int, *, ties: bool = False, labeled: float = 1.0) -> Window:
    rng = np.random.default_rng(seed)
    label = rng.integers(0, 2, rows)
    score = np.clip(0.35 * label + rng.uniform(0, 0.65, rows), 0, 1)
    if ties:
        score = np.round(score, 1)  # many equal scores
    prediction = (score >= 0.5).astype(int)
    labels = pd.Series(label, dtype=object)
    labels[rng.uniform(size=rows) >= labeled] = None
    frame = pd.DataFrame({"prediction": prediction, "score": score, "label": labels})
    return Window(
        frame=frame,
        columns=(),
        prediction="prediction",
        score="score",
        label="label",
        task="binary",
        classes=("0", "1"),
        positive_class="1",
    )


def multiclass_window(rows: int, seed: int) -> Window:
    rng = np.random.default_rng(seed)
    classes = ["a", "b", "c"]
    label = rng.integers(0, 3, rows)
    logits = rng.normal(size=(rows, 3))
    logits[np.arange(rows), label] += 1.2
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    frame = pd.DataFrame(
        {
            "prediction": [classes[i] for i in proba.argmax(axis=1)],
            "label": [classes[i] for i in label],
            **{f"proba:{c}": proba[:, i] for i, c in enumerate(classes)},
        }
    )
    return Window(
        frame=frame,
        columns=(),
        prediction="prediction",
        label="label",
        task="multiclass",
        classes=tuple(classes),
        probabilities=tuple(f"proba:{c}" for c in classes),
    )


def regression_window(rows: int, seed: int, shift: float = 0.0) -> Window:
    rng = np.random.default_rng(seed)
    truth = rng.normal(10, 3, rows)
    frame = pd.DataFrame(
        {"prediction": truth + rng.normal(shift, 1, rows), "label": truth.astype(object)}
    )
    return Window(
        frame=frame, columns=(), prediction="prediction", label="label", task="regression"
    )


def run(reference: Window, current: Window, **params: object) -> dict:
    detector = PerformanceDetector(PerformanceParams.model_validate(params))
    return detector.run(reference, current).model_dump()


@pytest.mark.parametrize("ties", [False, True])
def test_binary_metrics_equal_sklearn(ties: bool) -> None:
    current = binary_window(5000, 1, ties=ties)
    result = run(binary_window(5000, 2), current)
    y = current.frame["label"].astype(int).to_numpy()
    pred = current.frame["prediction"].to_numpy()
    score = current.frame["score"].to_numpy()
    expected = {
        "accuracy": sk.accuracy_score(y, pred),
        "balanced_accuracy": sk.balanced_accuracy_score(y, pred),
        "precision": sk.precision_score(y, pred),
        "recall": sk.recall_score(y, pred),
        # Specificity is the negative class's recall.
        "specificity": sk.recall_score(y, pred, pos_label=0),
        "f1": sk.f1_score(y, pred),
        "precision_macro": sk.precision_score(y, pred, average="macro"),
        "recall_weighted": sk.recall_score(y, pred, average="weighted"),
        "f1_weighted": sk.f1_score(y, pred, average="weighted"),
        "roc_auc": sk.roc_auc_score(y, score),
        "pr_auc": sk.average_precision_score(y, score),
        "log_loss": sk.log_loss(y, score),
        "brier": sk.brier_score_loss(y, score),
    }
    for name, value in expected.items():
        assert result["metrics"][name] == pytest.approx(value, abs=TOL), name
    assert result["confusion_matrix"]["matrix"] == sk.confusion_matrix(y, pred).tolist()
    observed, predicted = calibration_curve(y, score, n_bins=10, strategy="uniform")
    bins = result["reliability"]
    assert [b["fraction_positive"] for b in bins] == pytest.approx(observed, abs=TOL)
    assert [b["mean_predicted"] for b in bins] == pytest.approx(predicted, abs=TOL)
    counts = np.array([b["count"] for b in bins])
    ece = float(np.sum(counts / counts.sum() * np.abs(observed - predicted)))
    assert result["metrics"]["ece"] == pytest.approx(ece, abs=TOL)
    for name in ("accuracy", "f1", "roc_auc", "log_loss", "brier"):
        interval = result["intervals"][name]
        assert interval["low"] <= result["metrics"][name] <= interval["high"], name


def test_threshold_param_predicts_from_scores() -> None:
    current = binary_window(3000, 3)
    result = run(current, current, threshold=0.7)
    y = current.frame["label"].astype(int).to_numpy()
    pred = (current.frame["score"].to_numpy() >= 0.7).astype(int)
    assert result["metrics"]["f1"] == pytest.approx(sk.f1_score(y, pred), abs=TOL)
    assert result["metrics"]["accuracy"] == pytest.approx(sk.accuracy_score(y, pred), abs=TOL)


def test_multiclass_metrics_equal_sklearn() -> None:
    current = multiclass_window(6000, 4)
    result = run(multiclass_window(6000, 5), current)
    frame = current.frame
    y, pred = frame["label"], frame["prediction"]
    proba = frame[list(current.probabilities)].to_numpy()
    labels = ["a", "b", "c"]
    expected = {
        "accuracy": sk.accuracy_score(y, pred),
        "balanced_accuracy": sk.balanced_accuracy_score(y, pred),
        "f1_macro": sk.f1_score(y, pred, average="macro", labels=labels),
        "precision_weighted": sk.precision_score(y, pred, average="weighted", labels=labels),
        "recall_macro": sk.recall_score(y, pred, average="macro", labels=labels),
        "roc_auc": sk.roc_auc_score(y, proba, multi_class="ovr", average="macro", labels=labels),
        "log_loss": sk.log_loss(y, proba, labels=labels),
        "brier": sk.brier_score_loss(y, proba, labels=labels),
    }
    for name, value in expected.items():
        assert result["metrics"][name] == pytest.approx(value, abs=TOL), name
    cm = sk.multilabel_confusion_matrix(y, pred, labels=labels)
    specificity = np.mean([m[0, 0] / (m[0, 0] + m[0, 1]) for m in cm])
    assert result["metrics"]["specificity"] == pytest.approx(specificity, abs=TOL)
    per_class_f1 = sk.f1_score(y, pred, average=None, labels=labels)
    for i, c in enumerate(labels):
        assert result["per_class"][c]["f1"] == pytest.approx(per_class_f1[i], abs=TOL)
    aps = [sk.average_precision_score(y == c, proba[:, i]) for i, c in enumerate(labels)]
    assert result["metrics"]["pr_auc"] == pytest.approx(np.mean(aps), abs=TOL)


def test_regression_metrics_equal_sklearn() -> None:
    current = regression_window(4000, 6, shift=0.3)
    result = run(regression_window(4000, 7), current)
    y = current.frame["label"].astype(float).to_numpy()
    pred = current.frame["prediction"].to_numpy()
    expected = {
        "mae": sk.mean_absolute_error(y, pred),
        "rmse": sk.root_mean_squared_error(y, pred),
        "mse": sk.mean_squared_error(y, pred),
        "mape": sk.mean_absolute_percentage_error(y, pred),
        "r2": sk.r2_score(y, pred),
        "mean_error": float(np.mean(pred - y)),
    }
    for name, value in expected.items():
        assert result["metrics"][name] == pytest.approx(value, abs=1e-9), name
    assert result["error_quantiles"]["p50"] == pytest.approx(np.median(pred - y), abs=1e-12)
    for name in expected:
        interval = result["intervals"][name]
        assert interval["low"] <= result["metrics"][name] <= interval["high"], name


def test_single_class_window_has_no_auc_and_no_exception() -> None:
    current = binary_window(500, 8)
    current.frame["label"] = 1
    result = run(binary_window(2000, 9), current)
    y = np.ones(500, dtype=int)
    pred = current.frame["prediction"].to_numpy()
    assert result["metrics"]["roc_auc"] is None
    assert result["metrics"]["pr_auc"] == pytest.approx(
        sk.average_precision_score(y, current.frame["score"])
    )
    assert result["metrics"]["recall"] == pytest.approx(sk.recall_score(y, pred), abs=TOL)
    assert result["metrics"]["balanced_accuracy"] == pytest.approx(
        sk.balanced_accuracy_score(y, pred), abs=TOL
    )


def test_all_labels_missing_is_insufficient_data() -> None:
    current = binary_window(1000, 10, labeled=0.0)
    result = run(binary_window(1000, 11), current)
    assert result["status"] == Status.INSUFFICIENT_DATA
    assert result["coverage"] == {"rows": 1000, "labeled": 0, "share": 0.0, "delay_seconds": None}
    assert "labels may not have arrived" in result["detail"]


def test_label_coverage_and_delay() -> None:
    current = binary_window(1000, 12, labeled=0.5)
    delay = np.where(current.frame["label"].notna(), np.arange(1000) * 60.0, np.nan)
    current.frame["delay"] = delay
    window = Window(**{**current.__dict__, "label_delay": "delay"})
    result = run(binary_window(1000, 13), window)
    labeled = int(current.frame["label"].notna().sum())
    assert result["coverage"]["labeled"] == labeled == result["labeled_rows"]
    assert result["coverage"]["share"] == labeled / 1000
    known = delay[~np.isnan(delay)]
    assert result["coverage"]["delay_seconds"]["p90"] == pytest.approx(np.quantile(known, 0.9))
    assert result["coverage"]["delay_seconds"]["max"] == known.max()


def test_thresholds_floor_relative_drop_band_and_declared() -> None:
    reference = regression_window(5000, 14)
    same = run(reference, regression_window(2000, 15))
    assert same["status"] == Status.OK, same["alert_reasons"]
    worse = run(reference, regression_window(2000, 16, shift=2.0))
    assert worse["status"] == Status.ALERT
    reasons = " ".join(worse["alert_reasons"])
    assert "worse than the reference" in reasons and "outside the reference band" in reasons
    decision = next(d for d in worse["decisions"] if d["metric"] == "mae")
    chunk_mae = [
        sk.mean_absolute_error(
            reference.frame["label"][a : a + 500].astype(float),
            reference.frame["prediction"][a : a + 500],
        )
        for a in range(0, 5000, 500)
    ]
    assert decision["band_upper"] == pytest.approx(np.mean(chunk_mae) + 3 * np.std(chunk_mae))
    floored = run(reference, regression_window(2000, 15), limits={"mae": 0.5})
    assert floored["status"] == Status.ALERT
    assert "past the limit 0.5" in floored["alert_reasons"][0]
    declared = PerformanceDetector(PerformanceParams(), {"r2": 0.99}).run(
        reference, regression_window(2000, 15)
    )
    assert declared.status == Status.ALERT
    assert any("declared 0.99" in r for r in declared.alert_reasons)
