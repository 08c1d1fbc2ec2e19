"""The review queue: one prediction at a time, its inputs beside the explanation of
its score; agree, or override with the right label and a reason. Keyboard-friendly:
the form's fields follow in tab order and Enter submits."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.api import ApiError, VerityApi
from dashboard.schemas import WhoAmI
from dashboard.ui import can


def render(api: VerityApi, me: WhoAmI) -> None:
    st.header("Review queue")
    if flash := st.session_state.pop("review-flash", None):
        st.success(flash)
    if not can(me, "review:decide"):
        st.info("Reviewing needs a reviewer, compliance or admin key.")
        return
    left, right = st.columns(2)
    model = left.text_input("Model", value=st.session_state.get("review-model-value", "loans"),
                            key="review-model")  # fmt: skip
    version = right.text_input("Version", value="v1", key="review-version")
    try:
        health = api.review_health(model, version)
    except ApiError as exc:
        st.error(f"Could not read the queue: {exc}")
        return
    a, b, c, d = st.columns(4)
    a.metric("Pending", health["pending"])
    b.metric("Claimed", health["claimed"])
    c.metric("SLA breaches", health["sla_breaches"])
    rate = health["override_rate"]
    d.metric("Override rate", "–" if rate is None else f"{rate:.0%}")
    item = st.session_state.get("review-item")
    if item is None or item.get("model") != model or item.get("version") != version:
        if st.button("Claim the next prediction", type="primary", key="review-claim"):
            try:
                item = api.claim_review(model, version)
            except ApiError as exc:
                st.error(f"Could not claim: {exc}")
                return
            if item is None:
                st.success("Nothing waits for review.")
                return
            st.session_state["review-item"] = item
        else:
            return
    st.subheader(f"Prediction {item['event_id']}")
    st.caption("Queued because: " + "; ".join(item["reasons"]) +
               f" · leased until {str(item['lease_expires_at'])[:16]} UTC")  # fmt: skip
    inputs, why = st.columns(2)
    score = "" if item["score"] is None else f" · score {item['score']:.3f}"
    inputs.markdown(f"**Prediction:** {item['prediction']}{score}")
    inputs.dataframe(pd.DataFrame({"feature": list(item["features"]),
                                   "value": [str(v) for v in item["features"].values()]}),
                     hide_index=True)  # fmt: skip
    try:
        explanation = api.review_explanation(item["id"])
        attributions = explanation.get("attributions") or {}
        why.markdown("**Why (SHAP)**")
        why.dataframe(pd.DataFrame({"feature": list(attributions),
                                    "attribution": list(attributions.values())}),
                      hide_index=True)  # fmt: skip
    except ApiError as exc:
        why.caption(f"No explanation: {exc.detail or exc}")
    with st.form("review-decide", clear_on_submit=True):
        decision = st.radio(
            "Decision", ["agree", "override"], horizontal=True, key="review-decision"
        )
        label = st.text_input("Right label (override only)", key="review-label")
        reason = st.text_input("Reason (kept in the audit trail)", key="review-reason")
        submitted = st.form_submit_button("Decide (Enter)", type="primary")
    if not submitted:
        return
    if not reason.strip():
        st.error("Say why: it is what an auditor will read.")
        return
    value: object = label.strip()
    if decision == "override":
        if not label.strip():
            st.error("An override gives the right label.")
            return
        value = int(label) if label.strip().lstrip("-").isdigit() else label.strip()
    try:
        body = {
            "decision": decision,
            "reason": reason.strip(),
            "label": value if decision == "override" else None,
        }
        api.decide_review(item["id"], body)
    except ApiError as exc:
        st.error(f"Refused: {exc}")
        return
    del st.session_state["review-item"]
    # Shown after the rerun that clears the form.
    st.session_state["review-flash"] = f"{decision}: stored as the label of {item['event_id']}."
    st.rerun()
