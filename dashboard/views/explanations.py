"""Global importance, importance over time (attribution drift), and why one decision
was made: a prediction's inputs and SHAP attributions by event id."""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from dashboard.api import VerityApi
from dashboard.schemas import WhoAmI
from dashboard.ui import call, pick_model_version, pick_monitor, when


def render(api: VerityApi, me: WhoAmI) -> None:
    st.header("Explanations")
    st.subheader("Why was this decision made?")
    event_id = st.text_input("Event id of a prediction", key="explain-event").strip()
    if event_id:
        prediction = call("the prediction", lambda: api.prediction(event_id))
        reference = None
        if prediction:
            found = call(
                "the reference datasets",
                lambda: api.references(prediction["model"], prediction["version"]),
            )
            if found and len(found) > 1:
                labels = {f"{r['name']} ({r['content_sha256'][:12]})": r for r in found}
                label = st.selectbox("Background from", list(labels), key="explain-reference")
                reference = labels[label]["content_sha256"]
        explanation = call("its explanation", lambda: api.explanation(event_id, reference))
        if prediction:
            st.markdown(
                f"**{prediction['model']} {prediction['version']}** predicted "
                f"**{prediction['prediction']}**"
                + (f" (score {prediction['score']:.3f})" if prediction.get("score") else "")
                + f" at {when(prediction['occurred_at'])} UTC"
                + (f"; label: **{prediction['label']}**" if prediction.get("label") else "")
            )
            st.dataframe(pd.DataFrame([prediction["features"]]), width="stretch", hide_index=True)
        if explanation:
            attributions = explanation["attributions"]
            names = list(attributions)[::-1]
            values = [attributions[n] for n in names]
            figure = go.Figure(
                go.Bar(
                    x=values,
                    y=[f"{n} = {_short(explanation['features'].get(n))}" for n in names],
                    orientation="h",
                    marker_color=["#c0392b" if v > 0 else "#2471a3" for v in values],
                )
            )
            figure.update_layout(
                height=max(260, 28 * len(names)),
                margin={"t": 10, "b": 10},
                xaxis_title=(
                    f"SHAP attribution (base {explanation['base_value']:.3f} → "
                    f"output {explanation['model_output']:.3f})"
                ),
            )
            st.plotly_chart(figure, width="stretch")
            st.caption(
                f"{explanation['method']} Shapley values on {explanation['device']}, "
                f"background from {explanation['reference']} "
                f"(sha256 {explanation['reference_sha256'][:16]}…). Red pushes the output up."
            )
    picked = pick_model_version(api, "explain")
    if picked is None:
        return
    monitor = pick_monitor(api, *picked, "explain", "explain")
    if monitor is None:
        return
    series = call("explain runs", lambda: api.series(monitor["id"], limit=500))
    if not series or not series["points"]:
        st.info("This monitor has not run yet.")
        return
    latest = series["points"][-1]["metrics"]
    importance = {
        k.removeprefix("importance:"): v for k, v in latest.items() if k.startswith("importance:")
    }
    if importance:
        st.subheader("Global importance (latest run)")
        ranked: list[tuple[str, float]] = sorted(importance.items(), key=lambda kv: kv[1])
        frame = pd.DataFrame(ranked, columns=["feature", "mean |SHAP|"])
        figure = px.bar(frame, x="mean |SHAP|", y="feature", orientation="h")
        figure.update_layout(height=max(260, 26 * len(frame)), margin={"t": 10, "b": 10})
        st.plotly_chart(figure, width="stretch")
        shift = latest.get("importance_shift")
        rank = latest.get("rank_correlation")
        st.caption(
            f"Attribution drift against the reference: importance shift "
            f"{shift if shift is not None else '–'}, rank correlation "
            f"{rank if rank is not None else '–'}."
        )
    long = [
        {"window end": p["window_end"], "feature": k.removeprefix("importance:"), "importance": v}
        for p in series["points"]
        for k, v in p["metrics"].items()
        if k.startswith("importance:")
    ]
    if len({row["window end"] for row in long}) > 1:
        st.subheader("Importance over time")
        frame = pd.DataFrame(long)
        frame["window end"] = pd.to_datetime(frame["window end"])
        figure = px.line(frame, x="window end", y="importance", color="feature", markers=True)
        figure.update_layout(height=340, margin={"t": 10, "b": 10})
        st.plotly_chart(figure, width="stretch")


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
