import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from detectors.base import ColumnKind, ColumnSpec, Status, Window
from detectors.drift.detector import DriftDetector, DriftResult
from detectors.registry import build


def drift(params: dict | None = None) -> DriftDetector:
    detector = build("drift", params)
    assert isinstance(detector, DriftDetector)
    return detector


def _windows(shift=0.0, n=3000, seed=0):
    rng = np.random.default_rng(seed)
    columns = (
        ColumnSpec("age", ColumnKind.NUMERIC),
        ColumnSpec("income", ColumnKind.NUMERIC),
        ColumnSpec("region", ColumnKind.CATEGORICAL),
    )

    def frame(offset, regions):
        return pd.DataFrame(
            {
                "age": rng.normal(40 + offset * 10, 10, n),
                "income": rng.normal(50, 5, n),
                "region": rng.choice(regions, n),
                "prediction": rng.integers(0, 2, n),
            }
        )

    reference = Window(frame(0, ["n", "s"]), columns, prediction="prediction")
    current = Window(
        frame(shift, ["n", "s"] if shift == 0 else ["n", "s", "e"]),
        columns,
        prediction="prediction",
    )
    return reference, current


def test_no_drift_is_ok():
    reference, current = _windows()
    result = drift().run(reference, current)
    assert result.status == Status.OK
    assert result.evaluated_columns == 4
    assert [c.stattest for c in result.columns] == [
        "wasserstein",
        "wasserstein",
        "jensenshannon",
        "jensenshannon",
    ]


def test_shifted_feature_and_unseen_category_are_named():
    reference, current = _windows(shift=1.0)
    result = drift().run(reference, current)
    assert isinstance(result, DriftResult)
    by_name = {c.column: c for c in result.columns}
    assert by_name["age"].drifted and not by_name["income"].drifted
    assert by_name["region"].drifted and by_name["region"].unseen_categories == ["e"]
    assert result.share_drifted == 0.5 and result.dataset_drift and result.status == Status.ALERT


def test_missing_values_are_counted_and_an_empty_column_is_insufficient():
    reference, current = _windows()
    current.frame.loc[:99, "age"] = np.nan
    current.frame.loc[:, "income"] = np.nan
    result = drift({"per_column_stattest": {"age": "ks"}}).run(reference, current)
    assert isinstance(result, DriftResult)
    by_name = {c.column: c for c in result.columns}
    assert by_name["age"].current_missing == 100 and by_name["age"].stattest == "ks"
    assert by_name["income"].status == Status.INSUFFICIENT_DATA
    assert result.evaluated_columns == 3


def test_inapplicable_override_is_reported_not_raised():
    reference, current = _windows()
    result = drift({"stattest": "ks"}).run(reference, current)
    region = next(c for c in result.columns if c.column == "region")
    assert region.status == Status.INSUFFICIENT_DATA
    assert region.detail is not None and "does not apply" in region.detail


@pytest.mark.parametrize(
    "params",
    [
        {"stattest": "nope"},
        {"drift_share": 0},
        {"per_column_stattest": {"a": "x"}},
        {"surprise": 1},
    ],
)
def test_bad_params_name_the_field(params):
    with pytest.raises(ValidationError) as info:
        build("drift", params)
    assert next(iter(params)) in str(info.value)


def test_a_statistic_undefined_on_the_windows_is_reported_not_raised():
    reference, current = _windows()
    current = Window(current.frame.iloc[:1000], current.columns, prediction="prediction")
    result = drift({"per_column_stattest": {"region": "g_test"}}).run(reference, current)
    region = next(c for c in result.columns if c.column == "region")
    assert region.status == Status.INSUFFICIENT_DATA
    assert region.detail is not None and "sum of the observed frequencies" in region.detail
    assert result.evaluated_columns == 3


def test_each_evaluated_column_carries_a_histogram_of_both_windows():
    rng = np.random.default_rng(4)
    columns = (
        ColumnSpec(name="x", kind=ColumnKind.NUMERIC),
        ColumnSpec(name="c", kind=ColumnKind.CATEGORICAL),
    )
    ref = pd.DataFrame({"x": rng.normal(size=500), "c": rng.choice(["a", "b"], 500)})
    cur = pd.DataFrame({"x": rng.normal(2, 1, 300), "c": rng.choice(["a", "b", "z"], 300)})
    cur.loc[:9, "x"] = np.nan
    result = build("drift", {}).run(
        Window(frame=ref, columns=columns), Window(frame=cur, columns=columns)
    )
    assert isinstance(result, DriftResult)
    by_name = {c.column: c for c in result.columns}
    numeric = by_name["x"].histogram
    assert numeric is not None and numeric.edges is not None
    assert len(numeric.edges) == len(numeric.reference) + 1 == 21
    assert (sum(numeric.reference), sum(numeric.current)) == (500, 290)
    assert np.histogram(cur["x"].dropna(), numeric.edges)[0].tolist() == numeric.current
    categorical = by_name["c"].histogram
    assert categorical is not None
    counts = dict(zip(categorical.categories or [], categorical.current, strict=True))
    assert counts == cur["c"].value_counts().to_dict()
