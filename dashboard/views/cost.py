"""Cost per 1k predictions, latency percentiles, budget burn and forecast."""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.express as px
import streamlit as st

from dashboard.api import VerityApi
from dashboard.schemas import WhoAmI
from dashboard.ui import call, pick_model_version, pick_monitor, status_badge, when


def render(api: VerityApi, me: WhoAmI) -> None:
    st.header("Cost")
    picked = pick_model_version(api, "cost")
    if picked is None:
        return
    monitor = pick_monitor(api, *picked, "cost", "cost")
    if monitor is None:
        return
    series = call("cost runs", lambda: api.series(monitor["id"], limit=500))
    if not series or not series["points"]:
        st.info("This monitor has not run yet.")
        return
    latest = series["points"][-1]
    metrics = latest["metrics"]
    st.markdown(
        f"Latest run **{status_badge(latest['status'])}** · window "
        f"{when(latest['window_end'])} UTC · {latest['rows']:,} predictions"
    )
    cols = st.columns(4)
    cols[0].metric("Cost per 1k predictions", _money(metrics.get("cost_per_1k_predictions")))
    cols[1].metric("Window cost", _money(metrics.get("total_cost")))
    burn = metrics.get("budget_burn")
    cols[2].metric("Budget burn", f"{burn:.1%}" if burn is not None else "no budget")
    cols[3].metric("Forecast for the period", _money(metrics.get("forecast_period_cost")))
    run = call("the latest run", lambda: api.run(latest["run_id"]))
    result: dict[str, Any] = (run["result"] if run else None) or {}
    if result.get("forecast_explanation"):
        st.caption(result["forecast_explanation"])
    if result.get("shift_detail"):
        st.caption(f"No cost shift against the baseline: {result['shift_detail']}.")
    elif result.get("per_prediction_shift") is not None:
        st.caption(
            f"Cost per prediction moved {result['per_prediction_shift']:+.1%} from the "
            f"baseline ({run['reference_source'] if run else 'reference'})."
        )
    frame = pd.DataFrame(
        [{"window end": p["window_end"], **p["metrics"]} for p in series["points"]]
    )
    frame["window end"] = pd.to_datetime(frame["window end"])
    if frame["window end"].nunique() < 2:
        st.caption("One run so far: the charts over time start with the next.")
        return
    latency = [c for c in ("latency_p50_ms", "latency_p95_ms", "latency_p99_ms") if c in frame]
    if latency:
        st.subheader("Latency percentiles")
        figure = px.line(frame, x="window end", y=latency, markers=True)
        figure.update_layout(
            height=300, margin={"t": 10, "b": 10}, yaxis_title="ms", yaxis_rangemode="tozero"
        )
        st.plotly_chart(figure, width="stretch")
    if "cost_per_1k_predictions" in frame:
        st.subheader("Cost per 1k predictions")
        figure = px.line(frame, x="window end", y="cost_per_1k_predictions", markers=True)
        figure.update_layout(
            height=300, margin={"t": 10, "b": 10}, yaxis_title="cost", yaxis_rangemode="tozero"
        )
        st.plotly_chart(figure, width="stretch")
    if "budget_burn" in frame:
        st.subheader("Budget burn")
        figure = px.bar(frame, x="window end", y="budget_burn")
        figure.add_hline(y=1.0, line_dash="dash", annotation_text="budget")
        figure.update_layout(
            height=280, margin={"t": 10, "b": 10}, yaxis_tickformat=".0%", yaxis_title=""
        )
        st.plotly_chart(figure, width="stretch")


def _money(value: float | None) -> str:
    return "–" if value is None else f"{value:,.4f}"
