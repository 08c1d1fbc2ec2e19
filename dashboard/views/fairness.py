"""Group metrics with confidence intervals, disparities over time, four-fifths rule."""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from dashboard.api import VerityApi
from dashboard.schemas import WhoAmI
from dashboard.ui import call, paged, pick_model_version, pick_monitor, status_badge, when


def render(api: VerityApi, me: WhoAmI) -> None:
    st.header("Fairness")
    picked = pick_model_version(api, "fairness")
    if picked is None:
        return
    monitor = pick_monitor(api, *picked, "bias", "fairness")
    if monitor is None:
        return
    series = call("bias runs", lambda: api.series(monitor["id"], limit=500))
    if not series or not series["points"]:
        st.info("This monitor has not run yet.")
        return
    latest = series["points"][-1]
    run = call("the latest run", lambda: api.run(latest["run_id"]))
    if not run or not run["result"]:
        if run and run["error"]:
            st.error(f"The latest run failed: {run['error']}")
        return
    result: dict[str, Any] = run["result"]
    st.markdown(
        f"Latest run **{status_badge(run['status'])}** · window {when(run['window_end'])} UTC · "
        f"{result['rows']:,} rows, {result['labeled_rows']:,} labeled"
    )
    overall = result.get("overall") or []
    if overall:
        st.subheader("The whole window")
        paged(
            pd.DataFrame(
                [
                    {
                        "positive class": o["positive_class"],
                        "rows": o["rows"],
                        "labeled": o["labeled"],
                        "selection rate": o["selection_rate"],
                        "accuracy": o["accuracy"],
                        "TPR": o["tpr"],
                        "FPR": o["fpr"],
                    }
                    for o in overall
                ]
            ),
            "fairness-overall",
        )
    disparities = result["disparities"]
    if not disparities:
        st.info("No disparity could be computed (a sensitive attribute with fewer than 2 groups).")
        return
    minimum = run["params"].get("min_group_size", 30)
    summary = pd.DataFrame([_summary_row(d) for d in disparities])
    st.subheader("Disparities")
    st.caption(
        f"Decided on groups of at least {minimum} rows; an alert also needs the bootstrap "
        "interval past the threshold. 'all groups' is fairlearn's figure over every group, "
        "the small ones included."
    )
    paged(summary, "fairness-summary")
    labels = [f"{' × '.join(d['attributes'])} ({d['positive_class']})" for d in disparities]
    chosen = disparities[labels.index(st.selectbox("Grouping", labels, key="fairness-grouping"))]
    groups = chosen["groups"]
    names = [", ".join(f"{k}={v}" for k, v in g["group"].items()) for g in groups]
    rate = [g["selection_rate"] for g in groups]
    interval = [g["intervals"].get("selection_rate") for g in groups]
    figure = go.Figure(
        go.Bar(
            x=names,
            y=rate,
            error_y={
                "type": "data",
                "symmetric": False,
                "array": [(i["high"] - r) if i else 0 for i, r in zip(interval, rate, strict=True)],
                "arrayminus": [
                    (r - i["low"]) if i else 0 for i, r in zip(interval, rate, strict=True)
                ],
            },
        )
    )
    best = max(rate) if rate else 0
    figure.add_hline(y=0.8 * best, line_dash="dash", annotation_text="four-fifths of the best")
    figure.update_layout(
        height=340, margin={"t": 10, "b": 10}, yaxis_title="selection rate (95 % CI)"
    )
    st.plotly_chart(figure, width="stretch")
    metrics = pd.DataFrame(
        [
            {
                "group": name,
                "rows": g["count"],
                "labeled": g["labeled"],
                "small": "yes" if g["small"] else "",
                "selection rate": g["selection_rate"],
                "accuracy": g["accuracy"],
                "TPR": g["tpr"],
                "FPR": g["fpr"],
                "precision": g["precision"],
            }
            for name, g in zip(names, groups, strict=True)
        ]
    )
    paged(metrics, "fairness-groups")
    st.subheader("Disparities over time")
    long = [
        {"window end": p["window_end"], "measure": k, "value": v}
        for p in series["points"]
        for k, v in p["metrics"].items()
        if k.startswith("demographic_parity_difference:")
    ]
    if len({row["window end"] for row in long}) < 2:
        st.caption("One run so far: the chart over time starts with the next.")
    else:
        frame = pd.DataFrame(long)
        frame["window end"] = pd.to_datetime(frame["window end"])
        frame["measure"] = frame["measure"].str.removeprefix("demographic_parity_difference:")
        figure = px.line(frame, x="window end", y="value", color="measure", markers=True)
        figure.update_layout(
            height=320, margin={"t": 10, "b": 10}, yaxis_title="demographic parity difference"
        )
        st.plotly_chart(figure, width="stretch")


def _summary_row(disparity: dict[str, Any]) -> dict[str, Any]:
    passed = disparity["four_fifths_passed"]
    worst = disparity.get("worst_group") or {}
    return {
        "attributes": " × ".join(disparity["attributes"]),
        "positive class": disparity["positive_class"],
        "groups decided on": f"{disparity['groups_decided_on']} of {len(disparity['groups'])}",
        "DP difference": disparity["demographic_parity_difference"],
        "DP ratio": disparity["demographic_parity_ratio"],
        "EO difference": disparity["equalized_odds_difference"],
        "four-fifths rule": "–" if passed is None else "passed" if passed else "FAILED",
        "alert": "; ".join(disparity["alert_reasons"]) or "no",
        "worst group": ", ".join(f"{k}={v}" for k, v in worst.items()),
        "DP difference, all groups": disparity["all_groups"]["demographic_parity_difference"],
    }
