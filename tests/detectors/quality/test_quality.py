"""The data-quality detector, with Evidently's DataSummaryPreset as the oracle for
the statistics both report."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from detectors.base import ColumnKind, ColumnSpec, Status, Window
from detectors.quality.detector import DataQualityDetector, QualityParams
from tests.support.timeline import DAY0

COLUMNS = (
    ColumnSpec("x", ColumnKind.NUMERIC),
    ColumnSpec("y", ColumnKind.NUMERIC, value_range=(0.0, 10.0)),
    ColumnSpec("c", ColumnKind.CATEGORICAL),
)
START = DAY0  # only a window bound: volume compares window lengths


def frame(rows: int, seed: int, *, missing: float = 0.0, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(shift, 1, rows)
    x[rng.uniform(size=rows) < missing] = np.nan
    return pd.DataFrame(
        {
            "x": x,
            "y": rng.uniform(0, 10, rows).round(1),
            "c": rng.choice(["a", "b", "c"], rows).astype(object),
        }
    )


def window(data: pd.DataFrame, hours: float = 1.0) -> Window:
    return Window(frame=data, columns=COLUMNS, start=START, end=START + timedelta(hours=hours))


def run(reference: Window, current: Window, **params: object) -> dict:
    return (
        DataQualityDetector(QualityParams.model_validate(params))
        .run(reference, current)
        .model_dump()
    )


def test_statistics_equal_evidently_data_summary() -> None:
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataSummaryPreset

    current = frame(3000, 1, missing=0.1)
    current.loc[:40, ["x", "y", "c"]] = current.loc[100:140, ["x", "y", "c"]].to_numpy()
    result = run(window(frame(3000, 2)), window(current))
    definition = DataDefinition(numerical_columns=["x", "y"], categorical_columns=["c"])
    snapshot = Report([DataSummaryPreset()]).run(
        Dataset.from_pandas(current, data_definition=definition),
        Dataset.from_pandas(frame(3000, 2), data_definition=definition),
    )
    evidently: dict[tuple[str, str | None], object] = {}
    for metric in snapshot.dict()["metrics"]:
        key = (metric["metric_name"].split("(")[0], metric["config"].get("column"))
        evidently.setdefault(key, metric["value"])  # the current dataset's comes first
    assert result["rows"] == evidently[("RowCount", None)]
    assert result["duplicate_rows"] == evidently[("DuplicatedRowCount", None)]
    assert result["duplicate_rows"] > 0
    features = {f["name"]: f for f in result["features"]}
    for name in ("x", "y", "c"):
        missing = evidently[("MissingValueCount", name)]
        assert features[name]["missing"] == missing["count"]  # type: ignore[index]
        assert features[name]["missing_share"] == pytest.approx(missing["share"])  # type: ignore[index]
    for name in ("x", "y"):
        assert features[name]["min"] == pytest.approx(evidently[("MinValue", name)])
        assert features[name]["max"] == pytest.approx(evidently[("MaxValue", name)])
        assert features[name]["mean"] == pytest.approx(evidently[("MeanValue", name)])
    counts = evidently[("UniqueValueCount", "c")]
    assert features["c"]["unique"] == len(counts["counts"])  # type: ignore[index]
    assert features["c"]["most_common_share"] == pytest.approx(max(counts["shares"].values()))  # type: ignore[index]


def test_clean_window_is_ok() -> None:
    result = run(window(frame(2000, 3)), window(frame(2000, 4)))
    assert result["status"] == Status.OK, result["alert_reasons"]


def test_each_problem_alerts_and_names_the_feature() -> None:
    current = frame(2000, 5, missing=0.3, shift=0.0)
    current.loc[:99, "y"] = 42.0  # outside the declared range [0, 10]
    current.loc[:199, "c"] = "never-seen"
    result = run(window(frame(2000, 6)), window(current))
    assert result["status"] == Status.ALERT
    reasons = "\n".join(result["alert_reasons"])
    assert "x: 31.0% missing (reference 0.0%)" in reasons
    assert "y: 5.0% of values outside the declared range [0, 10]" in reasons
    assert "c: 10.0% of values are categories the reference never had" in reasons
    y = next(f for f in result["features"] if f["name"] == "y")
    assert y["range_source"] == "declared"
    c = next(f for f in result["features"] if f["name"] == "c")
    assert c["unseen_examples"] == ["never-seen"]


def test_out_of_reference_range_and_constant_column() -> None:
    current = frame(1000, 7, shift=10.0)
    current["c"] = "a"
    result = run(window(frame(1000, 8)), window(current))
    x = next(f for f in result["features"] if f["name"] == "x")
    assert x["range_source"] == "reference" and x["out_of_range_share"] > 0.9
    c = next(f for f in result["features"] if f["name"] == "c")
    assert c["constant"] and "constant in the window" in c["issues"][0]


def test_duplicates_and_volume_drop() -> None:
    current = frame(100, 9)
    current = pd.concat([current, current.iloc[:50]], ignore_index=True)
    result = run(window(frame(2400, 10), hours=24), window(current, hours=1))
    assert result["duplicate_rows"] == 50
    assert result["expected_rows"] == pytest.approx(100.0)
    assert result["status"] == Status.ALERT
    assert any("repeat another row" in r for r in result["alert_reasons"])
    dropped = run(window(frame(2400, 10), hours=24), window(frame(30, 11), hours=1))
    assert any("30 rows where about 100 were expected" in r for r in dropped["alert_reasons"])
    declared = run(window(frame(2400, 10)), window(frame(30, 11)), expected_rows=1000)
    assert declared["volume_ratio"] == pytest.approx(0.03)


def test_empty_window_is_insufficient_data_not_an_exception() -> None:
    result = run(window(frame(100, 12)), window(frame(0, 13)))
    assert result["status"] == Status.INSUFFICIENT_DATA
    assert result["rows"] == 0 and result["volume_ratio"] == 0.0


def test_fast_counts_equal_pandas_on_ties_nans_and_signed_zeros() -> None:
    from detectors.quality.detector import distinct_and_top, duplicate_rows

    rng = np.random.default_rng(14)
    values = pd.Series(
        np.r_[rng.integers(0, 50, 5000).astype(float), [np.nan] * 30, [0.0, -0.0, 0.0]]
    )
    present = values.dropna()
    counts = present.value_counts()
    assert distinct_and_top(present.to_numpy(), numeric=True) == (
        len(counts),
        int(counts.iloc[0]),
    )
    # NaNs with another payload are one NaN to duplicated() too.
    other_nan = np.frombuffer(np.uint64(0x7FF8000000000001).tobytes(), dtype=np.float64)[0]
    values = pd.concat([values, pd.Series([other_nan, np.nan])], ignore_index=True)
    frame = pd.DataFrame(
        {"a": values, "b": rng.choice(["x", "y"], len(values)), "c": None},
        index=pd.Index([f"e{i}" for i in range(len(values))], dtype=object),
    )
    frame.loc[frame.index[::7], "c"] = np.nan  # None and NaN: both missing, one value
    names = ["a", "b", "c"]
    assert duplicate_rows(frame, names) == int(frame.duplicated().sum()) > 0
    assert duplicate_rows(frame.drop_duplicates(), names) == 0
    assert duplicate_rows(frame, ["a"]) == int(frame[["a"]].duplicated().sum())
