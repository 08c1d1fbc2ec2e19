"""Champion against challenger: paired (shadow) and unpaired (split) comparisons,
checked against direct computations on the same rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from verity_sdk.core import SHADOW_SEPARATOR as SDK_SEPARATOR

from detectors.base import ColumnKind, ColumnSpec, Status, Window
from detectors.comparison.detector import SHADOW_SEPARATOR, ComparisonDetector, ComparisonParams

GROUP = (ColumnSpec("group", ColumnKind.CATEGORICAL, sensitive=True, model_input=False),)


def window(frame: pd.DataFrame, task: str = "binary") -> Window:
    return Window(frame=frame, columns=GROUP, prediction="prediction", label="label",
                  task=task, classes=("0", "1"), positive_class="1")  # fmt: skip


def pair(rows: int, flip: float, seed: int) -> tuple[Window, Window]:
    """The champion's predictions, and a challenger's on the same requests with a
    share ``flip`` of them changed."""
    rng = np.random.default_rng(seed)
    ids = [f"req-{i}" for i in range(rows)]
    label = rng.integers(0, 2, rows)
    champion = np.where(rng.uniform(size=rows) < 0.85, label, 1 - label)
    challenger = np.where(rng.uniform(size=rows) < flip, 1 - champion, champion)
    group = rng.choice(["a", "b"], rows)
    cp = pd.DataFrame({"prediction": champion, "label": label.astype(object), "group": group,
                       "latency_ms": 5.0}, index=pd.Index(ids, name="event_id"))  # fmt: skip
    shadow_ids = [f"{i}{SHADOW_SEPARATOR}v2" for i in ids]
    ch = pd.DataFrame({"prediction": challenger, "label": None, "group": group,
                       "latency_ms": 7.0}, index=pd.Index(shadow_ids, name="event_id"))  # fmt: skip
    # Shadow rows arrive in another order, and one has no champion row.
    ch = pd.concat([ch.iloc[::-1], ch.iloc[:1].rename(index=lambda _: "stray~shadow~v2")])
    return window(cp), window(ch)


def test_the_sdk_and_the_detector_agree_on_shadow_ids() -> None:
    assert SHADOW_SEPARATOR == SDK_SEPARATOR


def test_shadow_comparison_is_paired() -> None:
    cp, ch = pair(4000, flip=0.2, seed=1)
    result = ComparisonDetector(ComparisonParams(champion="v1")).run(cp, ch).model_dump()
    champion = cp.frame["prediction"].to_numpy()
    label = cp.frame["label"].astype(int).to_numpy()
    challenger = (
        ch.frame.drop(index="stray~shadow~v2")
        .rename(index=lambda i: i.split(SHADOW_SEPARATOR)[0])
        .loc[cp.frame.index, "prediction"]
        .to_numpy()
    )
    assert result["paired_rows"] == 4000
    assert result["agreement_rate"] == pytest.approx(np.mean(champion == challenger))
    assert result["champion_value"] == pytest.approx(np.mean(champion == label))
    assert result["challenger_value"] == pytest.approx(np.mean(challenger == label))
    assert result["delta"] == pytest.approx(
        np.mean(challenger == label) - np.mean(champion == label)
    )
    interval = result["delta_interval"]
    assert interval["low"] < result["delta"] < interval["high"]
    # A paired interval is narrower than an unpaired one on the same rows.
    split = ComparisonDetector(ComparisonParams(champion="v1", mode="split")).run(
        cp, window(ch.frame.assign(label=np.r_[label[::-1], label[:1]].astype(object)))
    )
    assert split.delta_interval is not None
    assert interval["high"] - interval["low"] < split.delta_interval.high - split.delta_interval.low
    first = result["disagreements"][0]
    assert first["champion"] != first["challenger"]
    assert result["latency"]["delta_latency_p50"] == pytest.approx(2.0)
    assert set(result["fairness"]) == {"group"}
    assert result["status"] == Status.ALERT  # a fifth of the answers flipped: worse
    assert any("worse than the champion's" in r for r in result["alert_reasons"])


def test_an_equal_challenger_is_ok_and_a_skewed_one_drifts() -> None:
    cp, ch = pair(3000, flip=0.0, seed=2)
    same = ComparisonDetector(ComparisonParams(champion="v1")).run(cp, ch)
    assert same.status == Status.OK and same.agreement_rate == 1.0 and same.delta == 0.0
    skewed = ch.frame.assign(prediction=1)
    drifted = ComparisonDetector(ComparisonParams(champion="v1")).run(cp, window(skewed))
    assert drifted.output_drift is not None and drifted.output_drift > 0.1
    assert any("drift" in r for r in drifted.alert_reasons)


def test_split_regression_compares_independent_groups() -> None:
    rng = np.random.default_rng(3)
    truth_a, truth_b = rng.normal(size=2000), rng.normal(size=1500)
    cp = Window(pd.DataFrame({"prediction": truth_a + rng.normal(0, 1, 2000), "label": truth_a}),
                (), prediction="prediction", label="label", task="regression")  # fmt: skip
    ch = Window(pd.DataFrame({"prediction": truth_b + rng.normal(0, 2, 1500), "label": truth_b}),
                (), prediction="prediction", label="label", task="regression")  # fmt: skip
    result = ComparisonDetector(ComparisonParams(champion="v1", mode="split")).run(cp, ch)
    mae_a = np.mean(np.abs(cp.frame["prediction"] - truth_a))
    mae_b = np.mean(np.abs(ch.frame["prediction"] - truth_b))
    assert result.metric == "mae"
    assert result.delta == pytest.approx(mae_b - mae_a)
    assert result.status == Status.ALERT  # twice the noise: worse beyond its interval


def test_too_few_pairs_is_insufficient_data() -> None:
    cp, ch = pair(10, flip=0.0, seed=4)
    result = ComparisonDetector(ComparisonParams(champion="v1")).run(cp, ch)
    assert result.status == Status.INSUFFICIENT_DATA
    assert "pair with the champion's" in (result.detail or "")
