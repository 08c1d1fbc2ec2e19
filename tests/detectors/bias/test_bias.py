"""Group metrics and disparities equal fairlearn's (fairlearn is the oracle)."""

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    demographic_parity_ratio,
    equalized_odds_difference,
    equalized_odds_ratio,
)

from detectors.base import ColumnKind, ColumnSpec, Status, Window
from detectors.bias.detector import BiasDetector, BiasParams
from tests.support.oracles import fairlearn_metrics

FAIRLEARN = fairlearn_metrics()
COLUMNS = (
    ColumnSpec("x", ColumnKind.NUMERIC),
    ColumnSpec("sex", ColumnKind.CATEGORICAL, sensitive=True),
    ColumnSpec("race", ColumnKind.CATEGORICAL, sensitive=True),
)


def _frame(n=20_000, seed=1, disadvantage=0.0):
    rng = np.random.default_rng(seed)
    sex = rng.choice(["F", "M"], n)
    race = rng.choice(["a", "b", "c", "d"], n, p=[0.4, 0.3, 0.2, 0.1])
    label = rng.integers(0, 2, n)
    p_positive = np.where(label == 1, 0.7, 0.3) - np.where(sex == "F", disadvantage, 0.0)
    prediction = (rng.random(n) < p_positive).astype(int)
    return pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "sex": sex,
            "race": race,
            "label": label,
            "prediction": prediction,
        }
    )


def _run(frame, label="label", **params):
    window = Window(frame, COLUMNS, prediction="prediction", label=label)
    return BiasDetector(BiasParams(**params)).run(window, window)


@pytest.mark.parametrize("attributes", [["sex"], ["race"], ["sex", "race"]])
def test_group_metrics_and_disparities_equal_fairlearn(attributes):
    frame = _frame(disadvantage=0.1)
    result = _run(frame)
    disparity = next(d for d in result.disparities if d.attributes == attributes)
    sensitive = frame[attributes] if len(attributes) > 1 else frame[attributes[0]]
    y, p = frame["label"], frame["prediction"]
    oracle = MetricFrame(
        metrics=FAIRLEARN, y_true=y, y_pred=p, sensitive_features=sensitive
    ).by_group
    for group in disparity.groups:
        key = tuple(group.group[a] for a in attributes)
        row = oracle.loc[key if len(key) > 1 else key[0]]
        for metric in FAIRLEARN:
            assert getattr(group, metric) == pytest.approx(row[metric], abs=1e-12), (key, metric)
    everyone = disparity.all_groups
    assert everyone.demographic_parity_difference == pytest.approx(
        demographic_parity_difference(y, p, sensitive_features=sensitive), abs=1e-12
    )
    assert everyone.demographic_parity_ratio == pytest.approx(
        demographic_parity_ratio(y, p, sensitive_features=sensitive), abs=1e-12
    )
    assert everyone.equalized_odds_difference == pytest.approx(
        equalized_odds_difference(y, p, sensitive_features=sensitive), abs=1e-12
    )
    assert everyone.equalized_odds_ratio == pytest.approx(
        equalized_odds_ratio(y, p, sensitive_features=sensitive), abs=1e-12
    )
    # Every group is large here, so the figures that decide are fairlearn's too.
    assert disparity.groups_decided_on == len(disparity.groups)
    assert disparity.demographic_parity_difference == everyone.demographic_parity_difference
    assert disparity.equalized_odds_ratio == everyone.equalized_odds_ratio


def test_a_disadvantaged_group_raises_an_alert_naming_it():
    result = _run(_frame(disadvantage=0.25))
    assert result.status == Status.ALERT
    sex = next(d for d in result.disparities if d.attributes == ["sex"])
    assert sex.worst_group == {"sex": "F"}
    assert not sex.four_fifths_passed


def test_a_fair_model_is_ok():
    result = _run(_frame(disadvantage=0.0))
    assert result.status == Status.OK, [
        (d.attributes, d.demographic_parity_difference) for d in result.disparities
    ]


def test_label_free_metrics_work_before_labels_arrive():
    frame = _frame(disadvantage=0.1)
    result = _run(frame, label=None)
    sex = next(d for d in result.disparities if d.attributes == ["sex"])
    oracle = demographic_parity_difference(
        frame["label"], frame["prediction"], sensitive_features=frame["sex"]
    )
    assert sex.all_groups.demographic_parity_difference == pytest.approx(oracle, abs=1e-12)
    assert sex.demographic_parity_difference == pytest.approx(oracle, abs=1e-12)
    assert sex.equalized_odds_difference is None
    assert all(g.tpr is None for g in sex.groups)


def test_small_groups_are_flagged_not_dropped():
    frame = _frame(n=2000)
    frame.loc[:4, "race"] = "tiny"
    result = _run(frame, min_group_size=30)
    race = next(d for d in result.disparities if d.attributes == ["race"])
    tiny = next(g for g in race.groups if g.group == {"race": "tiny"})
    assert tiny.small and tiny.count == 5 and tiny.status == Status.INSUFFICIENT_DATA


def test_bootstrap_intervals_are_seeded_and_cover_the_estimate():
    frame = _frame(n=5000, disadvantage=0.1)
    first, second = _run(frame, seed=3), _run(frame, seed=3)
    assert first == second
    sex = next(d for d in first.disparities if d.attributes == ["sex"])
    interval = sex.intervals["demographic_parity_difference"]
    assert interval.low <= sex.demographic_parity_difference <= interval.high
    for group in sex.groups:
        rate = group.intervals["selection_rate"]
        assert rate.low <= group.selection_rate <= rate.high
        assert rate.high - rate.low < 0.1


