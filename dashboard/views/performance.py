"""Model quality: realized and estimated performance over time on one chart, with
their confidence bands, the declared level as a line, label coverage, a segment
selector, the latest estimate beside its realized value, and the data-quality table."""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from dashboard.api import VerityApi
from dashboard.schemas import MonitorRead, Series, WhoAmI
from dashboard.ui import call, paged, pick_model_version, status_badge, when

WHOLE = "whole window"


def _monitor(monitors: list[MonitorRead], kind: str) -> MonitorRead | None:
    found = [m for m in monitors if m["kind"] == kind]
    return found[0] if found else None


def _series(api: VerityApi, monitor: MonitorRead | None, segment: str | None) -> Series | None:
    if monitor is None:
        return None
    return call(f"{monitor['kind']} runs", lambda: api.series(monitor["id"], 500, segment))


def _frame(series: Series | None) -> pd.DataFrame:
    if not series or not series["points"]:
        return pd.DataFrame()
    rows = [{"window end": p["window_end"], "status": p["status"], **p["metrics"]}
            for p in series["points"]]  # fmt: skip
    frame = pd.DataFrame(rows)
    frame["window end"] = pd.to_datetime(frame["window end"])
    return frame


def _band(figure: go.Figure, frame: pd.DataFrame, metric: str, name: str, color: str) -> None:
    low, high = f"{metric}:low", f"{metric}:high"
    if low not in frame or high not in frame:
        return
    part = frame.dropna(subset=[low, high])
    if part.empty:
        return
    figure.add_trace(
        go.Scatter(
            x=list(part["window end"]) + list(part["window end"])[::-1],
            y=list(part[high]) + list(part[low])[::-1],
            fill="toself",
            mode="lines",
            fillcolor=color,
            line={"width": 0},
            name=name,
            hoverinfo="skip",
        )
    )


def render(api: VerityApi, me: WhoAmI) -> None:
    st.header("Performance")
    picked = pick_model_version(api, "performance")
    if picked is None:
        return
    model, version = picked
    monitors = call("monitors", lambda: api.monitors(model, version)) or []
    realized_monitor = _monitor(monitors, "performance")
    estimated_monitor = _monitor(monitors, "estimated_performance")
    if realized_monitor is None and estimated_monitor is None:
        st.info(
            f"No performance or estimated_performance monitor on {model} {version}: they "
            "need a reference dataset with labels (and scores for an estimate)."
        )
    else:
        _performance(api, model, version, realized_monitor, estimated_monitor)
    _data_quality(api, _monitor(monitors, "data_quality"))


def _performance(
    api: VerityApi,
    model: str,
    version: str,
    realized_monitor: MonitorRead | None,
    estimated_monitor: MonitorRead | None,
) -> None:
    first = _series(api, realized_monitor, None)
    first_estimate = _series(api, estimated_monitor, None)
    segments = sorted({name for s in (first, first_estimate) if s for name in s["segments"]})
    segment = st.selectbox("Segment", [WHOLE, *segments], key="performance-segment")
    if segment != WHOLE:
        first = _series(api, realized_monitor, segment)
        first_estimate = _series(api, estimated_monitor, segment)
    realized, estimated = _frame(first), _frame(first_estimate)
    if realized.empty and estimated.empty:
        st.info("These monitors have not run yet.")
        return
    skip = ("window end", "status", "label_coverage")
    names = sorted(
        {c for c in realized.columns if ":" not in c and c not in skip}
        | {c for c in estimated.columns if ":" not in c and c not in skip}
    )
    versions = call("versions", lambda: api.versions(model)) or []
    declared = next((v["declared_metrics"] for v in versions if v["version"] == version), {})
    preferred = [n for n in ("accuracy", "roc_auc", "f1", "mae") if n in names]
    default = next(iter([*declared, *preferred]), names[0] if names else None)
    if default is None:
        st.info("No metric has been measured yet.")
        return
    metric = st.selectbox(
        "Metric", names, index=names.index(default) if default in names else 0,
        key="performance-metric",
    )  # fmt: skip
    figure = go.Figure()
    _band(figure, estimated, metric, "estimate ±3 SE", "rgba(255,127,14,0.18)")
    _band(figure, realized, metric, "realized interval", "rgba(31,119,180,0.15)")
    if metric in estimated:
        figure.add_trace(go.Scatter(x=estimated["window end"], y=estimated[metric],
                                    mode="lines+markers", name="estimated (no labels)",
                                    line={"color": "#ff7f0e", "dash": "dash"}))  # fmt: skip
    if metric in realized:
        figure.add_trace(go.Scatter(x=realized["window end"], y=realized[metric],
                                    mode="lines+markers", name="realized (labels)",
                                    line={"color": "#1f77b4"}))  # fmt: skip
    if metric in declared:
        figure.add_hline(y=declared[metric], line_dash="dot", line_color="#d62728",
                         annotation_text=f"declared {declared[metric]:g}")  # fmt: skip
    figure.update_layout(height=380, margin={"t": 10, "b": 10}, yaxis_title=metric)
    st.subheader(
        f"{metric}: realized and estimated" + ("" if segment == WHOLE else f" · {segment}")
    )
    st.plotly_chart(figure, width="stretch")
    if "label_coverage" in realized:
        st.subheader("Label coverage")
        coverage = go.Figure(go.Bar(x=realized["window end"], y=realized["label_coverage"]))
        coverage.update_layout(height=220, margin={"t": 10, "b": 10},
                               yaxis={"title": "share labelled", "range": [0, 1]})  # fmt: skip
        st.plotly_chart(coverage, width="stretch")
    _side_by_side(api, first)


