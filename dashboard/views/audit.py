"""Searchable audit events, chain verification, and one check run's lineage."""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from dashboard.api import VerityApi
from dashboard.schemas import WhoAmI
from dashboard.ui import call, can, paged, status_badge


def render(api: VerityApi, me: WhoAmI) -> None:
    st.header("Audit trail")
    if not can(me, "audit:read"):
        st.warning("The audit trail needs a compliance or admin key.")
        return
    left, right = st.columns([3, 1])
    with right:
        st.write("")
        if st.button("Verify the chain", width="stretch", key="audit-verify"):
            result = call("the chain verification", api.verify)
            if result is not None:
                st.session_state["audit-verified"] = result
    verified = st.session_state.get("audit-verified")
    if verified is not None:
        if verified["ok"]:
            left.success(
                f"Chain intact: {verified['events']} events, head {verified['head_hash'][:16]}…"
            )
        else:
            left.error(f"Chain BROKEN at seq {verified['first_bad_seq']}: {verified['reason']}")
    a, b, c = st.columns(3)
    action = a.text_input("Action", placeholder="check_run.record", key="audit-action")
    actor = b.text_input("Actor", key="audit-actor")
    subject = c.text_input("Subject", key="audit-subject")
    found = call(
        "audit events",
        lambda: api.audit(
            action=action.strip(),
            actor=actor.strip(),
            subject=subject.strip(),
            order="desc",
            limit=1000,
        ),
    )
    if found is not None:
        events = found["items"]
        table = pd.DataFrame(
            [
                {
                    "seq": e["seq"],
                    "when (UTC)": e["occurred_at"][:19].replace("T", " "),
                    "actor": e["actor"],
                    "action": e["action"],
                    "subject": e["subject"],
                    "hash": e["hash"][:16] + "…",
                    "payload": json.dumps(e["payload"])[:200] if e["payload"] else "(removed)",
                }
                for e in events
            ]
        )
        paged(table, "audit-events")
        if found.get("next_cursor"):
            st.caption("Showing the newest 1,000 matches: narrow the search for older ones.")
    st.subheader("Lineage of a check run")
    run_id = st.number_input("Check run id", min_value=0, value=0, step=1, key="audit-run")
    if run_id:
        run = call("the check run", lambda: api.run(int(run_id)))
        if run:
            st.markdown(
                f"**{status_badge(run['status'])}** · {run['detector_kind']} detector "
                f"v{run['detector_version']} · trigger {run['trigger']}"
            )
            lineage = {
                "window": f"{run['window_start']} → {run['window_end']}",
                "rows (in window / used / labeled)": (
                    f"{run['rows_in_window']} / {run['rows']} / {run['labeled_rows']}"
                ),
                "window SHA-256": run["window_sha256"],
                "reference": run["reference_source"],
                "reference SHA-256": run["reference_sha256"] or "–",
                "sampling": json.dumps(run["sampling"]) if run["sampling"] else "none",
                "artifact SHA-256": run["artifact_sha256"] or "–",
                "device": run["device"],
                "duration": f"{run['duration_s']:.3f} s",
                "record SHA-256": run["record_sha256"],
            }
            st.table(pd.DataFrame(lineage.items(), columns=["field", "value"]))
            st.markdown("**Detector params**")
            st.json(run["params"], expanded=False)
            st.markdown("**Library versions**")
            st.json(run["library_versions"], expanded=False)