def test_multiclass_is_examined_per_class_one_against_the_rest():
    rng = np.random.default_rng(7)
    n = 12_000
    frame = _frame(n=n).drop(columns=["label", "prediction"])
    classes = np.array(["approve", "review", "decline"])
    frame["label"] = rng.choice(classes, n)
    # Group F is sent to "decline" more often than M: a per-class disparity.
    shift = np.where(frame["sex"] == "F", 0.25, 0.0)
    frame["prediction"] = np.where(
        rng.random(n) < shift, "decline", np.where(rng.random(n) < 0.6, frame["label"], "review")
    )
    result = _run(frame, classes=list(classes))
    assert {d.positive_class for d in result.disparities} == set(classes)
    for positive in classes:
        disparity = next(
            d
            for d in result.disparities
            if d.positive_class == positive and d.attributes == ["sex"]
        )
        y = (frame["label"] == positive).astype(int)
        p = (frame["prediction"] == positive).astype(int)
        oracle = MetricFrame(
            metrics=FAIRLEARN, y_true=y, y_pred=p, sensitive_features=frame["sex"]
        ).by_group
        for group in disparity.groups:
            for metric in FAIRLEARN:
                assert getattr(group, metric) == pytest.approx(
                    oracle.loc[group.group["sex"], metric], abs=1e-12
                ), (positive, metric)
        assert disparity.all_groups.equalized_odds_difference == pytest.approx(
            equalized_odds_difference(y, p, sensitive_features=frame["sex"]), abs=1e-12
        )
    decline = next(
        d for d in result.disparities if d.positive_class == "decline" and d.attributes == ["sex"]
    )
    assert decline.demographic_parity_difference > 0.15
    assert decline.worst_group == {"sex": "M"}  # M is selected for "decline" least
    assert result.status == Status.ALERT


def test_classes_must_not_be_empty():
    with pytest.raises(ValueError, match="classes"):
        BiasParams(classes=[])


def one_row_group_frame():
    """Real data's finding: a 1-row group sets the headline disparity."""
    frame = _frame(n=4000, disadvantage=0.0)
    frame.loc[0, "race"] = "solo"
    frame.loc[0, "prediction"] = 0
    frame.loc[0, "label"] = 1
    return frame


def test_a_one_row_group_no_longer_raises_an_alert_and_fairlearns_figures_are_unchanged():
    frame = one_row_group_frame()
    before = _run(frame, min_group_size=1, require_significance=False)  # the old rule
    after = _run(frame)
    race_before = next(d for d in before.disparities if d.attributes == ["race"])
    race_after = next(d for d in after.disparities if d.attributes == ["race"])
    # The lone group selects nobody: every group-level figure says "unfair".
    assert race_before.alert_reasons and race_before.worst_group == {"race": "solo"}
    assert after.status != "alert", [d.alert_reasons for d in after.disparities]
    assert race_after.alert_reasons == []
    assert race_after.worst_group != {"race": "solo"}
    assert race_after.groups_decided_on == len(race_after.groups) - 1
    solo = next(g for g in race_after.groups if g.group == {"race": "solo"})
    assert solo.small and solo.count == 1 and solo.selection_rate == 0.0
    # fairlearn's figures, over every group, are reported unchanged.
    oracle = demographic_parity_difference(
        frame["label"], frame["prediction"], sensitive_features=frame["race"]
    )
    assert race_after.all_groups.demographic_parity_difference == pytest.approx(oracle, abs=1e-12)
    assert race_after.all_groups == race_before.all_groups


def test_an_alert_needs_the_interval_past_the_threshold():
    frame = _frame(n=600, seed=4, disadvantage=0.06)
    loose = _run(frame, require_significance=False, demographic_parity_threshold=0.05)
    strict = _run(frame, demographic_parity_threshold=0.05)
    sex_loose = next(d for d in loose.disparities if d.attributes == ["sex"])
    sex_strict = next(d for d in strict.disparities if d.attributes == ["sex"])
    assert sex_loose.demographic_parity_difference > 0.05
    interval = sex_strict.intervals["demographic_parity_difference"]
    assert interval.low <= 0.05 < interval.high  # the estimate is past it, the evidence not
    assert any("demographic parity" in r for r in sex_loose.alert_reasons)
    assert not any("demographic parity" in r for r in sex_strict.alert_reasons)
    # A large, real disparity still alerts, naming its interval.
    clear = _run(_frame(disadvantage=0.25))
    sex = next(d for d in clear.disparities if d.attributes == ["sex"])
    assert clear.status == Status.ALERT and "interval" in sex.alert_reasons[0]


def test_whole_window_figures_are_in_every_result():
    frame = _frame(n=3000, disadvantage=0.1)
    result = _run(frame)
    (overall,) = result.overall
    y, p = frame["label"], frame["prediction"]
    assert (overall.rows, overall.labeled) == (3000, 3000)
    assert overall.selection_rate == pytest.approx(p.mean(), abs=1e-12)
    assert overall.accuracy == pytest.approx((y == p).mean(), abs=1e-12)
    assert overall.tpr == pytest.approx(p[y == 1].mean(), abs=1e-12)
    assert overall.fpr == pytest.approx(p[y == 0].mean(), abs=1e-12)
    unlabeled = _run(frame, label=None).overall[0]
    assert unlabeled.labeled == 0 and unlabeled.accuracy is None
