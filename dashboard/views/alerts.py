"""List and filter alerts; acknowledge with a comment and resolve (role-gated)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.api import ApiError, VerityApi
from dashboard.schemas import WhoAmI
from dashboard.ui import call, can, paged, when


def render(api: VerityApi, me: WhoAmI) -> None:
    st.header("Alerts")
    left, mid, right = st.columns(3)
    state = left.selectbox("State", ["open", "acknowledged", "resolved", "any"], key="alerts-state")
    severity = mid.selectbox(
        "Severity", ["any", "critical", "warning", "info"], key="alerts-severity"
    )
    models = call("models", api.models) or []
    model = right.selectbox("Model", ["any", *[m["name"] for m in models]], key="alerts-model")
    found = call(
        "alerts",
        lambda: api.alerts(
            state=None if state == "any" else state,
            severity=None if severity == "any" else severity,
            model=None if model == "any" else model,
            limit=500,
        ),
    )
    if found is None:
        return
    items = found["items"]
    table = pd.DataFrame(
        [
            {
                "id": a["id"],
                "severity": a["severity"],
                "state": a["state"],
                "model": f"{a['model']} {a['version']}",
                "check": a["monitor"],
                "cause": a["cause"],
                "message": a["message"],
                "opened (UTC)": when(a["opened_at"]),
                "runs": a["run_count"],
                "acknowledged by": a["acknowledged_by"] or "",
                "comment": a["acknowledge_comment"] or a["resolve_comment"] or "",
            }
            for a in items
        ]
    )
    paged(table, "alerts-table")
    if found.get("next_cursor"):
        st.caption("More than 500 alerts match: narrow the filters.")
    if not items:
        return
    st.subheader("Handle an alert")
    if not can(me, "alerts:manage"):
        st.info("Acknowledging and resolving needs a compliance or admin key.")
        return
    options = {f"#{a['id']} {a['severity']} · {a['cause']} · {a['state']}": a for a in items}
    alert = options[st.selectbox("Alert", list(options), key="alerts-pick")]
    with st.form("alert-action", clear_on_submit=True):
        comment = st.text_area("Comment (kept in the audit trail)", key="alerts-comment")
        ack, resolve = st.columns(2)
        acknowledged = ack.form_submit_button(
            "Acknowledge", disabled=alert["state"] != "open", width="stretch"
        )
        resolved = resolve.form_submit_button(
            "Resolve", disabled=alert["state"] == "resolved", width="stretch"
        )
    if acknowledged or resolved:
        action = "acknowledge" if acknowledged else "resolve"
        if not comment.strip():
            st.error("Say why in the comment: it is what an auditor will read.")
            return
        try:
            api.alert_action(alert["id"], action, comment.strip())
        except ApiError as exc:
            st.error(f"Could not {action} alert {alert['id']}: {exc}")
            return
        st.success(f"Alert {alert['id']} {action}d.")
        st.rerun()