def _side_by_side(api: VerityApi, series: Series | None) -> None:
    if not series or not series["points"]:
        return
    latest = series["points"][-1]
    run = call("the latest performance run", lambda: api.run(latest["run_id"]))
    if not run or not run["result"]:
        return
    result: dict[str, Any] = run["result"]
    st.markdown(
        f"**{status_badge(run['status'])}** · latest realized run #{run['id']} · window "
        f"{when(run['window_start'])} → {when(run['window_end'])} UTC · "
        f"{result.get('labeled_rows', 0):,} of {result.get('rows', 0):,} rows labelled"
    )
    estimated = (result.get("estimated") or {}).get("metrics") or {}
    if estimated:
        st.caption("The estimate made before the labels came, beside the realized value:")
        st.dataframe(
            pd.DataFrame(
                [
                    {"metric": name, "estimated": v["estimated"], "realized": v["realized"],
                     "estimation error": v["error"],
                     "estimate band": f"[{v['lower_confidence']:.3f}, {v['upper_confidence']:.3f}]"}
                    for name, v in estimated.items()
                ]
            ),
            hide_index=True,
        )  # fmt: skip
    for reason in result.get("alert_reasons") or []:
        st.warning(reason)


def _data_quality(api: VerityApi, monitor: MonitorRead | None) -> None:
    st.subheader("Data quality")
    series = _series(api, monitor, None)
    if monitor is None or not series or not series["points"]:
        st.info("No data-quality run yet.")
        return
    run = call("the latest data-quality run", lambda: api.run(series["points"][-1]["run_id"]))
    if not run or not run["result"]:
        return
    result: dict[str, Any] = run["result"]
    expected = result.get("expected_rows")
    st.markdown(
        f"**{status_badge(run['status'])}** · {result.get('rows', 0):,} rows"
        + (f" (about {expected:,.0f} expected)" if expected else "")
        + f" · {result.get('duplicate_share', 0):.1%} repeat another row's inputs · window "
        f"{when(run['window_start'])} → {when(run['window_end'])} UTC"
    )
    table = pd.DataFrame(
        [
            {
                "feature": f["name"],
                "kind": f["kind"],
                "missing": f"{f['missing_share']:.1%}",
                "missing (reference)": "–" if f["reference_missing_share"] is None
                else f"{f['reference_missing_share']:.1%}",
                "outside range": "–" if f.get("out_of_range_share") is None
                else f"{f['out_of_range_share']:.1%}",
                "unseen categories": "–" if f.get("unseen_share") is None
                else f"{f['unseen_share']:.1%}",
                "distinct": f["unique"],
                "issues": "; ".join(f["issues"]),
            }
            for f in result.get("features", [])
        ]
    )  # fmt: skip
    paged(table, "data-quality")
    for reason in result.get("alert_reasons") or []:
        st.warning(reason)
