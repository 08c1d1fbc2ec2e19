"""Per-feature drift scores over time, the per-run feature table, and reference vs
current distribution of a chosen feature."""

from __future__ import annotations

import itertools
from typing import Any

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from dashboard.api import VerityApi
from dashboard.schemas import WhoAmI
from dashboard.ui import call, paged, pick_model_version, pick_monitor, status_badge, when


def render(api: VerityApi, me: WhoAmI) -> None:
    st.header("Drift")
    picked = pick_model_version(api, "drift")
    if picked is None:
        return
    monitor = pick_monitor(api, *picked, "drift", "drift")
    if monitor is None:
        return
    series = call("drift runs", lambda: api.series(monitor["id"], limit=500))
    if not series or not series["points"]:
        st.info("This monitor has not run yet.")
        return
    long = [
        {"window end": p["window_end"], "column": k.removeprefix("score:"), "score": v}
        for p in series["points"]
        for k, v in p["metrics"].items()
        if k.startswith("score:")
    ]
    if long:
        frame = pd.DataFrame(long)
        frame["window end"] = pd.to_datetime(frame["window end"])
        if frame["window end"].nunique() > 1:
            st.subheader("Drift score per feature over time")
            figure = px.line(frame, x="window end", y="score", color="column", markers=True)
        else:
            st.subheader("Drift score per feature")
            figure = px.bar(frame, x="column", y="score")
        figure.update_layout(height=360, margin={"t": 10, "b": 10})
        st.plotly_chart(figure, width="stretch")
        st.caption("Scores are p-values or distances, per each column's test: see the table.")
    runs = {
        f"#{p['run_id']} · {when(p['window_end'])} · {p['status']}": p["run_id"]
        for p in reversed(series["points"])
    }
    chosen = st.selectbox("Run", list(runs), key="drift-run")
    run = call("the run", lambda: api.run(runs[chosen]))
    if not run or not run["result"]:
        if run and run["error"]:
            st.error(f"The run failed: {run['error']}")
        return
    result: dict[str, Any] = run["result"]
    st.markdown(
        f"**{status_badge(run['status'])}** · {result['drifted_columns']} of "
        f"{result['evaluated_columns']} columns drifted · window "
        f"{when(run['window_start'])} → {when(run['window_end'])} UTC · {run['rows']:,} rows"
    )
    table = pd.DataFrame(
        [
            {
                "column": c["column"],
                "kind": c["column_kind"],
                "test": c["stattest"],
                "score": c["score"],
                "threshold": c["threshold"],
                "drifted": "yes" if c["drifted"] else "no",
                "missing (ref/cur)": f"{c['reference_missing']}/{c['current_missing']}",
                "unseen categories": ", ".join(c.get("unseen_categories") or []),
            }
            for c in result["columns"]
        ]
    )
    paged(table, "drift-columns")
    report = result.get("report") or {}
    if "path" in report:
        html = call("the Evidently report", lambda: api.report(run["id"]))
        if html:
            st.download_button(
                f"Evidently HTML report ({report['rows']:,}-row sample, Evidently "
                f"{report['evidently']})",
                html,
                file_name=f"verity-run-{run['id']}-evidently.html",
                mime="text/html",
                key="drift-report",
            )
    elif "error" in report:
        st.caption(f"No Evidently report: {report['error']}")
    with_histograms = [c for c in result["columns"] if c.get("histogram")]
    if not with_histograms:
        return
    st.subheader("Reference vs current")
    names = [c["column"] for c in with_histograms]
    drifted_first = sorted(
        names, key=lambda n: next(not c["drifted"] for c in with_histograms if c["column"] == n)
    )
    column = st.selectbox("Feature", drifted_first, key="drift-feature")
    histogram = next(c for c in with_histograms if c["column"] == column)["histogram"]
    if histogram.get("edges"):
        edges = histogram["edges"]
        labels = [f"{(a + b) / 2:.3g}" for a, b in itertools.pairwise(edges)]
    else:
        labels = histogram["categories"]
    ref_total = max(sum(histogram["reference"]), 1)
    cur_total = max(sum(histogram["current"]), 1)
    figure = go.Figure(
        [
            go.Bar(name="reference", x=labels, y=[v / ref_total for v in histogram["reference"]]),
            go.Bar(name="current", x=labels, y=[v / cur_total for v in histogram["current"]]),
        ]
    )
    figure.update_layout(
        barmode="group", height=340, margin={"t": 10, "b": 10}, yaxis_title="share of rows"
    )
    st.plotly_chart(figure, width="stretch")
