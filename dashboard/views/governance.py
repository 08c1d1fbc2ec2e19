"""Release governance: each version's stage (champion and challenger during a
canary), its latest gate evaluation with each condition and the run it read, and the
transitions. Compliance approves or rejects; an admin proposes, promotes and rolls
back; each control shows only where the key's role allows it."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.api import ApiError, VerityApi
from dashboard.schemas import WhoAmI
from dashboard.ui import call, can, paged, when


def render(api: VerityApi, me: WhoAmI) -> None:
    st.header("Governance")
    models = call("models", api.models) or []
    if not models:
        st.info("No model is registered yet.")
        return
    model = st.selectbox("Model", [m["name"] for m in models], key="governance-model")
    lifecycle = call("the lifecycle", lambda: api.lifecycle(model))
    if lifecycle is None:
        return
    st.subheader("Versions")
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "version": v["version"],
                    "stage": v["stage"],
                    "role": v["role"] or "",
                    "traffic share": "" if v["traffic_share"] is None
                    else f"{v['traffic_share']:.0%}",
                }
                for v in lifecycle["versions"]
            ]
        ),
        hide_index=True,
    )  # fmt: skip
    names = [v["version"] for v in lifecycle["versions"]]
    if not names:
        return
    stages = {v["version"]: v["stage"] for v in lifecycle["versions"]}
    version = st.selectbox("Version", names, index=len(names) - 1, key="governance-version")
    st.subheader(f"Release gate of {version}")
    try:
        evaluation = api.latest_gate(model, version)
    except ApiError as exc:
        st.error(f"Could not read the gate: {exc}")
        evaluation = None
    if evaluation is None:
        st.info("Not evaluated yet.")
    else:
        verdict = "passed" if evaluation["passed"] else "FAILED"
        st.markdown(
            f"**{verdict}** · evaluation #{evaluation['id']} under policy revision "
            f"{evaluation['policy_revision']} · {when(evaluation['evaluated_at'])} UTC by "
            f"{evaluation['evaluated_by']}"
        )
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "condition": c["condition"],
                        "passed": "yes" if c["passed"] else "NO",
                        "observed": c["observed"],
                        "threshold": c["threshold"],
                        "run": f"#{c['run_id']}" if c["run_id"] else "",
                        "why": c["why"],
                    }
                    for c in evaluation["conditions"]
                ]
            ),
            hide_index=True,
        )
    if can(me, "governance:read") and st.button("Evaluate the gate now", key="governance-eval"):
        try:
            api.evaluate_gate(model, version)
        except ApiError as exc:
            st.error(f"Could not evaluate: {exc}")
        else:
            st.rerun()
    _serving(api, me, model, version)
    _comparison(api, model, version)
    _actions(api, me, model, version, stages[version])
    st.subheader("Transitions")
    paged(
        pd.DataFrame(
            [
                {
                    "at (UTC)": when(t["created_at"]),
                    "version": t["version"],
                    "from": t["from_stage"],
                    "to": t["to_stage"],
                    "person": t["person"],
                    "key": t["actor"],
                    "reason": t["reason"],
                    "rollout": t["rollout_mode"] or "",
                    "rollback": "yes" if t["rollback"] else "",
                }
                for t in reversed(lifecycle["transitions"])
            ]
        ),
        "governance-transitions",
    )


def _serving(api: VerityApi, me: WhoAmI, model: str, version: str) -> None:
    """The kill switch: the version's serving state, and stop/trip/restore for the
    roles that may use them."""
    try:
        state = api.serving_state(model, version)
    except ApiError as exc:
        st.caption(f"Serving state unavailable: {exc}")
        return
    st.subheader(f"Serving: {state['state']}")
    if state.get("reason"):
        st.caption(f"{state['reason']} · by {state.get('changed_by')} "
                   f"{when(state.get('changed_at'))} UTC")  # fmt: skip
    if not can(me, "serving:control"):
        return
    with st.form("serving-control", clear_on_submit=True):
        target = st.selectbox("Set to", ["stopped", "tripped", "active"], key="serving-target")
        person = st.text_input("Your name", key="serving-person")
        reason = st.text_input("Reason (kept in the audit trail)", key="serving-reason")
        submitted = st.form_submit_button("Apply")
    if submitted:
        if not person.strip() or not reason.strip():
            st.error("Give your name and the reason.")
            return
        try:
            api.set_serving_state(model, version, target, person.strip(), reason.strip())
        except ApiError as exc:
            st.error(f"Refused: {exc}")
            return
        st.rerun()


def _comparison(api: VerityApi, model: str, version: str) -> None:
    monitors = [
        m for m in (call("monitors", lambda: api.monitors(model, version)) or [])
        if m["kind"] == "comparison"
    ]  # fmt: skip
    if not monitors:
        return
    monitor = monitors[0]
    series = call("the comparison", lambda: api.series(monitor["id"], 1))
    if not series or not series["points"]:
        return
    run = call("the comparison run", lambda: api.run(series["points"][-1]["run_id"]))
    if not run or not run["result"]:
        return
    result = run["result"]
    interval = result.get("delta_interval") or {}
    st.subheader(f"Challenger {version} against champion {result['champion']}")
    st.markdown(
        f"{result['mode']} traffic · run #{run['id']} · window {when(run['window_start'])} → "
        f"{when(run['window_end'])} UTC · {result['labeled_rows']:,} labelled rows"
        + (f" · {result['paired_rows']:,} paired" if result.get("paired_rows") else "")
    )
    latency = result.get("latency") or {}
    rows = [
        {"figure": result["metric"], "champion": result["champion_value"],
         "challenger": result["challenger_value"], "delta": result["delta"],
         "interval": f"[{interval['low']:.4f}, {interval['high']:.4f}]" if interval else ""},
        {"figure": "latency p95 (ms)", "champion": latency.get("champion_latency_p95"),
         "challenger": latency.get("challenger_latency_p95"),
         "delta": latency.get("delta_latency_p95"), "interval": ""},
        {"figure": "agreement rate", "champion": None, "challenger": None,
         "delta": result.get("agreement_rate"), "interval": ""},
        {"figure": "output drift (JS distance)", "champion": None, "challenger": None,
         "delta": result.get("output_drift"), "interval": ""},
    ]  # fmt: skip
    for attribute, figures in (result.get("fairness") or {}).items():
        rows.append({"figure": f"demographic parity difference ({attribute})",
                     "champion": figures["champion_demographic_parity_difference"],
                     "challenger": figures["challenger_demographic_parity_difference"],
                     "delta": figures["delta"], "interval": ""})  # fmt: skip
    st.dataframe(pd.DataFrame(rows), hide_index=True)
    for reason in result.get("alert_reasons") or []:
        st.warning(reason)


def _actions(api: VerityApi, me: WhoAmI, model: str, version: str, stage: str) -> None:
    choices: list[str] = []
    if can(me, "governance:approve") and stage == "candidate":
        choices += ["approve", "reject"]
    proposals = {
        "registered": ["propose as candidate"],
        "approved": ["promote (replace)", "promote (canary 10%)"],
        "production": ["roll back the model"],
    }
    if can(me, "governance:propose"):
        choices += proposals.get(stage, [])
    if not choices:
        st.caption(
            f"{version} is {stage}: nothing this key may do to it now "
            "(approving needs compliance; proposing, promoting and rolling back need admin)."
        )
        return
    st.subheader("Decide")
    with st.form("governance-decide", clear_on_submit=True):
        action = st.selectbox("Action", choices, key="governance-action")
        person = st.text_input("Your name (the two-person rule checks it)", key="governance-person")
        reason = st.text_area("Reason (kept in the audit trail)", key="governance-reason")
        submitted = st.form_submit_button("Submit", type="primary")
    if not submitted:
        return
    if not person.strip() or not reason.strip():
        st.error("Give your name and the reason: they are what an auditor will read.")
        return
    body = {"person": person.strip(), "reason": reason.strip()}
    try:
        if action == "roll back the model":
            api.rollback(model, body["person"], body["reason"])
        else:
            to = {"approve": "approved", "reject": "rejected",
                  "propose as candidate": "candidate"}.get(action, "production")  # fmt: skip
            if action == "promote (canary 10%)":
                body["rollout"] = {"mode": "canary", "traffic_share": 0.1}  # type: ignore[assignment]
            api.transition(model, version, {"to": to, **body})
    except ApiError as exc:
        st.error(f"Refused: {exc}")
        return
    st.success(f"{action}: done.")
    st.rerun()
