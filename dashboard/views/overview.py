"""Models and versions, the latest status of every check, open alerts by severity,
ingest volume over time."""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta

import pandas as pd
import plotly.express as px
import streamlit as st

from dashboard.api import VerityApi
from dashboard.schemas import WhoAmI
from dashboard.ui import call, paged, status_text, when


def render(api: VerityApi, me: WhoAmI) -> None:
    st.header("Overview")
    models = call("models", api.models)
    if not models:
        st.info("No model is registered yet.")
        return
    alerts = call("open alerts", lambda: api.alerts(state="open", limit=500))
    open_alerts = alerts["items"] if alerts else []
    by_severity = pd.Series([a["severity"] for a in open_alerts], dtype=object).value_counts()
    cols = st.columns(4)
    cols[0].metric("Models", len(models))
    for col, severity in zip(cols[1:], ("critical", "warning", "info"), strict=True):
        col.metric(f"Open {severity} alerts", int(by_severity.get(severity, 0)))
    rows = []
    for model in models:
        name: str = model["name"]
        status = call(f"status of {name}", functools.partial(api.status, name))
        for monitor in status["monitors"] if status else []:
            latest = monitor["latest_run"]
            rows.append(
                {
                    "model": model["name"],
                    "version": monitor["version"],
                    "check": monitor["name"],
                    "kind": monitor["kind"],
                    "status": status_text(latest["status"] if latest else "never run"),
                    "window end (UTC)": when(latest["window_end"] if latest else None),
                    "rows": latest["rows"] if latest else None,
                    "open alerts": monitor["open_alerts"],
                }
            )
    st.subheader("Latest status of every check")
    paged(pd.DataFrame(rows), "overview-status")
    st.subheader("Ingest volume")
    left, mid, right = st.columns(3)
    chosen = left.selectbox("Model", [m["name"] for m in models], key="overview-model")
    days = mid.selectbox("Last", [1, 7, 30, 90], index=1, format_func=lambda d: f"{d} days")
    bucket = right.selectbox("Per", ["hour", "day"], index=0 if days <= 7 else 1)
    end = datetime.now(UTC)
    volume = call(
        "ingest volume", lambda: api.volume(chosen, end - timedelta(days=days), end, bucket)
    )
    if volume and volume["points"]:
        frame = pd.DataFrame(volume["points"])
        frame["bucket_start"] = pd.to_datetime(frame["bucket_start"])
        figure = px.bar(
            frame,
            x="bucket_start",
            y="predictions",
            color="version",
            labels={"bucket_start": "", "predictions": f"predictions per {bucket}"},
        )
        figure.update_layout(height=320, margin={"t": 10, "b": 10})
        st.plotly_chart(figure, width="stretch")
        st.caption(
            f"{int(frame['predictions'].sum()):,} predictions, "
            f"{int(frame['labeled'].sum()):,} with a label."
        )
    elif volume is not None:
        st.caption(f"No predictions for {model} in the last {days} days.")
